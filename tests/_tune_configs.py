"""The tiny adding-problem config the tuning tests tune: a few steps on a few dozen sequences."""

from __future__ import annotations


def tiny_adding_toml(seed: int = 0, quiet: bool = True) -> str:
    """``quiet``: no diagnostics snapshots or plots (the trials' runs only)."""
    text = f"""
name = "tiny"
seed = {seed}
[task]
name = "adding"
sequence_length = 5
train_size = 32
val_size = 16
test_size = 16
[model]
hidden_size = 8
[train]
steps = 4
batch_size = 16
eval_every = 2
lr = 1e-2
metric = "mse"
threads = 1
"""
    return text + "[diagnostics]\nevery = 0\nplots = false\n" if quiet else text
