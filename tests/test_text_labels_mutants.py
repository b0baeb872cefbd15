"""The class-name checks of a text classification run (rnnkit/tasks/text_labels.py) unit by
unit: the whole message of each error and warning, its bounds (how many lines and names are
shown) and the line each warning names (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import csv
import linecache
import warnings
from types import SimpleNamespace

import pytest

from rnnkit.tasks import TASKS, sentiment
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.text_labels import (
    _shown,
    repeated_texts_warning,
    spelling,
    unseen_labels_error,
)


def _cfg(**files):
    return SimpleNamespace(**{"data": None, "train_data": None, "val_data": None,
                              "test_data": None, **files})


def _reader(rows):
    return lambda path: (rows, "")


# -- spelling and the names shown ------------------------------------------------------------
def test_a_number_is_spelt_by_its_value_and_other_labels_by_their_case_free_text():
    assert spelling("4") == spelling("4.0") == spelling("+4") == repr(4.0)
    assert spelling(" Positive ") == "positive"
    # infinities and NaN are not values to compare: their text is
    assert spelling("Infinity") == "infinity" != spelling("inf") == "inf"
    assert spelling("NaN") == "nan"


def test_twenty_class_names_are_shown_and_more_are_cut():
    names = [f"c{i}" for i in range(21)]
    assert _shown(names[:20]) == str(names[:20])
    assert _shown(names) == f"{names[:20]} ... (21 in all)"
    assert _shown(names[:3], limit=2) == "['c0', 'c1'] ... (3 in all)"


# -- unseen labels ---------------------------------------------------------------------------
def test_an_unseen_label_lists_five_of_its_lines_then_how_many():
    rows = [("t", "z", n) for n in (3, 5, 7, 9, 11)] + [("t", "w", n) for n in range(2, 14, 2)]
    error = unseen_labels_error(_cfg(train_data="tr.csv", test_data="te.csv"), "test",
                                ["w", "z"], ["a", "b"], _reader(rows + [("t", "a", 1)]))
    assert str(error) == (
        "te.csv:2: the test part has label(s) ['w', 'z'] that no training text has ('w': line "
        "2, 4, 6, 8, 10 ... (6); 'z': line 3, 5, 7, 9, 11); the training part's classes are "
        "['a', 'b']: give training texts of every class, or leave these rows out of the test "
        "part")


def test_unseen_labels_the_file_no_longer_has_are_named_without_lines():
    error = unseen_labels_error(_cfg(data="all.csv"), "val", ["z"], ["a", "b"],
                                _reader([("t", "a", 2)]))
    assert str(error) == (
        "all.csv: the val part has label(s) ['z'] that no training text has; the training "
        "part's classes are ['a', 'b']: the split put every text of the class(es) outside the "
        "training part: give more texts of them, or try another task.split_seed")


def test_respelled_labels_get_their_advice_and_the_others_theirs():
    rows = [("t", "Positive", 4), ("t", "z", 6)]
    cfg = _cfg(train_data="tr.csv", test_data="te.csv")
    error = unseen_labels_error(cfg, "test", ["Positive"], ["negative", "positive"],
                                _reader(rows))
    assert str(error) == (
        "te.csv:4: the test part has label(s) ['Positive'] that no training text has "
        "('Positive': line 4); the training part's classes are ['negative', 'positive']: "
        "'Positive' is the training class 'positive' written differently: write each label "
        "as the training file does")
    error = unseen_labels_error(cfg, "test", ["Positive", "z"], ["negative", "positive"],
                                _reader(rows))
    assert str(error).endswith(
        "'Positive' is the training class 'positive' written differently: write each label "
        "as the training file does; give training texts of every class, or leave these rows "
        "out of the test part")


# -- repeated texts --------------------------------------------------------------------------
def _repeats_message(train, test):
    with pytest.warns(UserWarning) as caught:
        repeated_texts_warning({"train": [(t, "a") for t in train],
                                "test": [(t, "a") for t in test]})
    assert len(caught) == 1
    return str(caught[0].message)


def test_a_repeated_test_text_is_shown_up_to_60_characters():
    tail = ("): the test figures overstate how the model does on new text; leave the repeats "
            "out of the test part")
    head = "training texts (the same words, ignoring case and spaces; first: "
    text = "w" * 60
    assert _repeats_message([text], [text, "new"]) == (
        f"1 of the 2 test texts are also {head}{text!r}{tail}")
    long, other = "x" * 61, "y" * 70
    assert _repeats_message([long, other], [long, other]) == (
        f"2 of the 2 test texts are also {head}{'x' * 57 + '...'!r}{tail}")


def test_repeats_ignore_case_runs_of_spaces_and_unicode_composition():
    message = _repeats_message(["Caf\u00e9  au lait"], ["cafe\u0301 AU\tlait", "other"])
    assert message.startswith("1 of the 2 test texts are also training texts")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repeated_texts_warning({"train": [("a b", "x")], "test": [("ab", "x")]})


# -- where the warnings point ----------------------------------------------------------------
def _parts_ctx(tmp_path, train, test):
    paths = {}
    for name, rows in (("train", train), ("test", test)):
        paths[f"{name}_data"] = str(tmp_path / f"{name}.csv")
        with open(paths[f"{name}_data"], "w", newline="") as f:
            csv.writer(f).writerows([("text", "label"), *rows])
    return TASKS["sentiment"].setup(config_from_raw({"task": {"name": "sentiment", **paths}},
                                                    "t"))


def _points_at(warning, function, call: str, read: str) -> None:
    """stacklevel 4 through the context's cached property: the line that read the property
    (``read``); under mutmut, whose trampoline adds two frames, sentiment.py's ``call``."""
    if function.__code__.co_filename.endswith("trampoline.py"):
        assert warning.filename == sentiment.__file__
        assert call in linecache.getline(warning.filename, warning.lineno)
    else:
        assert warning.filename == __file__
        assert linecache.getline(__file__, warning.lineno).strip() == read


def test_the_warnings_point_at_the_line_that_read_the_context(tmp_path):
    ctx = _parts_ctx(tmp_path, [("a b", "x"), ("c", "X"), ("d", "y")] * 2, [("a b", "x")])
    with pytest.warns(UserWarning) as caught:
        _ = ctx.rows
    _points_at(caught[0], sentiment.repeated_texts_warning, "repeated_texts_warning(rows)",
               "_ = ctx.rows")
    with pytest.warns(UserWarning) as caught:
        _ = ctx.labels
    assert "labels written differently are different classes" in str(caught[0].message)
    _points_at(caught[0], sentiment.respelled_classes_warning, "respelled_classes_warning(",
               "_ = ctx.labels")


def test_a_label_list_is_bracketed_text_python_reads_as_a_list():
    from rnnkit.tasks.text_labels import is_label_list
    assert is_label_list("[3, 27]") and is_label_list("['a', 'b']")
    for label in ("[3, 27] # tags", "[a", "a]", "[x y]", "(1, 2)", "[1] + [2", "sport"):
        assert not is_label_list(label), label
