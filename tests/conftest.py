import os
from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def data_dir() -> Path | None:
    """The real data sets (``RNNKIT_DATA``), or None when absent."""
    path = os.environ.get("RNNKIT_DATA")
    return Path(path) if path and Path(path).is_dir() else None
