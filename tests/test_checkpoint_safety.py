"""A checkpoint is read as untrusted input (issue 19, items 8 and 9).

Whatever is in a checkpoint folder, :func:`load_checkpoint` + :func:`build_model` give a model
or a :class:`CheckpointError`, never another exception, never a file outside the folder, and
never an allocation the config did not earn. A crash between the two renames of a save leaves
a checkpoint that every reader finds, and the next save removes what crashes left behind.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from _tiny import TinyTagger
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnkit.models  # noqa: F401 - fills the model registry
from rnnkit.models import MODELS
from rnnkit.training import checkpoint as ck
from rnnkit.training.checkpoint import (
    FILES,
    CheckpointError,
    build_model,
    checkpoint_exists,
    load_checkpoint,
    save_checkpoint,
)

FUZZ = settings(max_examples=50, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _save(path: Path, **config) -> Path:
    torch.manual_seed(0)
    model = TinyTagger(**config)
    info = {"model_class": "TinyTagger", "model_config": model.get_config(), "step": 3}
    return save_checkpoint(path, model, info, {"rng.torch": torch.get_rng_state()}, {"a": 1})


def _reseal(path: Path) -> None:
    """Make manifest.json agree with the files as they are now (so only its checks of the
    contents are left to catch what is wrong)."""
    manifest = {f.name: {"bytes": f.stat().st_size,
                         "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}
                for f in path.iterdir() if f.name != "manifest.json"}
    (path / "manifest.json").write_text(json.dumps(manifest))


def _edit_info(path: Path, **changes) -> None:
    info = json.loads((path / "model.json").read_text())
    info.update(changes)
    (path / "model.json").write_text(json.dumps(info))
    _reseal(path)


def _load_and_build(path: Path):
    """What a reader does; the only exception allowed out is CheckpointError."""
    return build_model(load_checkpoint(path))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# -- item 8: model config ------------------------------------------------------------------

def test_a_huge_model_is_refused_before_anything_is_allocated(tmp_path, monkeypatch):
    path = _save(tmp_path / "ck")
    _edit_info(path, model_config={"input_size": 2, "hidden_size": 10**6})  # ~3e12 weights
    built = []
    monkeypatch.setattr(TinyTagger, "__init__", _recording(TinyTagger.__init__, built))
    with pytest.raises(CheckpointError, match=r"TinyTagger of 3,0[\d,]+ parameters, more than"):
        _load_and_build(path)
    assert built == ["meta"]  # counted on the meta device, never built for real


def _recording(init, devices):
    @functools.wraps(init)
    def wrapped(self, *args, **kwargs):
        devices.append(torch.empty(0).device.type)
        init(self, *args, **kwargs)
    return wrapped


@pytest.mark.parametrize("config, key", [
    ({"input_size": 2, "hidden_size": -3}, "hidden_size"),
    ({"input_size": 2, "hidden_size": 0}, "hidden_size"),
    ({"input_size": 2, "hidden_size": "5"}, "hidden_size"),
    ({"input_size": 2, "hidden_size": 2.5}, "hidden_size"),
    ({"input_size": 2, "hidden_size": True}, "hidden_size"),
    ({"input_size": None, "hidden_size": 4}, "input_size"),
    ({"input_size": [2], "hidden_size": 4}, "input_size"),
    ({"input_size": 2, "hidden_size": 4, "colour": "red"}, "colour"),
    ("hidden_size=4", "model_config"),
])
def test_a_bad_model_config_names_the_key(tmp_path, config, key):
    path = _save(tmp_path / "ck")
    _edit_info(path, model_config=config)
    with pytest.raises(CheckpointError, match=rf"{path}.*{key}"):
        _load_and_build(path)


def test_config_checks_follow_each_models_signature():
    from rnnkit.models.base import ModelConfigError

    MODELS["SequenceTagger"].check_config({"num_tags": 3, "input_size": 2, "embedding_dim": None})
    MODELS["Forecaster"].check_config({"horizon": 2, "quantiles": [0.1, 0.9]})  # from default
    MODELS["ImageCaptioner"].check_config({"vocab_size": 9, "channels": [4, 8]})
    MODELS["ForecastEnsemble"].check_config({"members": 2, "seed": -1, "horizon": 3})
    for cls, config, key in [
            ("SequenceTagger", {"input_size": 2}, "num_tags"),  # required
            ("Forecaster", {"horizon": 2, "quantiles": ["a"]}, "quantiles"),
            ("Forecaster", {"horizon": 2, "dropout": float("nan")}, "dropout"),
            ("ImageCaptioner", {"vocab_size": 9, "channels": [4, 0]}, "channels"),
            ("ImageCaptioner", {"vocab_size": 9, "encoder": {"module": 1}}, "encoder"),
            ("SequenceTagger", {"num_tags": 3, "blank": -1}, "blank")]:
        with pytest.raises(ModelConfigError, match=key) as e:
            MODELS[cls].check_config(config)
        assert e.value.key == key


def test_a_constructor_error_becomes_a_checkpoint_error_naming_the_key(tmp_path):
    path = _save(tmp_path / "ck")
    torch.manual_seed(0)
    model = MODELS["SequenceTagger"](num_tags=3, input_size=2, hidden_size=4)
    info = {"model_class": "SequenceTagger",
            "model_config": {**model.get_config(), "cell": "no-such-cell"}}
    save_checkpoint(path, model, info)
    with pytest.raises(CheckpointError, match=rf"{path}.*'cell'"):
        _load_and_build(path)


def test_a_good_checkpoint_still_loads(tmp_path):
    path = _save(tmp_path / "ck", input_size=3, hidden_size=7)
    model = _load_and_build(path)
    assert isinstance(model, TinyTagger) and model.hidden_size == 7


# -- item 8: manifest ----------------------------------------------------------------------

@pytest.mark.parametrize("manifest", ["{}", "[]", "null", '{"model.json": 3}'])
def test_a_manifest_that_checks_nothing_is_refused(tmp_path, manifest):
    path = _save(tmp_path / "ck")
    (path / "manifest.json").write_text(manifest)
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


@pytest.mark.parametrize("entry", ["../secret", "../../../etc/hostname", "ABSOLUTE", "sub/x",
                                   "..", ""])
def test_a_manifest_entry_is_never_followed_outside_the_checkpoint(tmp_path, entry):
    path = _save(tmp_path / "ck")
    secret = tmp_path / "secret"
    secret.write_text("not yours")
    entry = str(secret) if entry == "ABSOLUTE" else entry
    manifest = json.loads((path / "manifest.json").read_text())
    manifest[entry] = {"bytes": secret.stat().st_size,
                       "sha256": hashlib.sha256(secret.read_bytes()).hexdigest()}
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="not a file name inside the checkpoint"):
        load_checkpoint(path)


def test_a_file_managers_hidden_leftovers_do_not_spoil_a_checkpoint(tmp_path):
    path = _save(tmp_path / "ck")
    want = load_checkpoint(path)
    (path / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # Finder, on opening the folder
    (path / "._model.json").write_bytes(b"\0\5\26\7")  # a macOS copy's resource fork
    got = load_checkpoint(path)
    assert got.info == want.info and got.state == want.state
    assert set(got.weights) == set(want.weights)
    assert all(torch.equal(got.weights[k], want.weights[k]) for k in want.weights)
    (path / "notes.txt").write_text("hello")  # a visible stray file is still refused
    with pytest.raises(CheckpointError, match="notes.txt, which its manifest does not list"):
        load_checkpoint(path)


def test_the_manifest_must_list_exactly_the_folders_files(tmp_path):
    path = _save(tmp_path / "ck")
    (path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="notes.txt, which its manifest does not list"):
        load_checkpoint(path)
    (path / "notes.txt").unlink()
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["state.json"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="does not list state.json"):
        load_checkpoint(path)


def test_a_link_inside_the_checkpoint_is_not_followed(tmp_path):
    path = _save(tmp_path / "ck")
    outside = tmp_path / "model.json"
    shutil.move(path / "model.json", outside)
    (path / "model.json").symlink_to(outside)
    with pytest.raises(CheckpointError, match="model.json is not a plain file"):
        load_checkpoint(path)


# -- item 9: a crash between the two renames, and leftovers ------------------------------

def test_a_crash_between_the_renames_leaves_a_checkpoint_every_reader_finds(tmp_path):
    last = _save(tmp_path / "last")
    pid = _dead_pid()
    last.rename(tmp_path / f".old-last-{pid}")  # the first rename of a swap happened ...
    _save(tmp_path / f".tmp-last-{pid}")  # ... the second did not
    assert not last.exists() and checkpoint_exists(last)
    assert load_checkpoint(last).info["step"] == 3
    assert not checkpoint_exists(tmp_path / "best")
    assert not checkpoint_exists(tmp_path / "missing" / "last")


def test_the_next_save_removes_what_crashed_saves_left(tmp_path):
    pid = _dead_pid()
    _save(tmp_path / "last")
    _save(tmp_path / "best")
    (tmp_path / "last").rename(tmp_path / f".old-last-{pid}")  # crash between the renames
    _save(tmp_path / f".tmp-last-{pid}")
    partial = tmp_path / f".tmp-best-{pid}"  # crash while writing
    partial.mkdir()
    (partial / "model.json").write_text("{")
    foreign = [tmp_path / f".old-notes-{pid}", tmp_path / ".tmp-scratch", tmp_path / ".tmp-x-5"]
    foreign[0].mkdir()
    (foreign[0] / "notes.txt").write_text("mine")  # not a checkpoint's file
    foreign[1].mkdir()
    foreign[2].write_text("a file, not a folder")

    _save(tmp_path / "best")
    names = {p.name for p in tmp_path.iterdir()}
    assert f".tmp-best-{pid}" not in names and f".tmp-last-{pid}" not in names
    assert f".old-last-{pid}" in names  # last is not back yet: it is the copy to read
    assert load_checkpoint(tmp_path / "last").info["step"] == 3

    _save(tmp_path / "last")
    assert {p.name for p in tmp_path.iterdir()} == {"last", "best", *(p.name for p in foreign)}


def test_the_temporary_folder_of_a_live_process_is_kept(tmp_path):
    _save(tmp_path / "last")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as p:
        try:
            busy = _save(tmp_path / f".tmp-last-{p.pid}")
            _save(tmp_path / "last")
            assert busy.is_dir()
        finally:
            p.kill()


def test_checkpoints_hold_no_pickle(tmp_path):
    path = _save(tmp_path / "ck")
    assert sorted(f.name for f in path.iterdir()) == sorted([*FILES, "manifest.json"])
    for name in ("model.safetensors", "state.safetensors"):
        assert not (path / name).read_bytes().startswith(b"\x80")  # pickle's protocol opcode


# -- property-based: damaged checkpoints --------------------------------------------------

@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """One good checkpoint, copied for each example to damage."""
    return _save(tmp_path_factory.mktemp("pristine") / "ck")


def _copy(pristine: Path, root: str) -> Path:
    return Path(shutil.copytree(pristine, Path(root) / "ck"))


def _outcome(path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ck, "MAX_PARAMETERS", 200_000)  # fuzzed configs build only small models
        try:
            assert isinstance(_load_and_build(path), torch.nn.Module)
        except CheckpointError:
            pass


_ALL_FILES = sorted([*FILES, "manifest.json"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**12) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=4),
    max_leaves=8)


@FUZZ
@given(name=st.sampled_from(_ALL_FILES),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1,
                      max_size=4),
       reseal=st.booleans())
def test_fuzz_byte_flips(pristine, name, flips, reseal):
    with tempfile.TemporaryDirectory() as root:
        path = _copy(pristine, root)
        data = bytearray((path / name).read_bytes())
        for at, xor in flips:
            data[at % len(data)] ^= xor
        (path / name).write_bytes(bytes(data))
        if reseal and name != "manifest.json":
            _reseal(path)  # the manifest agrees: the contents themselves must be checked
        _outcome(path)


@FUZZ
@given(name=st.sampled_from(_ALL_FILES), keep=st.floats(0, 1), reseal=st.booleans())
def test_fuzz_truncation(pristine, name, keep, reseal):
    with tempfile.TemporaryDirectory() as root:
        path = _copy(pristine, root)
        data = (path / name).read_bytes()
        (path / name).write_bytes(data[: int(len(data) * keep)])
        if reseal and name != "manifest.json":
            _reseal(path)
        _outcome(path)


_VALID = {  # a small valid config per model class, for the fuzzer to perturb
    "TinyTagger": {"input_size": 2, "hidden_size": 5},
    "Seq2Seq": {"src_vocab_size": 9, "tgt_vocab_size": 8, "hidden_size": 8},
    "ConditionalGenerator": {"condition_size": 4, "vocab_size": 9, "hidden_size": 8},
    "ImageCaptioner": {"vocab_size": 9, "channels": [4], "feature_size": 8, "hidden_size": 8},
    "SequenceClassifier": {"num_classes": 3, "vocab_size": 9, "hidden_size": 8},
    "ClassifierEnsemble": {"members": 2, "num_classes": 3, "vocab_size": 9, "hidden_size": 8},
    "SequenceRegressor": {"input_size": 3, "hidden_size": 8},
    "Forecaster": {"horizon": 3, "hidden_size": 8, "output": "quantile"},
    "ForecastEnsemble": {"members": 2, "horizon": 3, "hidden_size": 8},
    "FeedForward": {"input_size": 3, "output_size": 2},
    "LanguageModel": {"vocab_size": 9, "hidden_size": 8},
    "PianoRollLM": {"num_units": 8, "hidden_size": 8},
    "SequenceTagger": {"num_tags": 3, "input_size": 2, "hidden_size": 8},
}
_NEAR_VALID = (st.integers(-2, 12) | st.sampled_from(["lstm", "gru", "none", "x", "cnn"])
               | st.floats(-1, 2) | st.booleans() | st.none() | st.lists(st.integers(-1, 9)))


@st.composite
def model_infos(draw):
    """model.json with a known class and a few keys of a valid config changed (or dropped,
    or added), or a random class and config."""
    if draw(st.integers(0, 4)) == 0:
        return {"model_class": draw(st.text(max_size=6) | json_values),
                "model_config": draw(json_values)}
    name = draw(st.sampled_from(sorted(_VALID)))
    config = dict(_VALID[name])
    keys = [*inspect.signature(MODELS[name]).parameters, "bogus"]
    for key in draw(st.lists(st.sampled_from(keys), max_size=3)):
        if draw(st.integers(0, 5)) == 0:
            config.pop(key, None)
        else:
            config[key] = draw(_NEAR_VALID | json_values)
    return {"model_class": name, "model_config": config}


@FUZZ
@given(info=model_infos())
def test_fuzz_model_json_values(pristine, info):
    with tempfile.TemporaryDirectory() as root:
        path = _copy(pristine, root)
        _edit_info(path, **info)
        _outcome(path)


@FUZZ
@given(doc=json_values)
def test_fuzz_model_json_documents(pristine, doc):
    with tempfile.TemporaryDirectory() as root:
        path = _copy(pristine, root)
        (path / "model.json").write_text(json.dumps(doc))
        _reseal(path)
        _outcome(path)


_ENTRY_NAMES = st.sampled_from([*_ALL_FILES, "../ck/model.json", "/etc/hostname", "",
                                "..", ".", "sub/model.json"]) | st.text(max_size=12)


@st.composite
def manifests(draw, path: Path):
    """A manifest of true, wrong or random entries under true, wrong or random names."""
    true = json.loads((path / "manifest.json").read_text())
    names = draw(st.lists(_ENTRY_NAMES, max_size=7))
    entries = {}
    for name in names:
        entries[name] = draw(st.sampled_from([true.get(name, true["model.json"]), None])
                             | json_values
                             | st.fixed_dictionaries({"bytes": st.integers(-1, 10**5),
                                                      "sha256": st.text(max_size=64)}))
    return draw(st.sampled_from([entries, true, {**true, **entries}]) | json_values)


@FUZZ
@given(data=st.data())
def test_fuzz_manifests(pristine, data):
    with tempfile.TemporaryDirectory() as root:
        path = _copy(pristine, root)
        (path / "manifest.json").write_text(json.dumps(data.draw(manifests(path))))
        _outcome(path)


def test_a_config_error_quotes_the_first_line_and_the_one_key_it_names(tmp_path):
    ckpt = ck.Checkpoint(tmp_path, {"model_class": "SequenceTagger"}, {})
    cfg = {"hidden_size": "x" * 200, "num_tags": 3}
    head = f"checkpoint {tmp_path}: model.json: "
    msg = str(ck._config_error(ckpt, cfg, ValueError("hidden_size is bad\nsecond line")))
    assert msg == (f"{head}model_config['hidden_size'] = {repr('x' * 200)[:80]} does not "
                   "build a SequenceTagger: hidden_size is bad")
    msg = str(ck._config_error(ckpt, cfg, KeyError()))  # no text: the exception's type
    assert msg == f"{head}model_config does not build a SequenceTagger: KeyError"
    msg = str(ck._config_error(ckpt, cfg, ValueError("num_tags and hidden_size disagree")))
    assert msg.startswith(f"{head}model_config does not build")  # two keys: none singled out


def test_alive_probes_with_signal_0(monkeypatch):
    sent = []
    monkeypatch.setattr(ck.os, "kill", lambda pid, sig: sent.append((pid, sig)))
    assert ck._alive(12345) and sent == [(12345, 0)]  # signal 0: nothing is delivered
    for error, alive in ((PermissionError, True), (ProcessLookupError, False),
                         (OverflowError, False)):
        def kill(pid, sig, error=error):
            raise error()
        monkeypatch.setattr(ck.os, "kill", kill)
        assert ck._alive(7) is alive
