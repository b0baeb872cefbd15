"""A classifier's figures per class (rnnkit/tasks/class_figures.py) on confusion matrices
made by hand, against their definitions (scikit-learn's with ``zero_division=0``); found by
mutation testing (benchmarks/mutation.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rnnkit.tasks.class_figures import confusion, macro_f1, per_class


def test_confusion_counts_whole_numbers_of_any_index_input():
    counts = confusion([0, 1, 1, 2], [0, 1, 2, 2], 3)
    assert counts.dtype == np.int64
    assert counts.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    empty = confusion([], [], 2)  # (an empty part: no index arrays of floats)
    assert empty.dtype == np.int64 and empty.tolist() == [[0, 0], [0, 0]]
    assert confusion([1.0, 0.0], [True, True], 2).tolist() == [[0, 1], [0, 1]]


def test_a_class_never_predicted_or_never_true_scores_zero_not_leftover_memory():
    for size in range(2, 40):
        counts = np.zeros((size, size), dtype=np.int64)
        counts[0, 1] = 3  # class 0: true, never predicted; class 1: predicted, never true
        np.full(size, 7.5).sum()  # (memory a bare np.divide(where=) would leave in place)
        figures = per_class(counts)
        for key in ("precision", "recall", "f1"):
            assert figures[key].tolist() == [0.0] * size, (key, size)


def test_macro_f1_averages_over_the_classes_seen_once_or_more():
    # class 0: 2 true, both right; class 1: 1 true, predicted as 0; class 2: never seen
    counts = np.array([[2, 0, 0], [1, 0, 0], [0, 0, 0]])
    precision, recall = 2 / 3, 1.0
    f1_0 = 2 * precision * recall / (precision + recall)
    assert macro_f1(counts) == pytest.approx((f1_0 + 0.0) / 2, abs=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no mean of an empty selection)
        assert macro_f1(np.zeros((2, 2), dtype=np.int64)) == 0.0
