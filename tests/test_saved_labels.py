"""Evaluate and ``train --resume`` read what a run fitted on its data from its model.json
(speech-ctc's alphabet, a keyword run's labels, classify's classes and scaler), not fitted
again from data changed since (a new character, label or class at the front of the order,
other values): the figures on the unchanged test part stay as they were; examples of a
class the run was not trained on are left out with a warning; a run whose model.json lacks
the entry (older versions) still fits it."""

import json
import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf
from _saved_runs import TRAIN, as_old_run, assert_same, evaluate_changed, model_json

from rnnkit.tasks import TASKS, evaluate_run, train_run
from rnnkit.tasks.runner import config_from_raw


def _raw(task: dict) -> dict:
    return {"name": "t", "task": task, "train": dict(TRAIN), "diagnostics": {"every": 0},
            "model": {"cell": "gru", "hidden_size": 8}}


def _resume(raw: dict, run) -> None:
    """Two more steps of ``run`` (what the changed data warns about aside)."""
    raw["train"]["steps"] += 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        train_run(config_from_raw(raw, "t"), run, resume=True)


def _wav(path, seed: int, rate: int = 8000) -> str:
    rng = np.random.default_rng(seed)
    sf.write(path, 0.1 * np.sin(np.arange(rate // 4) * rng.uniform(0.05, 0.5)), rate)
    return path.name


# -- speech-ctc --------------------------------------------------------------------------------
def _manifest(path, lines: list[tuple[str, str]]) -> str:
    path.write_text("".join(json.dumps({"audio_filepath": a, "text": t}) + "\n"
                            for a, t in lines))
    return str(path)


def test_speech_ctc_evaluates_and_resumes_with_the_alphabet_it_saved(tmp_path):
    texts = ["ab ba", "abc", "cab", "bca", "a c b", "cc"]
    lines = {p: [(_wav(tmp_path / f"{p}{i}.wav", 10 * k + i), t) for i, t in enumerate(texts)]
             for k, p in enumerate(("train", "val", "test"))}
    task = {"name": "speech-ctc", "beam_size": 2,
            **{f"{p}_data": _manifest(tmp_path / f"{p}.jsonl", lines[p]) for p in lines}}
    raw = _raw(task)
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    before = evaluate_run(tmp_path / "run")
    assert model_json(tmp_path / "run")["alphabet"] == [" ", "a", "b", "c"]
    # "!" sorts before every letter: fitted again, each character's class would shift
    _manifest(tmp_path / "train.jsonl", [(lines["train"][0][0], "a!")] + lines["train"])
    assert_same(evaluate_changed(tmp_path / "run"), before)  # (reads the test part only)
    raw["train"]["steps"] += 2  # resumed: the saved alphabet; "!" is not in it, as said
    with pytest.warns(UserWarning, match=r"train: 1 character\(s\) in 1 text\(s\) that the "
                      r"run's saved alphabet lacks \('!' x1;"):
        train_run(config_from_raw(raw, "t"), tmp_path / "run", resume=True)
    assert model_json(tmp_path / "run", "last")["alphabet"] == [" ", "a", "b", "c"]
    _manifest(tmp_path / "train.jsonl", lines["train"])
    before = evaluate_run(tmp_path / "run")
    as_old_run(tmp_path / "run", "alphabet")  # an older run: fitted again, as before
    assert_same(evaluate_run(tmp_path / "run"), before)


# -- speech-digits on a keyword folder ---------------------------------------------------------
def _keywords(root, labels, n: int = 3) -> str:
    for k, label in enumerate(labels):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _wav(root / label / f"{label}{i}.wav", 7 * k + i, 16000)
    return str(root)


def test_keywords_evaluate_and_resume_with_the_labels_they_saved(tmp_path):
    task = {"name": "speech-digits", "val_fraction": 0.34,
            "train_data": _keywords(tmp_path / "train", ["no", "yes"]),
            "test_data": _keywords(tmp_path / "test", ["no", "yes"], 2)}
    raw = _raw(task)
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    before = evaluate_run(tmp_path / "run")
    # a label sorted first: fitted again, "no" and "yes" would be classes 1 and 2
    _keywords(tmp_path / "train", ["aah"])
    _keywords(tmp_path / "test", ["aah"], 2)
    with pytest.warns(UserWarning, match=r"^the test part has 2 recording\(s\) of class\(es\) "
                      r"\['aah'\] that the run was not trained on"):
        assert_same(evaluate_changed(tmp_path / "run"), before)
    _resume(raw, tmp_path / "run")
    assert model_json(tmp_path / "run", "last")["labels"] == ["no", "yes"]
    for part in ("train", "test"):
        shutil.rmtree(tmp_path / part / "aah")
    before = evaluate_run(tmp_path / "run")
    as_old_run(tmp_path / "run", "labels")  # an older run: fitted again, as before
    assert_same(evaluate_run(tmp_path / "run"), before)


# -- classify ----------------------------------------------------------------------------------
def _table(path, sequences: list[tuple[str, list[float]]], first: int = 0) -> str:
    """A long table of ``sequences`` (label, values), ids from s<first>."""
    rows = ["id,t,a,label"] + [f"s{first + i},{t},{v},{label}"
                               for i, (label, values) in enumerate(sequences)
                               for t, v in enumerate(values)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


@pytest.mark.parametrize("target", ["class", "value"])
def test_classify_evaluates_and_resumes_with_the_classes_and_scaler_it_saved(tmp_path, target):
    rng = np.random.default_rng(0)
    label = (lambda i: ("low", "high")[i % 2]) if target == "class" else (lambda i: str(i % 5))
    seqs = [(label(i), list(rng.normal(i % 2, 1, 5).round(3))) for i in range(16)]
    task = {"name": "classify", "target": target, "val_fraction": 0.25,
            "train_data": _table(tmp_path / "train.csv", seqs[:12]),
            "test_data": _table(tmp_path / "test.csv", seqs[12:], first=12)}
    raw = _raw(task)
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    before = evaluate_run(tmp_path / "run")
    saved = model_json(tmp_path / "run")
    # other values (and a class sorted first): fitted again, the scaler (and the classes)
    # would differ
    new = [("aa" if target == "class" else "40", [30.0] * 5)] * 3
    _table(tmp_path / "train.csv", seqs[:12] + new)
    refit = TASKS["classify"].setup(config_from_raw(raw, "t"))
    assert (refit.labels, refit.scaler) != (saved["labels"], saved["scaler"])
    if target == "class":  # a test sequence of the new class: left out, as warned
        _table(tmp_path / "test.csv", seqs[12:] + new[:1], first=12)
        with pytest.warns(UserWarning, match=r"^the test part has 1 sequence\(s\) of "
                          r"class\(es\) \['aa'\] that the run was not trained on"):
            assert_same(evaluate_changed(tmp_path / "run"), before)
    else:
        assert_same(evaluate_changed(tmp_path / "run"), before)
    _resume(raw, tmp_path / "run")
    last = model_json(tmp_path / "run", "last")
    assert (last["labels"], last["scaler"]) == (saved["labels"], saved["scaler"])
