"""A build lock left by a killed build of the native extension is removed (with a warning)
instead of making every later run wait forever; a build in progress in another process is
waited for, and its lock is removed once that process has died."""

import subprocess
import sys
import textwrap
import time

import pytest
from filelock import Timeout

from rnnkit.kernels import native


@pytest.fixture
def build_dir(tmp_path, monkeypatch):
    import torch.utils.cpp_extension as ext

    monkeypatch.setattr(ext, "_get_build_directory", lambda name, verbose: str(tmp_path / name))
    return tmp_path / "ext"


def test_a_lock_left_by_a_killed_build_is_removed_at_once(build_dir):
    build_dir.mkdir()
    lock = build_dir / "lock"
    lock.write_text("")  # a fresh file: no age rule, nobody holds the build lock
    with pytest.warns(RuntimeWarning, match="build lock left by a build that was stopped"):
        with native.build_lock("ext", timeout=5):
            assert not lock.exists()
    assert build_dir.is_dir()


def test_no_lock_no_warning_and_the_body_runs(build_dir, recwarn):
    ran = []
    with native.build_lock("ext", timeout=5):
        ran.append(True)
    assert ran and build_dir.is_dir() and not recwarn.list


def test_a_build_in_progress_is_waited_for_until_its_process_dies(build_dir):
    build_dir.mkdir()
    lock = build_dir / "lock"
    builder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import pathlib, sys, time
        from filelock import FileLock
        with FileLock({str(build_dir / "rnnkit-build.lock")!r}):
            pathlib.Path({str(lock)!r}).write_text("")  # torch's lock, as a build makes it
            print("building", flush=True)
            time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert builder.stdout.readline().strip() == "building"
        with pytest.raises(Timeout):  # alive: its lock is not taken from it
            with native.build_lock("ext", timeout=0.5):
                pass
        assert lock.exists()
    finally:
        builder.kill()  # SIGKILL: no clean-up runs, torch's file stays behind
        builder.wait()
    assert lock.exists()
    start = time.monotonic()
    with pytest.warns(RuntimeWarning, match="left by a build that was stopped"):
        with native.build_lock("ext", timeout=30):
            assert not lock.exists()
    assert time.monotonic() - start < 30


def test_load_takes_the_build_lock(build_dir, monkeypatch):
    import torch.utils.cpp_extension as ext

    build_dir.mkdir()
    (build_dir / "lock").write_text("")
    seen = []

    def fake_load(name, **kwargs):  # what torch's load would see: no stale file
        seen.append((build_dir / "lock").exists())
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(ext, "load", fake_load)
    monkeypatch.setattr(native, "extension_name", lambda: "ext")
    monkeypatch.setattr(native, "_tried", False)
    monkeypatch.setattr(native, "_module", None)
    with pytest.warns(RuntimeWarning) as caught:
        assert native.load() is None
    assert seen == [False]
    assert any("left by a build that was stopped" in str(w.message) for w in caught)
    assert any("no compiler here" in str(w.message) for w in caught)
