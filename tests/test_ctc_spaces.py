"""CTC transcripts are white-space normalised as the references are: a model that emits a
space twice, or at either end, said the reference's words all the same. They counted as
errors in cer/wer (references are normalised when the manifest is read; hypotheses were
not), and the predictor printed them."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import soundfile as sf

from rnnkit.tasks import TASKS, speech_ctc
from rnnkit.tasks.speech_ctc import SpeechCTCConfig, spell
from rnnkit.tasks.transcription import text_error_rates
from rnnkit.training.config import ModelConfig, RunConfig

needs_jiwer = pytest.mark.skipif(importlib.util.find_spec("jiwer") is None,
                                 reason="jiwer is not installed (pip install 'rnnkit[audio]')")
SPACED = [0, 1, 0, 0, 2, 0]  # " a  b " in the alphabet " ab"


@needs_jiwer
def test_a_hypothesis_with_double_spaces_scores_cer_0_against_its_reference():
    assert text_error_rates(["a b", "ab"], [" a  b ", "ab"]) == {"cer": 0.0, "wer": 0.0}
    assert text_error_rates(["a b"], ["a\u00a0\tb"]) == {"cer": 0.0, "wer": 0.0}
    assert text_error_rates(["a b"], ["A b"])["cer"] == pytest.approx(1 / 3)  # case kept
    assert text_error_rates(["a b c"], ["a  bc"]) == pytest.approx({"cer": 1 / 5, "wer": 2 / 3})


def test_spell_normalises_white_space_and_keeps_the_rest():
    assert spell(SPACED, " ab") == "a b"
    assert spell([1, 2, 2], [" ", "a", "B"]) == "aBB"
    assert spell([], " ab") == "" and spell([0, 0], " ab") == ""


@pytest.fixture
def run_parts(tmp_path, monkeypatch):
    """A context on a tiny manifest ("a b" twice) and a model whose decoding always says
    " a  b " (decode replaced)."""
    sf.write(tmp_path / "a.wav", 0.1 * np.sin(np.arange(4000) / 3), 8000)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(2 * (json.dumps({"audio_filepath": "a.wav", "text": "A b"}) + "\n"))
    cfg = RunConfig(name="t", task=SpeechCTCConfig(train_data=str(manifest),
                                                   val_data=str(manifest),
                                                   test_data=str(manifest)),
                    model=ModelConfig(cell="gru", hidden_size=4, bidirectional=True))
    task = TASKS["speech-ctc"]
    ctx = task.setup(cfg)
    monkeypatch.setattr(speech_ctc, "decode", lambda model, x, lengths, beam=0: [SPACED] * len(x))
    return task, ctx, task.build_model(ctx), tmp_path / "a.wav"


@needs_jiwer
@pytest.mark.filterwarnings("ignore:.*both in the training and the test part")
def test_evaluate_scores_the_normalised_transcripts(run_parts):
    task, ctx, model, _ = run_parts
    assert ctx.alphabet == " ab" and ctx.references("test") == ["a b", "a b"]
    assert ctx.transcripts(model, "test", 0) == ["a b", "a b"]
    figures = task.extra_metrics(ctx, model, "test")
    assert figures["cer"] == 0.0 and figures["wer"] == 0.0
    assert figures["cer_beam"] == 0.0 and figures["wer_beam"] == 0.0


@pytest.mark.filterwarnings("ignore:.*both in the training and the test part")
def test_the_predictor_gives_the_normalised_transcript(run_parts):
    task, ctx, model, wav = run_parts
    p = task.predictor(ctx, model, {"alphabet": list(ctx.alphabet)})
    assert p.predict([str(wav)]) == [{"file": str(wav), "text": "a b"}]
