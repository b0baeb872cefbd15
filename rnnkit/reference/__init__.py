"""NumPy-only reference RNNs with backpropagation through time written out by hand.

Slow and readable on purpose: each model's docstring holds its forward equations and the
BPTT recurrences, and the code uses the same symbols. The fast torch layers are tested
against these (share weights, compare loss and every gradient).

    model = ElmanRNN(input_size=3, hidden_size=4, output_size=5)
    loss, grads = model.loss_and_grads(xs, targets)      # xs (T, 3), targets (T,) ints
    assert gradient_check(model, xs, targets).passed()
"""

from .base import Forward, ReferenceRNN
from .elman import ElmanRNN
from .gradcheck import GradCheckResult, gradient_check
from .gru import GRU
from .lstm import LSTM

__all__ = [
    "ElmanRNN",
    "LSTM",
    "GRU",
    "gradient_check",
    "GradCheckResult",
    "Forward",
    "ReferenceRNN",
]
