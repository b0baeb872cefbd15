"""rnnkit/tasks/saved_labels.py on hand-made parts: the saved class list read back, items
of classes the run was not trained on left out with one warning a part that counts them
and names (at most ten of) their classes, at the line that asked for the parts."""

from __future__ import annotations

import warnings

import pytest

from rnnkit.tasks.saved_labels import known_classes, saved_labels


def test_saved_labels_are_strings_in_their_saved_order_or_none():
    assert saved_labels({"labels": [3, "b", "a"]}) == ["3", "b", "a"]
    assert saved_labels({"labels": []}) == []
    assert saved_labels({}) is None
    assert saved_labels({"labels": None}) is None


def _ask(parts, labels):
    """Stands for a task's data reader: the warning should name the line that called it."""
    return known_classes(parts, labels, lambda item: item[1], "texts")


def test_parts_of_known_classes_only_are_kept_whole_without_a_warning():
    parts = {"train": [("a", "x"), ("b", "y")], "test": [("c", "y")]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ask(parts, ["x", "y", "z"]) == parts


def test_items_of_new_classes_are_left_out_with_a_warning_naming_them():
    parts = {"train": [("a", "x"), ("b", "new"), ("c", "y"), ("d", "new"), ("e", "other")],
             "test": [("f", "y")]}
    with pytest.warns(UserWarning) as caught:
        out = _ask(parts, ["x", "y"])
    line = test_items_of_new_classes_are_left_out_with_a_warning_naming_them.__code__
    assert out == {"train": [("a", "x"), ("c", "y")], "test": [("f", "y")]}
    assert [str(w.message) for w in caught] == [
        "the train part has 3 texts of class(es) ['new', 'other'] that the run was not "
        "trained on (the data changed since?): left out, as the model has no output for them"]
    # stacklevel 3: the caller of the function that called known_classes (this test); under
    # mutmut two trampoline frames come in between, so level 3 is the trampoline's
    trampolined = known_classes.__code__.co_filename.endswith("trampoline.py")
    assert caught[0].filename == (known_classes.__code__.co_filename if trampolined
                                  else __file__)
    if not trampolined:
        assert line.co_firstlineno < caught[0].lineno < line.co_firstlineno + 6


@pytest.mark.parametrize("count, shown", [
    (10, "['c00', 'c01', 'c02', 'c03', 'c04', 'c05', 'c06', 'c07', 'c08', 'c09']"),
    (11, "['c00', 'c01', 'c02', 'c03', 'c04', 'c05', 'c06', 'c07', 'c08', 'c09'] ... "
         "(11 in all)"),
    (12, "['c00', 'c01', 'c02', 'c03', 'c04', 'c05', 'c06', 'c07', 'c08', 'c09'] ... "
         "(12 in all)")])
def test_at_most_ten_new_classes_are_named(count, shown):
    parts = {"val": [(str(i), f"c{i:02d}") for i in reversed(range(count))] + [("k", "k")]}
    with pytest.warns(UserWarning) as caught:
        assert _ask(parts, ["k"]) == {"val": [("k", "k")]}
    assert [str(w.message) for w in caught] == [
        f"the val part has {count} texts of class(es) {shown} that the run was not trained "
        "on (the data changed since?): left out, as the model has no output for them"]


def test_every_part_with_new_classes_warns_once():
    parts = {"train": [("a", "q")], "val": [("b", "x")], "test": [("c", "q"), ("d", "q")]}
    with pytest.warns(UserWarning) as caught:
        out = _ask(parts, ["x"])
    assert out == {"train": [], "val": [("b", "x")], "test": []}
    assert [str(w.message).split(" texts")[0] for w in caught] == [
        "the train part has 1", "the test part has 2"]
