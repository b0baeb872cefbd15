"""Evaluate and ``train --resume`` read a text run's vocabularies from its model.json, not
fitted again from its data: training files changed since (a new word, a new character at
the front of the vocabulary) leave the ids, and so the figures on the unchanged test part,
as they were; a run whose model.json lacks them (older versions) still fits them."""

import warnings

import numpy as np
import pytest
from _saved_runs import TRAIN, as_old_run, assert_same, evaluate_changed, model_json

from rnnkit.tasks import TASKS, evaluate_run, train_run
from rnnkit.tasks.runner import config_from_raw


def _raw(task: dict, **model) -> dict:
    return {"name": "t", "task": task, "train": dict(TRAIN), "diagnostics": {"every": 0},
            "model": {"cell": "gru", "hidden_size": 8, "embedding_dim": 8, **model}}


def _resume(raw: dict, run) -> None:
    """Two more steps of ``run`` (what the changed data warns about aside)."""
    raw["train"]["steps"] += 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        train_run(config_from_raw(raw, "t"), run, resume=True)


# -- translation -------------------------------------------------------------------------------
WORDS = {"cat": "chat", "dog": "chien", "bird": "oiseau", "fish": "poisson"}
SUBJECTS = {"I see": "je vois", "you see": "tu vois", "we see": "nous voyons"}


def _pairs() -> list[tuple[str, str]]:
    return [(f"{s} the {w}.", f"{t} le {f}.") for s, t in SUBJECTS.items()
            for w, f in WORDS.items()]


def _tsv(path, pairs):
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return path


@pytest.mark.parametrize("tokenizer", ["word", "subword"])
def test_translation_evaluates_and_resumes_with_the_tokenizers_it_saved(tmp_path, tokenizer):
    pairs = _pairs()
    train = _tsv(tmp_path / "train.tsv", pairs[:10])
    test = _tsv(tmp_path / "test.tsv", pairs[10:])
    task = {"name": "translation", "train_data": str(train), "test_data": str(test),
            "val_sources": 2, "tokenizer": tokenizer, "vocab_size": 300, "beam": 1,
            "max_tokens": 20}
    raw = _raw(task)
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    before = evaluate_run(tmp_path / "run")
    saved = model_json(tmp_path / "run")
    # new words (and characters) at the front of the training file: fitted again, the
    # vocabularies would differ (ids shift; words the run never saw)
    new = [("zebras zebras quietly sleep.", "zèbres zèbres dorment calmement.")] * 6
    _tsv(train, new + pairs[:10])
    refit = TASKS["translation"].setup(config_from_raw(raw, "t"))
    assert refit.source_tokenizer.to_dict() != saved["source_tokenizer"]
    assert refit.target_tokenizer.to_dict() != saved["target_tokenizer"]
    assert_same(evaluate_changed(tmp_path / "run"), before)
    _resume(raw, tmp_path / "run")  # the saved tokenizers, not ones fitted again
    last = model_json(tmp_path / "run", "last")
    for key in ("source_tokenizer", "target_tokenizer"):
        assert last[key] == saved[key]


def test_a_translation_run_without_saved_tokenizers_fits_them_as_before(tmp_path):
    pairs = _pairs()
    task = {"name": "translation", "train_data": str(_tsv(tmp_path / "train.tsv", pairs[:10])),
            "test_data": str(_tsv(tmp_path / "test.tsv", pairs[10:])), "val_sources": 2,
            "beam": 1}
    train_run(config_from_raw(_raw(task), "t"), tmp_path / "run")
    before = evaluate_run(tmp_path / "run")
    as_old_run(tmp_path / "run", "source_tokenizer", "target_tokenizer")
    assert_same(evaluate_run(tmp_path / "run"), before)


# -- charlm ------------------------------------------------------------------------------------
def test_charlm_evaluates_and_resumes_with_the_characters_it_saved(tmp_path):
    text = "the cat sat on the mat. " * 8
    for part in ("train", "val", "test"):
        (tmp_path / f"{part}.txt").write_text(text, encoding="utf-8")
    task = {"name": "charlm", "window": 8, "val_streams": 2,
            **{f"{p}_data": str(tmp_path / f"{p}.txt") for p in ("train", "val", "test")}}
    raw = _raw(task)
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    before = evaluate_run(tmp_path / "run")
    saved = model_json(tmp_path / "run")["tokenizer"]
    # "!" sorts before every letter: fitted again, each letter's id would shift by one
    (tmp_path / "train.txt").write_text("!" + text, encoding="utf-8")
    with pytest.warns(UserWarning, match=r"^the training text holds 1 of its 193 characters "
                      r"\(1 distinct: '!'\) that the run's saved vocabulary lacks"):
        assert_same(evaluate_changed(tmp_path / "run"), before)
    _resume(raw, tmp_path / "run")
    assert model_json(tmp_path / "run", "last")["tokenizer"] == saved
    (tmp_path / "train.txt").write_text(text, encoding="utf-8")
    before = evaluate_run(tmp_path / "run")
    as_old_run(tmp_path / "run", "tokenizer")  # an older run: fitted again, as before
    assert_same(evaluate_run(tmp_path / "run"), before)


# -- captioning --------------------------------------------------------------------------------
def _flickr(root, lines: list[str], n: int):
    from PIL import Image

    (root / "Images").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((16, 16, 3), 20 * i, np.uint8)).save(root / "Images" / f"{i}.png")
    (root / "captions.txt").write_text("\n".join(lines) + "\n")
    return str(root)


def test_captioning_evaluates_and_resumes_with_the_words_it_saved(tmp_path):
    lines = [f"{i}.png#{k}\ta dog {'runs' if k else 'sits'} here" for i in range(6)
             for k in range(2)]
    parts = {p: _flickr(tmp_path / p, lines, 6) for p in ("train", "val", "test")}
    task = {"name": "captioning", "image_size": 16, "captions_file": "captions.txt",
            **{f"{p}_data": path for p, path in parts.items()}}
    raw = _raw(task, channels=[4, 4, 4], feature_size=8)
    del raw["model"]["cell"]
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    before = evaluate_run(tmp_path / "run")
    saved = model_json(tmp_path / "run")["tokenizer"]
    # the most frequent word now: fitted again, it would come first and shift the others
    new = [f"0.png#{k}\tzebra zebra zebra zebra" for k in range(2, 6)]
    (tmp_path / "train" / "captions.txt").write_text("\n".join(new + lines) + "\n")
    refit = TASKS["captioning"].setup(config_from_raw(raw, "t"))
    assert refit.tokenizer.to_dict() != saved
    assert_same(evaluate_changed(tmp_path / "run"), before)
    _resume(raw, tmp_path / "run")
    assert model_json(tmp_path / "run", "last")["tokenizer"] == saved


# -- sentiment: the classes (its tokenizer: tests/test_sentiment_own_files.py) -----------------
def _csv(path, rows) -> str:
    path.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows))
    return str(path)


def test_sentiment_evaluates_and_resumes_with_the_classes_it_saved(tmp_path):
    words = ["good", "fine", "great", "bad", "poor", "awful"]
    rows = [(f"a {w} film {i}", "pos" if k < 3 else "neg") for i in range(3)
            for k, w in enumerate(words)]
    task = {"name": "sentiment", "val_fraction": 0.2,
            "train_data": _csv(tmp_path / "train.csv", rows[:12]),
            "test_data": _csv(tmp_path / "test.csv", rows[12:])}
    raw = _raw(task)
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    before = evaluate_run(tmp_path / "run")
    # a class sorted first: fitted again, "neg" and "pos" would be classes 1 and 2
    new = [("an odd film", "meh")] * 3
    _csv(tmp_path / "train.csv", new + rows[:12])
    _csv(tmp_path / "test.csv", rows[12:] + new[:1])
    with pytest.warns(UserWarning, match=r"^the test part has 1 text\(s\) of class\(es\) \['meh'\] "
                      "that the run was not trained on"):
        assert_same(evaluate_changed(tmp_path / "run"), before)
    _resume(raw, tmp_path / "run")
    assert model_json(tmp_path / "run", "last")["labels"] == ["neg", "pos"]
