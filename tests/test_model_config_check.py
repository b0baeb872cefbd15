"""Model.check_config and value_problem (rnnkit/models/base.py): a model config read back
from JSON (a checkpoint's model.json, a [model] table) is refused with the key and the
reason before any model is built. Each rule on a toy model, message in full."""

import re
from typing import Any

import pytest
import torch
from torch import nn

from rnnkit.models import MODELS
from rnnkit.models.base import Model, ModelConfigError

_MARKER = object()  # a default JSON cannot hold: any value passes the type check


class _Toy(Model):
    def __init__(self, input_size: int, hidden_size: int = 8, *, dropout: float = 0.0,
                 cell: str = "lstm", bidirectional: bool = False, sizes: tuple[int, ...] = (1,),
                 pair: tuple[int, str] = (1, "a"), options: dict | None = None,
                 labels: list[str] | None = None, seed: int = 0, module: nn.Module | None = None,
                 num_layers=1, widths=(1.5, 2), counts=(1, 2), mixed=(1, "a"), anything=None,
                 kernel_dim=3, embedding_sizes=(4,), horizon=1, members=1, channels=1,
                 size=1, offset=0, single: tuple[int] = (1,), extras: list[Any] = (),
                 marker=_MARKER):
        super().__init__()


class _Open(Model):
    def __init__(self, input_size: int, **kwargs):
        super().__init__()


class _Unresolved(Model):
    def __init__(self, width: "NotDefinedAnywhere" = 2, name="x"):  # noqa: F821
        super().__init__()


GOOD = {"input_size": 3}


def _refused(config, cls=_Toy):
    with pytest.raises(ModelConfigError) as info:
        cls.check_config(config)
    return info.value.key, str(info.value)


def test_a_config_from_get_config_passes():
    _Toy.check_config({**GOOD, "hidden_size": 4, "dropout": 1, "cell": "gru",
                       "bidirectional": True, "sizes": [1, 2, 3], "pair": [2, "b"],
                       "options": {"k": [1]}, "labels": ["a"], "seed": -5, "module": None,
                       "num_layers": 2, "widths": [1, 2.5], "counts": [3], "mixed": ["x", 1.5],
                       "anything": {"x": object()}, "kernel_dim": 1, "offset": 0})
    _Toy.check_config({**GOOD, "options": None, "labels": None, "sizes": []})


def test_not_an_object_or_wrong_keys():
    assert _refused([1, 2]) == (None, "model_config must be a JSON object, got list")
    key, message = _refused({**GOOD, "colour": "red"})
    assert key == "colour"
    assert message == ("model_config has 'colour', which _Toy does not take (it takes "
                       "input_size, hidden_size, dropout, cell, bidirectional, sizes, pair, "
                       "options, labels, seed, module, num_layers, widths, counts, mixed, "
                       "anything, kernel_dim, embedding_sizes, horizon, members, channels, "
                       "size, offset, single, extras, marker)")
    assert _refused({"hidden_size": 4}) == (
        "input_size", "model_config lacks 'input_size', which _Toy requires")
    _Open.check_config({**GOOD, "colour": "red"})  # **kwargs: passed on, checked by building
    assert _refused({"colour": "red"}, _Open)[0] == "input_size"


@pytest.mark.parametrize("key,value,reason", [
    ("input_size", "3", " is not of type int"),
    ("input_size", True, " is not of type int"),
    ("input_size", 3.0, " is not of type int"),
    ("dropout", False, " is not of type float"),
    ("dropout", "0.1", " is not of type float"),
    ("cell", 1, " is not of type str"),
    ("bidirectional", 1, " is not of type bool"),
    ("sizes", [1, "2"], " is not of type tuple[int, ...]"),
    ("sizes", 3, " is not of type tuple[int, ...]"),
    ("pair", [1, 2], " is not of type tuple[int, str]"),
    ("pair", [1], " is not of type tuple[int, str]"),
    ("pair", [1, "a", "b"], " is not of type tuple[int, str]"),
    ("options", [1], " is not of type dict | None"),
    ("labels", ["a", 1], " is not of type list[str] | None"),
    ("module", {}, " is not of type Module | None"),
    ("num_layers", 2.0, " is not of type int"),  # unannotated: its default's type
    ("widths", ["a"], " is not of type list[float]"),
    ("counts", [1.5], " is not of type list[int]"),
    ("mixed", "ab", " is not of type list"),
    ("single", [1, 2], " is not of type tuple[int]"),  # exactly one
    ("single", [], " is not of type tuple[int]"),
    ("extras", "x", " is not of type list[Any]"),
    ("input_size", 0, ": a count or size must be >= 1"),
    ("hidden_size", -1, ": a count or size must be >= 1"),
    ("num_layers", 0, ": a count or size must be >= 1"),
    ("kernel_dim", 0, ": a count or size must be >= 1"),
    ("embedding_sizes", [4, 0], ": a count or size must be >= 1"),
    ("horizon", 0, ": a count or size must be >= 1"),
    ("members", 0, ": a count or size must be >= 1"),
    ("channels", 0, ": a count or size must be >= 1"),
    ("size", 0, ": a count or size must be >= 1"),
    ("offset", -1, ": must be >= 0"),
    ("counts", [1, -2], ": must be >= 0"),
    ("input_size", 2**63, ": is too large"),
    ("dropout", float("nan"), ": must be a finite number"),
    ("widths", [1.0, float("inf")], ": must be a finite number"),
])
def test_each_value_rule_names_the_key(key, value, reason):
    config = {**GOOD, key: value}
    shown = repr(value)
    assert _refused(config) == (key, f"model_config[{key!r}] = {shown}{reason}")
    assert _Toy.value_problem(key, value) == reason


def test_rules_that_let_values_through():
    for key, value in [("offset", 0), ("seed", -1), ("num_layers", 1), ("input_size", 2**63 - 1),
                       ("dropout", 2), ("anything", [object()]), ("mixed", [1, "a", None]),
                       ("single", [5]), ("extras", [1, "a"]), ("marker", "anything")]:
        assert _Toy.value_problem(key, value) == "", key
    assert _Toy.value_problem("colour", 1) == ""  # not a keyword: someone else's to report
    assert _Open.value_problem("kwargs", {"x": 1}) == ""


def test_an_annotation_that_does_not_evaluate_falls_back_on_the_default():
    assert _Unresolved.value_problem("width", 3) == ""
    assert _Unresolved.value_problem("width", "3") == " is not of type NotDefinedAnywhere"
    assert _refused({"name": 5}, _Unresolved) == (
        "name", "model_config['name'] = 5 is not of type str")
    _Unresolved.check_config({"width": 3, "name": "y"})


def test_long_values_are_shortened_in_the_message():
    value = "x" * 100
    key, message = _refused({**GOOD, "cell": list(value)})
    assert key == "cell"
    shown = repr(list(value))[:57] + "..."
    assert message == f"model_config['cell'] = {shown} is not of type str"
    assert len(shown) == 60
    exact = "y" * 58  # its repr is 60 characters: shown whole
    assert _refused({**GOOD, "sizes": exact})[1] == (
        f"model_config['sizes'] = {exact!r} is not of type tuple[int, ...]")


def test_public_subclasses_are_registered_by_name_private_ones_not():
    class _Hidden(Model):
        pass

    assert "_Hidden" not in MODELS and "_Toy" not in MODELS

    class Registered(Model):
        pass

    try:
        assert MODELS["Registered"] is Registered
    finally:
        MODELS.pop("Registered", None)
    with pytest.raises(NotImplementedError):
        Registered().get_config()
    with pytest.raises(NotImplementedError):
        Registered().compute_loss({"x": torch.zeros(1)})


def test_every_built_in_models_own_config_passes_its_check():
    from rnnkit.models import SequenceClassifier

    model = SequenceClassifier(input_size=3, num_classes=2, hidden_size=4)
    config = model.get_config()
    SequenceClassifier.check_config(config)
    with pytest.raises(ModelConfigError, match=re.escape("model_config['hidden_size'] = 0")):
        SequenceClassifier.check_config({**config, "hidden_size": 0})
