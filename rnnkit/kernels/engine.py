"""Which engine runs a cell over a sequence, and the kernels registered for each cell type.

``find_kernel(cell, ...)`` is asked by the loop before it starts; it returns a callable
``kernel(x, state, lengths) -> (out, final_state)`` (x (T, B, I), time-major, already
reversed by the caller for the backward direction) or None to run the generic loop. When no
gradient will be asked for and no random mask is drawn, the kernel of a built-in cell runs
the compiled inference loop on packed weights (:mod:`.plans`) instead of the BPTT kernel.

Engines (``use_engine``/``set_engine``):

- ``"auto"`` (default): a kernel wherever one exists for the cell and its options;
- ``"loop"``: always the generic autograd loop (the reference the kernels are tested against;
  also what runs while ``torch.jit.trace`` or ``torch.export`` captures a graph, whatever
  the engine);
- ``"kernel"``: a kernel or an error, so tests and benchmarks know which path ran.

Kernels are registered by the cell's exact class (``module.QualName``), so a subclass that
changes the step falls back to the loop rather than silently taking the parent's kernel.
Cells declaring ``supports_scan`` (minGRU, minLSTM) get the whole-sequence scan when no
recurrent dropout or zoneout is asked for: the compiled one (:mod:`.scan`) where the cell
names its recurrence by ``scan_kind`` and the compiled code serves the tensors, else the
cell's own ``scan(x, h0, lengths)``. Those attributes are declared, with their defaults, on
:class:`rnnkit.cells.base.Cell` (this package does not import it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from . import native, plans
from .bptt import Masks, run_bptt
from .scan import KINDS, min_scan

ENGINES = ("auto", "loop", "kernel")
_engine = "auto"
_FAMILIES: dict[str, Callable] = {}


def register_kernel(cell_class: str, family: Callable, supports: Callable | None = None) -> None:
    """Use ``family(cell)`` (see :mod:`.families`) for cells of class ``cell_class``
    (``"module.QualName"``); ``supports(cell)`` may decline some configurations."""
    _FAMILIES[cell_class] = (family, supports)


def set_engine(engine: str) -> None:
    global _engine
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    _engine = engine


def get_engine() -> str:
    return _engine


@contextlib.contextmanager
def use_engine(engine: str) -> Iterator[None]:
    """``with use_engine("loop"): ...`` runs every layer inside on that engine."""
    previous = _engine
    set_engine(engine)
    try:
        yield
    finally:
        set_engine(previous)


def class_key(cell) -> str:
    cls = type(cell)
    return f"{cls.__module__}.{cls.__qualname__}"


def find_kernel(cell, *, recurrent_dropout: float = 0.0, zoneout: float = 0.0,
                training: bool = False) -> Callable | None:
    """A fused implementation of ``run_direction`` for this cell and options, or None (and
    None while a graph is captured: the kernels write into buffers, which ``torch.export``
    and ``torch.jit.trace`` cannot record, so the loop's plain ops run)."""
    if _engine == "loop" or native.capturing():
        return None
    kernel = _lookup(cell, recurrent_dropout if training else 0.0, zoneout, training)
    if kernel is None and _engine == "kernel":
        raise RuntimeError(
            f"use_engine('kernel'): no kernel for {class_key(cell)} with "
            f"recurrent_dropout={recurrent_dropout}, zoneout={zoneout}, training={training}"
        )
    return kernel


def _autocast() -> bool:
    return any(torch.is_autocast_enabled(d) for d in ("cpu", "cuda"))


def _lookup(cell, recurrent_dropout: float, zoneout: float, training: bool):
    if cell.supports_scan:
        if recurrent_dropout > 0 or zoneout > 0:
            return None
        kind = cell.scan_kind

        def scan(x: Tensor, state, lengths: Tensor | None):
            if kind in KINDS and native.ops_for(x) is not None:
                fast = min_scan(kind, cell.input_projection(x), state, lengths)
                if fast is not None:
                    return fast
            return cell.scan(x, state, lengths)

        return scan
    if _autocast():  # the BPTT kernels keep one dtype throughout; autocast takes the loop
        return None
    entry = _FAMILIES.get(class_key(cell))
    if entry is None or (entry[1] is not None and not entry[1](cell)):
        return None
    family = entry[0]
    random_masks = recurrent_dropout > 0 or (zoneout > 0 and training)

    def kernel(x: Tensor, state, lengths: Tensor | None):
        parts = state if isinstance(state, tuple) else (state,)
        if not random_masks and not plans.needs_grad((x, *parts, *cell.parameters())):
            fast = plans.run_sequence(cell, x, state, lengths, zoneout)  # packed, step by step
            if fast is not None:
                return fast
        masks = draw_masks(state, x.shape[0], lengths, recurrent_dropout, zoneout, training)
        return run_bptt(family(cell), cell, x, state, masks)

    return kernel


def draw_masks(state, T: int, lengths: Tensor | None, recurrent_dropout: float,
               zoneout: float, training: bool) -> Masks:
    """The loop's masks, drawn with the same random calls in the same order as
    :func:`rnnkit.layers.loop.run_direction`, so one seed gives both engines equal masks."""
    parts = state if isinstance(state, tuple) else (state,)
    h = parts[0]
    masks = Masks()
    if recurrent_dropout > 0 and training:
        keep = 1.0 - recurrent_dropout
        masks.recurrent = torch.empty_like(h).bernoulli_(keep).div_(keep)  # (B, H)
    if zoneout > 0:
        masks.zoneout = float(zoneout) if not training else torch.stack([
            torch.stack([torch.empty(p.shape, dtype=p.dtype, device=p.device).bernoulli_(zoneout)
                         for p in parts])
            for _ in range(T)
        ])  # (T, S, B, H): 1 = keep the old value
    if lengths is not None:
        steps = torch.arange(T, device=h.device).unsqueeze(1)
        masks.valid = (steps < lengths.to(h.device).unsqueeze(0)).unsqueeze(-1)  # (T, B, 1)
    return masks
