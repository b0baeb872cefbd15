"""The compiled per-step cell arithmetic (``csrc/cells.cpp``, with the packed matrix products
of ``csrc/gemm.h`` and the streaming step of ``csrc/step.h``), built on first use.

``ops_for(tensor)`` returns the compiled module when it can serve that tensor (CPU,
float32/float64) and the extension is available, else None; the families then run their
ATen formulas, which stay the reference. The extension is compiled once per machine with
``torch.utils.cpp_extension.load`` (needs a C++ compiler and ninja; about 30 s) into
torch's extension cache, under a name that includes a hash of the sources, their path, the
flags and the CPU model, so a cache shared between machines never loads code built for
another CPU and two checkouts never rebuild each other's module.

``RNNKIT_NATIVE=0`` turns it off; ``use_native(False)`` does the same in a block (tests
compare both ways). A failed build warns once and falls back. A build killed midway
(Ctrl-C, SIGKILL) leaves torch's lock file behind; the next build removes it instead of
waiting forever (``build_lock``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("csrc") / "cells.cpp"
HEADERS = sorted(SOURCE.parent.glob("*.h"))  # included by cells.cpp: part of the hash
# -fno-trapping-math and the `omp simd` pragmas let the compiler vectorise the element-wise
# loops (nothing here relies on FP exceptions); -fopenmp makes at::parallel_for (inlined from
# ATen's headers) split rows over torch's OpenMP threads, which it resolves to at load time.
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp"]
_module = None
_tried = False
_enabled = os.environ.get("RNNKIT_NATIVE", "1") not in ("0", "false", "off")
EMPTY = torch.empty(0)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def extension_name() -> str:
    key = b"".join(p.read_bytes() for p in (SOURCE, *HEADERS))
    key += " ".join(FLAGS).encode() + _cpu_model().encode()
    key += torch.__version__.encode()
    # torch's build files name the source path: two checkouts sharing one name would each
    # rebuild the other's module on every first use
    key += str(SOURCE.resolve()).encode()
    return "rnnkit_cells_" + hashlib.sha256(key).hexdigest()[:12]


@contextlib.contextmanager
def build_lock(name: str, timeout: float = -1) -> Iterator[None]:
    """Held around a build of extension ``name``: an OS file lock (``filelock``), which the
    operating system releases when its process dies, however it dies.

    torch's own build lock is a plain file that a killed build leaves behind, and torch then
    waits for it forever without a word. Every rnnkit build holds this lock while torch's
    file exists, so whoever holds it and still finds torch's file knows that file's builder
    is gone: it is removed at once, with a warning naming it. A build in progress in another
    process is waited for (``timeout`` seconds; -1: as long as it takes), as torch would.
    """
    try:
        from torch.utils.cpp_extension import _get_build_directory

        directory = Path(_get_build_directory(name, verbose=False))
        directory.mkdir(parents=True, exist_ok=True)
    except Exception:  # torch's private helper moved: torch's own locking only
        yield
        return
    from filelock import FileLock

    with FileLock(str(directory / "rnnkit-build.lock"), timeout=timeout):
        stale = directory / "lock"
        if stale.exists():
            warnings.warn(f"rnnkit: removing {stale}, a build lock left by a build that was "
                          "stopped (torch would otherwise wait for it forever)",
                          RuntimeWarning, stacklevel=3)
            stale.unlink(missing_ok=True)
        yield


def load():
    """The compiled module, building it on first call; None where it cannot be built."""
    global _module, _tried
    if _tried:
        return _module
    _tried = True
    try:
        from torch.utils.cpp_extension import load as load_extension

        name = extension_name()
        with build_lock(name):
            _module = load_extension(name=name, sources=[str(SOURCE)], extra_cflags=FLAGS,
                                     verbose=False)
    except Exception as error:  # no compiler, no ninja, a build error: the ATen path runs
        warnings.warn(f"rnnkit: the compiled cell kernels are unavailable ({error}); "
                      "using the slower ATen formulas. Set RNNKIT_NATIVE=0 to silence this.",
                      RuntimeWarning, stacklevel=2)
        _module = None
    return _module


def available() -> bool:
    return _enabled and load() is not None


def ops_for(t: torch.Tensor):
    """The compiled module if it serves ``t``'s device and dtype, else None (and None while
    a graph is captured: :func:`capturing`)."""
    if not _enabled or t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64):
        return None
    if capturing():
        return None
    return load()


def capturing() -> bool:
    """Whether the running code is being captured as one graph (``torch.jit.trace``,
    ``torch.export``). The compiled module's ops are opaque to those (export fails on them,
    trace's check re-runs them on buffers it never filled), so they are not used then.
    ``torch.compile`` is not a capture here: it runs an op it cannot see into as it is."""
    exporting = getattr(torch.compiler, "is_exporting", lambda: False)
    return torch.jit.is_tracing() or exporting()


def set_native(enabled: bool) -> None:
    global _enabled
    _enabled = bool(enabled)


@contextlib.contextmanager
def use_native(enabled: bool) -> Iterator[None]:
    """``with use_native(False): ...`` runs the families' ATen formulas instead."""
    previous = _enabled
    set_native(enabled)
    try:
        yield
    finally:
        set_native(previous)
