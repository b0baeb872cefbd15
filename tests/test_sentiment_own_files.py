"""Text classification on files as users bring them: spreadsheet and corpus quirks in
tables (stray quotes), scripts written without spaces, labels that differ only in spelling,
imbalanced classes; each test failed on the code before its fix."""

from __future__ import annotations

import pytest

from rnnkit.data.datasets import DataError
from rnnkit.data.tables import read_table


def _write(tmp_path, name: str, content: str):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", newline="")
    return path


# -- quotes in tables ------------------------------------------------------------------------
def test_a_tsv_with_stray_quotes_reads_them_as_text_one_row_a_line(tmp_path):
    """GLUE/SST-style TSV: no quoting, quotes are part of the text. A quote that opened a
    value merged the next lines (tabs, newlines and all) into one text, silently."""
    path = _write(tmp_path, "q.tsv", 'sentence\tlabel\n"Best film ever\t1\nbad bad\t0\n'
                                     'he said "wow" twice\t1\n"Great" film\t0\n')
    table = read_table(path, ["sentence", "label"])
    assert table.rows == [{"sentence": '"Best film ever', "label": "1"},
                          {"sentence": "bad bad", "label": "0"},
                          {"sentence": 'he said "wow" twice', "label": "1"},
                          {"sentence": '"Great" film', "label": "0"}]
    assert table.lines == [2, 3, 4, 5]


def test_a_spreadsheet_tsv_keeps_its_quoted_values(tmp_path):
    path = _write(tmp_path, "s.tsv", 'text\tlabel\r\n"two\r\nlines"\tx\r\n"a ""quote"" '
                                     'and\ta tab"\ty\r\nplain\tz\r\n')
    table = read_table(path, ["text", "label"])
    assert [r["text"] for r in table.rows] == ["two\r\nlines", 'a "quote" and\ta tab', "plain"]
    assert table.lines == [3, 4, 5]


@pytest.mark.parametrize("content, end", [
    ('text,label\nok,1\n"Best film ever,1\nbad,0\nhe said "wow",1\nok then,0\n', 5),
    ('text,label\nok,1\n"Best film ever,1\nbad,0\nok then,0\n', 5),
])
def test_a_csv_quote_left_open_is_an_error_naming_the_line_it_opens(tmp_path, content, end):
    """The rows after a quote that is never closed properly were read as part of one text
    (with their commas and line breaks), or failed at the end of the file for a 'comma
    inside a value'."""
    path = _write(tmp_path, "q.csv", content)
    with pytest.raises(DataError) as e:
        read_table(path, ["text", "label"])
    assert str(e.value).startswith(f"{path}:3: a quote opens a value here and is not closed "
                                   f"properly before line {end}")
    assert '""' in str(e.value)


def test_a_csv_keeps_its_multi_line_quoted_values(tmp_path):
    path = _write(tmp_path, "m.csv", 'review,sentiment\n"Loved it, ""really"".<br />\n'
                                     'Second para",positive\n"x" y,negative\n')
    table = read_table(path, ["review"])
    assert [r["review"] for r in table.rows] == ['Loved it, "really".<br />\nSecond para',
                                                 "x y"]
    assert table.lines == [3, 4]


def test_a_quote_left_open_before_a_value_too_long_for_csv_names_its_line(tmp_path):
    import csv

    body = "x " * (csv.field_size_limit() // 2 + 1)
    path = _write(tmp_path, "q.csv", f'text,label\n"a stray quote,1\n{body},0\n' * 2)
    with pytest.raises(DataError, match=r"q.csv:2: a quote opens a value here"):
        read_table(path, ["text"])


# -- scripts written without spaces ----------------------------------------------------------
def test_the_word_tokenizer_can_split_unspaced_scripts_into_characters():
    from rnnkit.data.tokenizers import WordTokenizer

    split = WordTokenizer.split
    assert split("这部电影很好看！", split_unspaced=True) == ["这", "部", "电", "影", "很", "好",
                                                           "看", "！"]
    assert split("iPhone的屏幕不错", split_unspaced=True) == ["iphone", "的", "屏", "幕", "不",
                                                             "错"]
    assert split("映画はとても面白い", split_unspaced=True) == list("映画はとても面白い")
    assert split("นี้ดีมาก", split_unspaced=True) == ["นี้", "ดี", "ม", "า", "ก"]  # marks stay
    assert split("정말 좋아요 good", split_unspaced=True) == ["정말", "좋아요", "good"]  # spaced
    assert split("这部电影很好看") == ["这部电影很好看"]  # the default: as before


def test_split_unspaced_travels_with_the_tokenizer_and_old_ones_read_as_before():
    from rnnkit.data.tokenizers import WordTokenizer, tokenizer_from_dict

    tok = WordTokenizer.fit(["很好看", "不好看"], split_unspaced=True)
    assert tok.words("好看") == ["好", "看"] and 1 not in tok.encode("好看不")  # 1: <unk>
    again = tokenizer_from_dict(tok.to_dict())
    assert again.split_unspaced and again.encode("不很好") == tok.encode("不很好")
    old = {k: v for k, v in tok.to_dict().items() if k != "split_unspaced"}
    assert tokenizer_from_dict(old).words("好看") == ["好看"]


def _chinese_rows(n=60):
    good, bad = ["好看", "精彩", "喜欢"], ["无聊", "难看", "失望"]
    filler = ["这部", "电影", "真的", "非常", "演员", "剧情"]
    rows = []
    for i in range(n):
        words = [filler[i % 6], (good if i % 2 else bad)[i % 3], filler[(i + 2) % 6]]
        rows.append(("".join(words) + "。", "正面" if i % 2 else "负面"))
    return rows


def test_chinese_reviews_without_spaces_are_read_a_character_a_token(tmp_path):
    """Each run of Chinese characters between punctuation was one token, so a test review
    that is a new combination of known words was all <unk> (a classifier at chance)."""
    import csv

    from rnnkit.tasks import TASKS
    from rnnkit.tasks.runner import config_from_raw

    with open(tmp_path / "reviews.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *_chinese_rows()])
    cfg = config_from_raw({"task": {"name": "sentiment", "data": str(tmp_path / "reviews.csv")}},
                          "t")
    ctx = TASKS["sentiment"].setup(cfg)
    ids = ctx.tokenizer.encode("演员非常精彩。剧情真的好看")  # known words, a new review
    assert len(ids) == 13 and 1 not in ids


# -- imbalanced classes ----------------------------------------------------------------------
class _Majority(__import__("torch").nn.Module):
    """Always the first class (what a classifier collapses to on imbalanced data)."""

    def __init__(self, classes):
        super().__init__()
        import torch

        self.p, self.classes = torch.nn.Parameter(torch.zeros(1)), classes

    def predict_proba(self, x, lengths):
        import torch

        return torch.eye(self.classes)[torch.zeros(len(x), dtype=torch.long)]


def _imbalanced_ctx(tmp_path):
    import csv

    from rnnkit.tasks import TASKS
    from rnnkit.tasks.runner import config_from_raw

    parts = {"train": [("x y", "common")] * 18 + [("z", "rare")] * 2 + [("w", "odd|one")],
             "test": [("x", "common")] * 18 + [("z", "rare")] * 2}
    for name, rows in parts.items():
        with open(tmp_path / f"{name}.csv", "w", newline="") as f:
            csv.writer(f).writerows([("text", "label"), *rows])
    cfg = config_from_raw({"task": {"name": "sentiment", "train_data": str(tmp_path / "train.csv"),
                                    "val_data": str(tmp_path / "test.csv"),
                                    "test_data": str(tmp_path / "test.csv")}}, "t")
    return TASKS["sentiment"], TASKS["sentiment"].setup(cfg)


def test_evaluation_reports_macro_f1_which_a_majority_guess_cannot_fake(tmp_path):
    """90% accuracy from always guessing the common class: evaluate said only 'accuracy
    0.9'; macro-F1 (scikit-learn's f1_score(average='macro')) shows the rare class missed."""
    from sklearn.metrics import f1_score

    task, ctx = _imbalanced_ctx(tmp_path)
    figures = task.extra_metrics(ctx, _Majority(3), "test")
    true = [s.label for s in ctx.items["test"]]
    assert figures["macro_f1"] == pytest.approx(f1_score(true, [0] * 20, average="macro"))
    assert figures["macro_f1"] == pytest.approx((2 * 0.9 / 1.9 + 0) / 2)  # the odd class: absent


def test_the_report_gives_precision_recall_and_f1_per_class(tmp_path):
    task, ctx = _imbalanced_ctx(tmp_path)
    lines = task.report_sections(ctx, _Majority(3))
    at = lines.index("## Test figures per class (macro-F1 0.474)")
    assert lines[at + 1:at + 7] == [
        "", "| class | precision | recall | F1 | test texts |", "|---|---|---|---|---|",
        "| common | 0.900 | 1.000 | 0.947 | 18 |", "| odd\\|one | - | - | - | 0 |",
        "| rare | 0.000 | 0.000 | 0.000 | 2 |"]


def test_a_label_with_a_pipe_keeps_the_mistakes_table_whole(tmp_path):
    import torch

    class Odd(_Majority):
        def predict_proba(self, x, lengths):
            return torch.eye(self.classes)[torch.ones(len(x), dtype=torch.long)]

    task, ctx = _imbalanced_ctx(tmp_path)
    lines = task.report_sections(ctx, Odd(3))
    rows = lines[lines.index("## Misclassified test sentences (20 of 20)") + 4:]
    assert rows[0] == "| rare | odd\\|one (1.00) | z |" and len(rows) == 15


# -- labels ----------------------------------------------------------------------------------
def _parts_ctx(tmp_path, train, test, header=("text", "label"), **task):
    import csv

    from rnnkit.tasks import TASKS
    from rnnkit.tasks.runner import config_from_raw

    paths = {}
    for name, rows in (("train", train), ("test", test)):
        paths[f"{name}_data"] = str(tmp_path / f"{name}.csv")
        with open(paths[f"{name}_data"], "w", newline="") as f:
            csv.writer(f).writerows([header, *rows])
    cfg = config_from_raw({"task": {"name": "sentiment", **paths, **task}}, "t")
    return TASKS["sentiment"].setup(cfg)


def test_a_label_only_the_test_file_has_names_its_lines_and_the_training_classes(tmp_path):
    """The module's docstring promised the error names the line; it named neither the file
    nor the line, nor the classes training has."""
    from rnnkit.tasks import TaskError

    ctx = _parts_ctx(tmp_path, [("a b", "x"), ("c d", "y")] * 10,
                     [("a b", "x"), ("e f", "z"), ("g", "x"), ("h", "z"), ("i", "q")])
    with pytest.raises(TaskError) as e:
        _ = ctx.labels
    assert str(e.value) == (
        f"{tmp_path / 'test.csv'}:3: the test part has label(s) ['q', 'z'] that no training "
        "text has ('z': line 3, 5; 'q': line 6); the training part's classes are ['x', 'y']: "
        "give training texts of every class, or leave these rows out of the test part")


def test_a_label_written_differently_from_a_training_class_says_so(tmp_path):
    from rnnkit.tasks import TaskError

    ctx = _parts_ctx(tmp_path, [("a b", "4"), ("c d", "5"), ("e", "Positive")] * 10,
                     [("a b", "4.0"), ("e f", "positive")])
    with pytest.raises(TaskError) as e:
        _ = ctx.labels
    assert ("'4.0' is the training class '4' written differently; 'positive' is the training "
            "class 'Positive' written differently: write each label as the training file "
            "does") in str(e.value)


def test_a_class_the_split_left_out_of_training_says_to_try_another_split_seed(tmp_path):
    import csv

    from rnnkit.tasks import TASKS, TaskError
    from rnnkit.tasks.runner import config_from_raw

    rows = [("a b", "x"), ("c d", "y")] * 20 + [("lonely", "z")]
    with open(tmp_path / "all.csv", "w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *rows])
    for seed in range(50):  # a seed whose split puts the one 'z' outside training
        cfg = config_from_raw({"task": {"name": "sentiment", "data": str(tmp_path / "all.csv"),
                                        "split_seed": seed}}, "t")
        ctx = TASKS["sentiment"].setup(cfg)
        if all(label != "z" for _, label in ctx.rows["train"]):
            break
    with pytest.raises(TaskError) as e:
        _ = ctx.labels
    assert str(e.value).startswith(f"{tmp_path / 'all.csv'}:42: the ")
    assert str(e.value).endswith(
        "the split put every text of the class(es) outside the training part: give more "
        "texts of them, or try another task.split_seed")


def test_training_labels_that_differ_only_in_spelling_are_named_in_a_warning(tmp_path):
    """'Positive ' and 'positive' (a spreadsheet's hand-typed labels) were two classes of the
    classifier without a word."""
    ctx = _parts_ctx(tmp_path, [("good", "positive"), ("bad", "negative")] * 10
                     + [("fine", "Positive"), ("top", "Positive "), ("meh", "4"), ("ok", "4.0")],
                     [("great", "positive")], val_data=str(tmp_path / "test.csv"))
    with pytest.warns(UserWarning) as caught:
        assert ctx.labels == ["4", "4.0", "Positive", "negative", "positive"]
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'train.csv'}: labels written differently are different classes: '4' "
        "(1 text) and '4.0' (1 text); 'Positive' (2 texts) and 'positive' (10 texts); if each "
        "group is one class, write its labels alike"]


@pytest.mark.parametrize("name, content, line", [
    ("nan.csv", "text,label\ngood,pos\nbad,NaN\n", 3),  # pandas' astype(str), numpy's str()
    ("nan.jsonl", '{"text": "good", "label": 1}\n{"text": "bad", "label": NaN}\n', 2),
])
def test_a_nan_label_is_a_missing_label_not_a_class(tmp_path, name, content, line):
    """A label column holding NaN (a missing value as pandas or json.dumps writes it) made
    a class 'nan'/'NaN' of its own, while an empty label was an error."""
    from rnnkit.tasks import TASKS, TaskError
    from rnnkit.tasks.runner import config_from_raw

    path = _write(tmp_path, name, content)
    cfg = config_from_raw({"task": {"name": "sentiment", "data": str(path)}}, "t")
    with pytest.raises(TaskError) as e:
        _ = TASKS["sentiment"].setup(cfg).rows
    assert str(e.value) == (f"{path}:{line}: 'label' is NaN, a missing value: every text "
                            "needs a label (give its class, or leave the row out)")



@pytest.mark.parametrize("name,content,line,shown", [
    ("m.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": [3, 27]}\n', 2, "[3, 27]"),
    ("m.csv", "text,label\na,x\nb,x\nc,\"['sport', 'news']\"\n", 4, "['sport', 'news']"),
])
def test_a_list_of_labels_is_an_error_not_a_class(tmp_path, name, content, line, shown):
    """A multi-label row (a JSON list, or a list pandas wrote to a CSV) became one class per
    combination of labels, without a word."""
    from rnnkit.tasks import TASKS, TaskError
    from rnnkit.tasks.runner import config_from_raw

    path = _write(tmp_path, name, content)
    cfg = config_from_raw({"task": {"name": "sentiment", "data": str(path)}}, "t")
    with pytest.raises(TaskError) as e:
        _ = TASKS["sentiment"].setup(cfg).rows
    assert str(e.value) == (f"{path}:{line}: 'label' is a list {shown}: one text has one "
                            "class here (multi-label data: a row per label, or one label "
                            "naming the combination)")


def test_a_label_in_brackets_that_is_no_list_is_a_class():
    from rnnkit.tasks.text_labels import is_label_list

    assert is_label_list("[1]") and is_label_list("['a', 'b']") and is_label_list("[]")
    assert not any(is_label_list(s) for s in ("[positive", "[x]", "[1, 2", "(1, 2)", "1"))


# -- prediction files ------------------------------------------------------------------------
def test_a_prediction_table_without_the_runs_text_column_says_how_to_give_it(tmp_path):
    """The error said to set task.text_column, which a trained run's predict cannot do."""
    from rnnkit.tasks import TaskError
    from rnnkit.tasks.sentiment import SentimentPredictor

    ctx = _parts_ctx(tmp_path, [("a b", "x"), ("c d", "y")] * 5, [("a", "x")],
                     ("review", "label"), text_column="review")
    p = SentimentPredictor(ctx.task, ctx, _Majority(2), {"tokenizer": ctx.tokenizer.to_dict(),
                                                         "labels": ctx.labels})
    path = _write(tmp_path, "new.csv", "text,stars\nnice,5\n")
    with pytest.raises(TaskError) as e:
        p.read_file(str(path))
    assert str(e.value) == (
        f"{path}: no column 'review'; the columns are 'text', 'stars' (the run's "
        "task.text_column: name the texts' column 'review', or give the texts one a line in a "
        ".txt file)")


def test_a_prediction_table_row_without_a_text_names_its_line(tmp_path):
    from rnnkit.tasks import TaskError
    from rnnkit.tasks.sentiment import SentimentPredictor

    ctx = _parts_ctx(tmp_path, [("a b", "x"), ("c d", "y")] * 5, [("a", "x")])
    p = SentimentPredictor(ctx.task, ctx, _Majority(2), {"tokenizer": ctx.tokenizer.to_dict(),
                                                         "labels": ctx.labels})
    path = _write(tmp_path, "new.jsonl", '{"text": "a"}\n{"text": null}\n{"id": 3}\n')
    with pytest.raises(TaskError, match=r"new.jsonl:2: column 'text' is null on this row"):
        p.read_file(str(path))
    path = _write(tmp_path, "new.jsonl", '{"text": "a"}\n{"id": 3}\n')
    with pytest.raises(TaskError, match=r"new.jsonl:2: column 'text' is missing on this row"):
        p.read_file(str(path))
    assert [line.text for line in p.read_file(str(_write(tmp_path, "ok.jsonl",
                                                          '{"text": "a b"}\n')))] == ["a b"]


# -- duplicates ------------------------------------------------------------------------------
def test_test_texts_that_training_also_has_are_counted_in_a_warning(tmp_path):
    """Scraped reviews repeat (IMDB's 50,000 hold a few hundred twice): a test text that is
    also a training text is no test of new text, and nothing said so."""
    ctx = _parts_ctx(tmp_path, [(f"text {i}", "xy"[i % 2]) for i in range(20)],
                     [("text 3", "y"), ("TEXT  3 ", "y"), ("text 40", "x"), ("new", "x")],
                     val_data=str(tmp_path / "test.csv"))
    with pytest.warns(UserWarning) as caught:
        _ = ctx.rows
    assert [str(w.message) for w in caught] == [
        "2 of the 4 test texts are also training texts (the same words, ignoring case and "
        "spaces; first: 'text 3'): the test figures overstate how the model does on new text; "
        "leave the repeats out of the test part"]


def test_a_training_file_of_one_class_names_the_file_and_the_label_column(tmp_path):
    """The error named neither the file nor the column the classes were read from (a label
    column set to the wrong column, say a constant 'source', is the usual cause)."""
    from rnnkit.tasks import TaskError

    ctx = _parts_ctx(tmp_path, [("a b", "web"), ("c d", "web")] * 5, [("a", "web")],
                     ("text", "source"), label_column="source")
    with pytest.raises(TaskError) as e:
        _ = ctx.labels
    assert str(e.value) == (
        f"{tmp_path / 'train.csv'}: the training part has 1 class(es) (['web']); a classifier "
        "needs at least 2: is task.label_column = 'source' the column of the classes?")


# -- runs trained before a tokenizer change --------------------------------------------------
def test_evaluate_reads_texts_with_the_tokenizer_the_run_saved(tmp_path, monkeypatch):
    """evaluate fitted the tokenizer again by the current rules, so a run trained before a
    change to them (here: before split_unspaced, its model.json reads a clause a token) was
    scored on other ids than its model learnt; the run's saved tokenizer decides."""
    import csv

    import rnnkit
    from rnnkit.data.tokenizers import WordTokenizer
    from rnnkit.tasks import evaluate_run, sentiment, train_run
    from rnnkit.tasks.runner import config_from_raw

    with open(tmp_path / "zh.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *_chinese_rows(80)])
    raw = {"name": "zh", "task": {"name": "sentiment", "data": str(tmp_path / "zh.csv"),
                                  "test_fraction": 0.25},
           "model": {"cell": "gru", "hidden_size": 8, "embedding_dim": 8},
           "train": {"steps": 30, "batch_size": 8, "eval_every": 15, "lr": 1e-2,
                     "progress": "off", "threads": 1}, "diagnostics": {"every": 0}}
    with monkeypatch.context() as m:  # the tokenizer as it was fitted before the change
        m.setattr(sentiment.SentimentContext, "tokenizer", property(
            lambda self: WordTokenizer.fit([s.text for s in self.items["train"]])))
        train_run(config_from_raw(raw, "t"), tmp_path / "run")
    p = rnnkit.load(tmp_path / "run")
    assert "split_unspaced" not in p.info["tokenizer"]
    test = sentiment.SentimentTask().setup(config_from_raw(raw, "t")).rows["test"]
    records = p.predict([text for text, _ in test])
    right = sum(r["label"] == label for r, (_, label) in zip(records, test))
    assert evaluate_run(tmp_path / "run")["accuracy"] == pytest.approx(right / len(test))
    raw["train"]["steps"] = 40  # resumed: the saved tokenizer, not one fitted again
    train_run(config_from_raw(raw, "t"), tmp_path / "run", resume=True)
    assert rnnkit.load(tmp_path / "run", "last").info["tokenizer"] == p.info["tokenizer"]
