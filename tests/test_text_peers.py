"""The text benchmark's machinery (benchmarks/quality_text.py, text_peers.py): the
transformer peer's beam search through rnnkit's decoder, the time-based peer schedule, and
the race that trains models side by side."""

import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
quality_text = pytest.importorskip("quality_text")
text_peers = pytest.importorskip("text_peers")


def _model():
    torch.manual_seed(0)
    return text_peers.TransformerMT(11, 13, pad_id=0, width=16, heads=2, ff=16, dropout=0.0,
                                    max_len=64).eval()


def test_transformer_beam_1_equals_greedy_decoding():
    model = _model()
    x = torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0]])
    lengths = torch.tensor([4, 2])
    beam = text_peers.transformer_translate(model, x, lengths, bos_id=2, eos_id=3, beam=1,
                                            length_penalty=0.0)
    with torch.no_grad():
        for b in range(2):
            keys, mask = model.encode(x[b:b + 1])
            prefix, out = torch.tensor([[2]]), []
            for _ in range(2 * int(lengths[b]) + 10):
                token = int(model.decode(prefix, keys, mask)[0, -1].argmax())
                if token == 3:
                    break
                out.append(token)
                prefix = torch.cat([prefix, torch.tensor([[token]])], 1)
            assert beam[b] == out


def test_transformer_ignores_source_padding():
    model = _model()
    short = model(torch.tensor([[4, 5]]), torch.tensor([[2, 6, 7]]))
    padded = model(torch.tensor([[4, 5, 0, 0]]), torch.tensor([[2, 6, 7]]))
    assert torch.allclose(short, padded, atol=1e-5)


def test_peer_schedule_runs_over_the_time_budget():
    assert text_peers.cosine_lr(0.0, 1000, 1.0, 10, 0.1) == pytest.approx(1.0)
    assert text_peers.cosine_lr(0.5, 1000, 1.0, 10, 0.1) == pytest.approx(0.55)
    assert text_peers.cosine_lr(1.0, 1000, 1.0, 10, 0.1) == pytest.approx(0.1)
    assert text_peers.cosine_lr(0.0, 0, 1.0, 10, 0.1) == pytest.approx(0.1)  # warm-up


def _sleeper(seconds, steps):
    def job(gate):
        gate.start()
        time.sleep(seconds)
        gate.end()
        return {"steps": steps}
    return job


def test_race_starts_together_and_returns_rows_in_order():
    def slow_to_build(gate):  # the others wait for it at the barrier
        time.sleep(1.0)
        return _sleeper(0.2, 2)(gate)
    rows, load = quality_text.race({"a": _sleeper(0.2, 1), "b": slow_to_build}, threads=1)
    assert [r["model"] for r in rows] == ["a", "b"] and [r["steps"] for r in rows] == [1, 2]
    assert {"load_start", "load_end"} <= set(rows[0]) and load["min"] <= load["max"]
    assert load["train_wall_min"] * 60 < 0.9  # both trained in the same 0.2 s window


def test_race_reports_a_failing_model():
    def broken(gate):
        raise ValueError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        quality_text.race({"a": _sleeper(0.1, 1), "b": broken}, threads=1)


def test_an_interrupted_run_is_not_scored(tmp_path):
    """A fold whose training a signal cut short (the pool killed) raises; a run trained to
    its end passes through."""
    from test_training import _adding_cfg

    from rnnkit.tasks import train_run
    from rnnkit.training import Callback

    class Stop(Callback):
        def on_step_end(self, trainer, record):
            if trainer.state.step == 2:
                trainer.stop("interrupted by SIGTERM")

    cfg = _adding_cfg()
    whole = train_run(cfg, tmp_path / "whole")
    assert quality_text.finished(whole) is whole
    cut = train_run(cfg, tmp_path / "cut", callbacks=[Stop()])
    with pytest.raises(RuntimeError, match="interrupted by SIGTERM at step 2; not scored"):
        quality_text.finished(cut)
