"""Data parallelism: the same `rnnkit train` under torchrun with 2 CPU processes (gloo)."""

import json
import os
import subprocess
import sys

import pytest

CONFIG = """
name = "ddp"
seed = 0
[task]
name = "adding"
sequence_length = 12
train_size = 512
val_size = 128
test_size = 64
[model]
cell = "gru"
hidden_size = 12
[train]
steps = 60
batch_size = 32
lr = 1e-2
eval_every = 30
log_every = 10
progress = "off"
device = "cpu"
"""


def _train(tmp_path, run_dir, nproc):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc-per-node={nproc}"] if nproc > 1 else [sys.executable]
    cmd = [*launcher, "-m", "rnnkit.cli.main", "train", "cfg.toml", "--run-dir", run_dir]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / run_dir / "metrics.jsonl").open()]
    train = [r["loss"] for r in records if r["split"] == "train"]
    val = [r["loss"] for r in records if r["split"] == "val" and "checkpoint" not in r]
    return train[0], val[-1]


@pytest.mark.distributed
def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    (tmp_path / "cfg.toml").write_text(CONFIG)
    start, one = _train(tmp_path, "one", 1)
    _, two = _train(tmp_path, "two", 2)
    assert one < 0.5 * start  # it learned
    assert abs(one - two) <= 0.05 * one, (one, two)
    saved = sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir())
    assert saved == ["best", "last"]  # rank 0 only: no temporary or duplicate directories
