import os
import warnings

import pytest
import torch

# The README runs the tests with RNNKIT_DATA defaulting to ../shared/data; in a clone with no
# such folder beside it the real-data tests skip (as without RNNKIT_DATA) instead of trying
# to download (no network) and failing. Decided here, before any test module reads it.
_DATA = os.environ.get("RNNKIT_DATA")
if _DATA and not os.path.isdir(_DATA):
    del os.environ["RNNKIT_DATA"]
    warnings.warn(f"RNNKIT_DATA={_DATA} is not a folder: the tests that need the real data "
                  "sets skip", stacklevel=1)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tests use tiny tensors: one thread avoids OpenMP overhead and contention on 2 cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
