"""Fast paths for the loop over time.

- :mod:`.bptt`: one time loop with backpropagation through time written by hand, shared by
  every built-in cell family (:mod:`.families`: Elman, LSTM, GRU; :mod:`.layernorm`: the
  layer-normalised LSTM and GRU), with lengths, carried state, recurrent dropout and zoneout.
- :mod:`.engine`: ``find_kernel`` (asked by :func:`rnnkit.layers.loop.run_direction`) and
  the ``use_engine("auto" | "loop" | "kernel")`` switch.
- :mod:`.native`: the per-step element-wise work and, for a layer without masks, the whole
  time loop, in C++ (``csrc/cells.cpp``), compiled on first use; the families call it where
  it serves the tensors (CPU, float32/float64) and otherwise run their ATen formulas.
- Cells with a whole-sequence ``scan`` (minGRU, minLSTM) are dispatched to it; on the CPU
  it runs compiled (:mod:`.scan`), elsewhere as a log-space parallel scan.
- :mod:`.plans`: inference without gradients: a stack of built-in cells with its weights
  packed once for the compiled step (``csrc/step.h``, ``csrc/gemm.h``), one call per time
  step for streaming (``layer.step``), and the engine's loop over whole sequences.

This package imports torch only; cells are recognised by their class name.
"""

from .bptt import BPTT, Masks, run_bptt
from .engine import (
    ENGINES,
    draw_masks,
    find_kernel,
    get_engine,
    register_kernel,
    set_engine,
    use_engine,
)
from .families import ElmanFamily, GRUFamily, LSTMFamily
from .layernorm import LayerNormGRUFamily, LayerNormLSTMFamily

register_kernel("rnnkit.cells.rnn.RNNCell", ElmanFamily)
register_kernel("rnnkit.cells.lstm.LSTMCell", LSTMFamily, supports=lambda c: c.proj_size == 0)
register_kernel("rnnkit.cells.gru.GRUCell", GRUFamily)
register_kernel("rnnkit.cells.layernorm.LayerNormLSTMCell", LayerNormLSTMFamily)
register_kernel("rnnkit.cells.layernorm.LayerNormGRUCell", LayerNormGRUFamily)

__all__ = [
    "BPTT", "ENGINES", "ElmanFamily", "GRUFamily", "LSTMFamily", "LayerNormGRUFamily",
    "LayerNormLSTMFamily", "Masks", "draw_masks", "find_kernel", "get_engine",
    "register_kernel", "run_bptt", "set_engine", "use_engine",
]
