"""Diagnostics: gradient flow through time, gate saturation, gradient norms, spectral radii,
the Trainer callback that records them and the plots drawn from the records.

- :class:`GradientFlowRecorder`: ``dL/dh_t`` for every step and layer, by hooks;
- :func:`gate_saturation`, :func:`recurrent_spectral_radii`, :func:`parameter_grad_norms`;
- :func:`take_snapshot`: all of them on one batch -> :class:`Snapshot` (one JSON record);
- :class:`DiagnosticsCallback` (``[diagnostics] every = N``) -> ``diagnostics.jsonl``;
- :mod:`.plots` (``draw_plots(run_dir)``) and :mod:`.summary` (``summarize(run_dir)``), used
  by ``rnnkit diagnose RUN_DIR``.
"""

from .flow import GradientFlow, GradientFlowRecorder, layer_names
from .gates import Saturation, gate_saturation
from .snapshot import Snapshot, take_snapshot
from .weights import (
    layer_grad_norms,
    layer_of,
    parameter_grad_norms,
    recurrent_spectral_radii,
    spectral_radius,
)


def __getattr__(name):  # the callback needs rnnkit.training; import it only when asked
    if name in ("DiagnosticsCallback", "DiagnosticsConfig"):
        from . import callback

        return getattr(callback, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DiagnosticsCallback", "DiagnosticsConfig", "GradientFlow", "GradientFlowRecorder",
    "Saturation", "Snapshot", "gate_saturation", "layer_grad_norms", "layer_names", "layer_of",
    "parameter_grad_norms", "recurrent_spectral_radii", "spectral_radius", "take_snapshot",
]
