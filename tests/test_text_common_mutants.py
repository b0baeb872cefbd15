"""What the text tasks share (``rnnkit/tasks/text_common.py``), function by function: padded
id tensors, saved tokenizers, user text from lists, files and stdin with defined results
for empty, long, non-UTF-8 and not-text input (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

import io
import sys
from types import SimpleNamespace

import pytest
import torch

from rnnkit.data.tokenizers import CharTokenizer
from rnnkit.tasks import TaskError
from rnnkit.tasks.text_common import (
    TextLine,
    as_lines,
    clip_tokens,
    model_keys_except,
    pad_ids,
    read_lines,
    saved_tokenizer,
)


def test_pad_ids_pads_to_the_longest_and_counts_empty_lists_as_one():
    ids, lengths = pad_ids([[1, 2, 3], [], [4]])
    assert ids.dtype == torch.long and lengths.dtype == torch.long
    assert ids.tolist() == [[1, 2, 3], [0, 0, 0], [4, 0, 0]]
    assert lengths.tolist() == [3, 1, 1]
    ids, lengths = pad_ids([[], []], pad=7)
    assert ids.tolist() == [[7], [7]] and lengths.tolist() == [1, 1]
    ids, lengths = pad_ids([[5, 6], [8]], pad=9)
    assert ids.tolist() == [[5, 6], [8, 9]] and lengths.tolist() == [2, 1]
    ids, lengths = pad_ids([])
    assert ids.shape == (0, 1) and ids.dtype == torch.long and lengths.tolist() == []


def test_model_keys_except_drops_the_fixed_keys_and_var_keywords():
    keys = model_keys_except("SequenceClassifier", {"vocab_size", "num_classes"})
    assert {"hidden_size", "cell", "pooling"} <= keys
    assert not {"vocab_size", "num_classes", "self"} & keys
    assert "hidden_size" not in model_keys_except("SequenceClassifier", {"hidden_size"})
    assert model_keys_except("ClassifierEnsemble", set()) == {"members", "seed"}  # **config
    assert model_keys_except("ClassifierEnsemble", {"seed"}) == {"members"}


def test_saved_tokenizer_rebuilds_it_or_says_to_retrain():
    tok = CharTokenizer.fit(["abc", "cab"])
    info = {"tokenizer": tok.to_dict(), "target_tokenizer": {"kind": "char", "tokens": ["x"]}}
    back = saved_tokenizer(info)
    assert isinstance(back, CharTokenizer) and back.to_dict() == tok.to_dict()
    assert saved_tokenizer(info, "target_tokenizer").to_dict()["tokens"] == ["x"]
    with pytest.raises(TaskError) as err:
        saved_tokenizer({}, "source_tokenizer")
    assert str(err.value) == ("the checkpoint's model.json holds no 'source_tokenizer'; "
                              "retrain the run with this version of rnnkit")


def test_as_lines_takes_texts_and_lines_and_replaces_lone_surrogates():
    assert as_lines("a film") == [TextLine("a film")]
    line = TextLine("kept", "a problem", "a reference")
    assert as_lines(line) == [line]
    assert as_lines(["x", line, ""]) == [TextLine("x"), line, TextLine("")]
    (bad,) = as_lines(["a\ud800b\udfffc"])
    assert bad.text == "a\ufffdb\ufffdc"
    assert bad.problem == "2 lone surrogate(s) (not text) replaced by U+FFFD"
    assert as_lines(("é", "\U0001f600")) == [TextLine("é"), TextLine("\U0001f600")]
    with pytest.raises(TaskError) as err:
        as_lines(["fine", 3])
    assert str(err.value) == "input 1: expected a text (str), got int"
    with pytest.raises(TaskError, match="input 0: expected a text \\(str\\), got bytes"):
        as_lines([b"raw"])


def test_read_lines_splits_on_newlines_only_and_names_bad_bytes(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"one\r\ntwo\x0bstill two\n\nbad \xff byte\nlast\r")
    lines = read_lines(str(path))
    assert [line.text for line in lines] == ["one", "two\x0bstill two", "", "bad \ufffd byte",
                                             "last"]
    assert [line.problem for line in lines[:3] + lines[4:]] == ["", "", "", ""]
    assert lines[3].problem == ("line 4: not valid UTF-8 (byte 0xff at offset 4); invalid "
                                "bytes read as U+FFFD")
    path.write_bytes(b"a\nb\n")  # one final newline ends the last line, no empty line after
    assert [line.text for line in read_lines(str(path))] == ["a", "b"]
    path.write_bytes(b"a\n\n")
    assert [line.text for line in read_lines(str(path))] == ["a", ""]
    path.write_bytes(b"")
    assert read_lines(str(path)) == []
    path.write_bytes("ça\n".encode())
    assert read_lines(str(path)) == [TextLine("ça")]
    path.write_bytes(b"ends in X\nspaces and a tab \t\r\r\n\rstarts with CR")
    assert [line.text for line in read_lines(str(path))] == [  # only trailing CRs go
        "ends in X", "spaces and a tab \t", "\rstarts with CR"]


def test_read_lines_reads_stdin_for_a_dash(monkeypatch):
    fake = SimpleNamespace(buffer=io.BytesIO(b"from\nstdin\n"))
    monkeypatch.setattr(sys, "stdin", fake)
    assert read_lines("-") == [TextLine("from"), TextLine("stdin")]


def test_read_lines_of_a_missing_file_or_a_folder_is_a_task_error(tmp_path):
    with pytest.raises(TaskError) as err:
        read_lines(str(tmp_path / "none.txt"))
    assert str(err.value) == f"{tmp_path / 'none.txt'}: cannot read: No such file or directory"
    with pytest.raises(TaskError, match=f"^{tmp_path}: cannot read: Is a directory$"):
        read_lines(str(tmp_path))


def test_clip_tokens_keeps_at_most_the_limit_and_says_whether_it_cut():
    assert clip_tokens([1, 2, 3], 3) == ([1, 2, 3], False)
    assert clip_tokens([1, 2, 3, 4], 3) == ([1, 2, 3], True)
    assert clip_tokens([], 1) == ([], False)
