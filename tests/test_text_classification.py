"""Text classification on a user's own tables (issue 17, item 1): CSV / TSV / JSON-lines with
any label strings and any number of classes, one file split by split_seed or separate
files, paths relative to the config file, data fingerprints, and clear errors."""

import json
import os
import random
import warnings

import pytest

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.datasets import DataError
from rnnkit.data.tables import read_table
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.datafiles import DataChangedWarning, split_items
from rnnkit.tasks.runner import config_from_raw, load_config

WORDS = {"sport": ["goal", "match", "team", "score"], "food": ["bread", "cheese", "soup"],
         "tech": ["chip", "code", "laptop", "server"]}


def _rows(n=90, seed=0):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = list(WORDS)[i % 3]
        words = [rng.choice(WORDS[label]) for _ in range(rng.randint(2, 6))] + ["the"]
        rng.shuffle(words)
        out.append((" ".join(words), label))
    return out


def _write_csv(path, rows, text="text", label="label", sep=","):
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter=sep)
        w.writerow([text, label])
        w.writerows(rows)


CONFIG = """
name = "topics"
[task]
name = "sentiment"
data = "news.csv"
text_column = "body"
label_column = "topic"
[model]
cell = "gru"
hidden_size = 16
embedding_dim = 8
[train]
steps = 40
batch_size = 16
eval_every = 20
lr = 1e-2
progress = "off"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("topics")
    (root / "cfg").mkdir()
    _write_csv(root / "cfg" / "news.csv", _rows(), "body", "topic")
    (root / "cfg" / "topics.toml").write_text(CONFIG)
    here = os.getcwd()
    os.chdir(root)  # the config sits in cfg/; the data path is relative to it
    try:
        assert main(["train", "cfg/topics.toml", "--run-dir", str(root / "run")]) == 0
    finally:
        os.chdir(here)
    return root


def test_relative_paths_follow_the_config_file_and_are_recorded_with_their_sha256(run):
    import hashlib

    cfg = load_config(run / "run" / "config.toml")
    assert cfg.task.data == str(run / "cfg" / "news.csv")
    files = json.loads((run / "run" / "data.json").read_text())["files"]
    digest = hashlib.sha256((run / "cfg" / "news.csv").read_bytes()).hexdigest()
    assert [{k: f[k] for k in ("key", "path", "sha256")} for f in files] == [
        {"key": "task.data", "path": str(run / "cfg" / "news.csv"), "sha256": digest}]


def test_three_classes_any_label_strings_load_equals_cli(run, capsys):
    p = rnnkit.load(run / "run")
    assert p.info["labels"] == ["food", "sport", "tech"]
    assert p.model.get_config()["num_classes"] == 3
    texts = ["goal team match", "cheese soup bread", "laptop code"]
    capsys.readouterr()
    args = ["predict", str(run / "run")] + sum((["--text", t] for t in texts), [])
    assert main(args) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == p.predict(texts)
    for rec in printed:
        assert set(rec["probabilities"]) == {"food", "sport", "tech"}
        assert sum(rec["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert rec["label"] == max(rec["probabilities"], key=rec["probabilities"].get)
        assert rec["probability"] == rec["probabilities"][rec["label"]]
    # a table as --input: its text column (the run's task.text_column)
    _write_csv(run / "new.csv", [(t, "?") for t in texts], "body", "topic")
    assert p.predict_file(run / "new.csv") == printed


def test_evaluate_warns_when_the_data_file_changed(run, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataChangedWarning)
        assert main(["evaluate", str(run / "run"), "--json"]) == 0
    capsys.readouterr()
    path = run / "cfg" / "news.csv"
    original = path.read_text()
    try:
        path.write_text(original.replace("goal", "gaol", 1))
        with pytest.warns(DataChangedWarning, match="changed since training"):
            assert main(["evaluate", str(run / "run"), "--json"]) == 0
    finally:
        path.write_text(original)


def test_separate_files_in_tsv_and_jsonl_read_to_exactly_the_rows(tmp_path):
    rows = _rows(30)
    _write_csv(tmp_path / "train.tsv", rows[:20], sep="\t")
    with open(tmp_path / "test.jsonl", "w") as f:
        for text, label in rows[20:]:
            f.write(json.dumps({"text": text, "label": label, "extra": 1}) + "\n")
        f.write("\n")  # a blank line: skipped and reported
    cfg = config_from_raw({"task": {"name": "sentiment", "train_data": str(tmp_path / "train.tsv"),
                                    "test_data": str(tmp_path / "test.jsonl"),
                                    "val_fraction": 0.2}}, "t")
    ctx = TASKS["sentiment"].setup(cfg)
    with pytest.warns(UserWarning, match="skipped 1 blank line"):
        parts = ctx.rows
    assert parts["test"] == rows[20:]
    assert sorted(parts["train"] + parts["val"]) == sorted(rows[:20])
    assert len(parts["val"]) == 4 and not set(parts["val"]) & set(parts["train"])


def test_split_is_seeded_disjoint_and_complete():
    items = list(range(50))
    a = split_items(items, 3, 0.2)
    assert a == split_items(items, 3, 0.2) and a != split_items(items, 4, 0.2)
    assert len(a[1]) == 10 and sorted(a[0] + a[1]) == items


@pytest.mark.parametrize("content, message", [
    ("body,label\nhello,x\n", "no column 'text'"),
    ("text,label\nhello,\n", ":2: empty 'label'"),
    ("text,label\nhello,a,b\n", ":2: 3 fields, the header has 2"),
    ("", "empty, or the first line"),
    ("text,label\n", "no data rows"),
])
def test_malformed_tables_name_the_file_line_and_column(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    cfg = config_from_raw({"task": {"name": "sentiment", "data": str(path)}}, "t")
    with pytest.raises(TaskError, match=message) as e:
        _ = TASKS["sentiment"].setup(cfg).rows
    assert str(path) in str(e.value)


def test_non_utf8_and_unknown_formats(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"text,label\ncaf\xe9,x\n")
    with pytest.raises(DataError, match="a.csv:2: not valid UTF-8"):
        read_table(tmp_path / "a.csv", ["text"])
    (tmp_path / "a.xlsx").write_bytes(b"")
    with pytest.raises(DataError, match="unknown table format"):
        read_table(tmp_path / "a.xlsx", ["text"])


def test_a_label_only_the_test_part_has_is_an_error(tmp_path):
    _write_csv(tmp_path / "train.csv", [("a b", "x"), ("c d", "y")] * 10)
    _write_csv(tmp_path / "test.csv", [("a b", "x"), ("e f", "z")])
    cfg = config_from_raw({"task": {"name": "sentiment", "train_data": str(tmp_path / "train.csv"),
                                    "test_data": str(tmp_path / "test.csv")}}, "t")
    with pytest.raises(TaskError, match=r"test part has label\(s\) \['z'\]"):
        _ = TASKS["sentiment"].setup(cfg).labels


def test_config_errors_come_before_any_reading(tmp_path):
    from rnnkit.training import ConfigError

    with pytest.raises(ConfigError, match="no such file"):
        config_from_raw({"task": {"name": "sentiment", "data": str(tmp_path / "nope.csv")}}, "t")
    with pytest.raises(ConfigError, match="not both"):
        config_from_raw({"task": {"name": "sentiment", "data": str(tmp_path),
                                  "train_data": str(tmp_path), "test_data": str(tmp_path)}}, "t")


def test_a_run_whose_data_moved_still_loads_and_predicts(run, tmp_path):
    import shutil

    p = rnnkit.load(run / "run")
    before = p.predict(["goal team"])
    shutil.copytree(run / "run", tmp_path / "run")
    config = tmp_path / "run" / "config.toml"
    config.write_text(config.read_text().replace(str(run / "cfg" / "news.csv"),
                                                 str(tmp_path / "moved.csv")))
    assert rnnkit.load(tmp_path / "run").predict(["goal team"]) == before


@pytest.mark.skipif(not os.environ.get("RNNKIT_DATA"), reason="real data absent: set RNNKIT_DATA")
def test_rt_polarity_written_as_a_csv_splits_exactly_as_the_builtin_loader(tmp_path):
    import csv

    from rnnkit.data.text import load_rt_polarity

    with open(tmp_path / "rt.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for s in load_rt_polarity():
            w.writerow([s.text, ["negative", "positive"][s.label]])
    builtin = TASKS["sentiment"].setup(config_from_raw({"task": {"name": "sentiment"}}, "t"))
    own = TASKS["sentiment"].setup(config_from_raw(
        {"task": {"name": "sentiment", "data": str(tmp_path / "rt.csv")}}, "t"))
    assert own.rows == builtin.rows and own.labels == builtin.labels


def test_batched_prediction_equals_one_text_at_a_time(run):
    p = rnnkit.load(run / "run")
    texts = ["goal", "bread cheese soup the the", "", "chip code laptop server goal team",
             "match"] * 3
    together = p.predict(texts, explain=True)
    p.batch_size = 4  # several batches of sorted lengths
    assert p.predict(texts, explain=True) == together
    for text, rec in zip(texts, together):
        (alone,) = p.predict([text], explain=True)
        assert alone.keys() == rec.keys() and alone.get("label") == rec.get("label")
        if rec["probabilities"] is not None:
            assert list(alone["probabilities"].values()) == pytest.approx(
                list(rec["probabilities"].values()), abs=2e-6)
            assert alone["weights"] == pytest.approx(rec["weights"], abs=2e-6)
