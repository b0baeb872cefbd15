"""Task ``sentiment`` (rnnkit/tasks/sentiment.py): what its readers pass on, exactly — a
prediction table that does not read is a TaskError with the reader's own message, and the
note on skipped lines of a training table warns at the line that read the table; the
macro-F1 of a stand-in model's known predictions (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

import linecache

import pytest
import torch

import rnnkit.tasks.datafiles as datafiles
from rnnkit.data.datasets import DataError
from rnnkit.data.tables import read_table
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.sentiment import SentimentContext, SentimentPredictor

TASK = TASKS["sentiment"]


def _ctx(tmp_path, val="body,topic\nfun,pos\n", test="body,topic\ngood,pos\n"):
    parts = {"train": "body,topic\ngood fun,pos\nbad,neg\n", "val": val, "test": test}
    files = {}
    for part, text in parts.items():
        (tmp_path / f"{part}.csv").write_text(text)
        files[f"{part}_data"] = str(tmp_path / f"{part}.csv")
    raw = {"name": "s", "seed": 7,
           "task": {"name": "sentiment", **files, "text_column": "body", "label_column": "topic"},
           "model": {"cell": "gru", "hidden_size": 4, "embedding_dim": 4},
           "train": {"steps": 1, "batch_size": 2, "threads": 1, "progress": "off"},
           "diagnostics": {"every": 0}}
    return TASK.setup(config_from_raw(raw, "t"))


def test_a_prediction_table_that_does_not_read_is_a_task_error_with_the_readers_message(
        tmp_path):
    ctx = _ctx(tmp_path)
    p = SentimentPredictor(TASK, ctx, torch.nn.Linear(1, 2), {"tokenizer": ctx.tokenizer.to_dict(),
                                                              "labels": ctx.labels})
    path = tmp_path / "new.jsonl"
    path.write_text('{"body": "a"}\nnot json\n')
    with pytest.raises(DataError) as read:
        read_table(path, [])
    with pytest.raises(TaskError) as e:
        p.read_file(path)
    assert str(e.value) == str(read.value) == f"{path}:2: not valid JSON (Expecting value)"


def test_the_skipped_lines_note_warns_at_the_line_that_read_the_table(tmp_path):
    ctx = _ctx(tmp_path, val="body,topic\n\nfun,pos\n")
    with pytest.warns(UserWarning) as caught:
        assert ctx.rows["val"] == [("fun", "pos")]
    assert [str(w.message) for w in caught] == [f"{tmp_path / 'val.csv'}: skipped 1 blank "
                                                "line(s) (line 2)"]
    read = SentimentContext._read
    if read.__code__.co_filename.endswith("trampoline.py"):
        # under mutmut two trampoline frames stand between _read and load_splits: level 2
        # is the inner one's line, which calls _read itself (3 would be the outer one's)
        assert caught[0].filename == read.__code__.co_filename
        assert "func(*call_args" in linecache.getline(caught[0].filename, caught[0].lineno)
    else:  # load_splits' line that reads the validation file
        assert caught[0].filename == datafiles.__file__
        assert "read(Path(cfg.val_data))" in linecache.getline(caught[0].filename,
                                                               caught[0].lineno)


class FirstWord(torch.nn.Module):
    """Class 1 (pos) where a text's first id is ``good``, else class 0 (neg)."""

    def __init__(self, good: int):
        super().__init__()
        self.p, self.good = torch.nn.Parameter(torch.zeros(1)), good

    def predict_proba(self, x, lengths):
        return torch.nn.functional.one_hot((x[:, 0] == self.good).long(), 2).float()


def test_extra_metrics_is_the_macro_f1_of_the_predicted_classes(tmp_path):
    ctx = _ctx(tmp_path, test="body,topic\ngood,pos\nbad,neg\nbad good,pos\n")
    assert ctx.labels == ["neg", "pos"]
    model = FirstWord(ctx.tokenizer.vocab.encode(["good"])[0])
    # true pos, neg, pos; predicted pos, neg, neg: neg P 1/2 R 1, pos P 1 R 1/2: F1 2/3 each
    assert TASK.extra_metrics(ctx, model, "test") == {"macro_f1": pytest.approx(2 / 3)}
    # (validation: "fun" predicted neg, true pos: F1 0 for both classes seen)
    assert TASK.extra_metrics(ctx, model, "val") == {"macro_f1": 0.0}
