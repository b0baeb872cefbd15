"""A build lock left by a killed build of the native extension is removed (with a warning)
instead of making every later run wait forever; a recent lock (a build in progress) stays."""

import os
import time

import pytest

from rnnkit.kernels import native


@pytest.fixture
def build_dir(tmp_path, monkeypatch):
    import torch.utils.cpp_extension as ext

    monkeypatch.setattr(ext, "_get_build_directory", lambda name, verbose: str(tmp_path / name))
    (tmp_path / "ext").mkdir()
    return tmp_path / "ext"


def test_an_old_lock_is_removed_with_a_warning(build_dir):
    lock = build_dir / "lock"
    lock.write_text("")
    old = time.time() - native.STALE_LOCK_SECONDS - 60
    os.utime(lock, (old, old))
    with pytest.warns(RuntimeWarning, match="build lock 16 minutes old"):
        assert native.clear_stale_lock("ext") == lock
    assert not lock.exists()


def test_a_recent_lock_and_no_lock_are_left_alone(build_dir, recwarn):
    assert native.clear_stale_lock("ext") is None
    lock = build_dir / "lock"
    lock.write_text("")
    recent = time.time() - native.STALE_LOCK_SECONDS + 60
    os.utime(lock, (recent, recent))
    assert native.clear_stale_lock("ext") is None
    assert lock.exists() and not recwarn.list
