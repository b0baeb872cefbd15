"""The task contract (DESIGN.md "Task contract", issue 16): the CLI reads capabilities, never
task names or task internals; registered tasks hold no state and no task module caches on
configs; every task builds a context per run and names a predictor."""

import ast
import re
from pathlib import Path

import pytest

import rnnkit
from rnnkit.tasks import CAPABILITIES, TASKS, Predictor
from rnnkit.tasks.runner import config_from_raw

ROOT = Path(rnnkit.__file__).parent


def _cli_modules():
    return sorted((ROOT / "cli").glob("*.py"))


@pytest.mark.parametrize("path", _cli_modules(), ids=lambda p: p.name)
def test_cli_never_compares_a_task_name_nor_imports_task_internals(path):
    tree = ast.parse(path.read_text())
    names = set(TASKS)
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for part in [node.left, *node.comparators]:
                assert not (isinstance(part, ast.Constant) and part.value in names), (
                    f"{path.name}:{node.lineno} compares with a task name")
                assert not (isinstance(part, ast.Attribute) and part.attr == "name"
                            and isinstance(part.value, ast.Attribute)
                            and part.value.attr == "task"), (
                    f"{path.name}:{node.lineno} tests the task's name")
        if isinstance(node, ast.ImportFrom) and node.module and "tasks" in node.module:
            assert node.module == "tasks" and node.level == 2, (
                f"{path.name}:{node.lineno} imports rnnkit.{node.module} (task internals)")
            public = set(__import__("rnnkit.tasks", fromlist=["__all__"]).__all__)
            assert {a.name for a in node.names} <= public
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("getattr", "hasattr"):
            target = ast.unparse(node.args[0])
            assert target not in ("p", "predictor") and "task" not in target, (
                f"{path.name}:{node.lineno} probes the predictor or task with {node.func.id}")


def test_task_modules_keep_no_module_caches_on_configs():
    for path in (ROOT / "tasks").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"@(functools\.)?(lru_)?cache\b", text), path


MINIMAL = {"sentiment": {}, "adding": {}, "copy": {}, "sine": {}}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_each_registered_task_declares_its_capabilities_and_holds_no_state(name):
    task = TASKS[name]
    assert vars(task) == {}, f"state stored on the registered task {name!r}: {vars(task)}"
    assert set(task.capabilities) <= set(CAPABILITIES)
    assert task.config_class().name == name
    assert type(task).predictor is not type(task).__mro__[-2].predictor  # overridden


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_setup_builds_a_new_context_per_run_and_reads_nothing_yet(name):
    cfg = config_from_raw({"task": {"name": name, **MINIMAL[name]}}, "t")
    a, b = TASKS[name].setup(cfg), TASKS[name].setup(cfg)
    assert a is not b and a.cfg is cfg
    assert "splits" not in vars(a)  # built lazily, on first use


def test_predictor_subclasses_return_strict_json(tmp_path):
    class P(Predictor):
        def predict(self, inputs, **options):
            return [{"x": float("nan"), "y": [1.0, float("inf")]}]

    rec = P.predict(object.__new__(P), [])[0]
    assert rec["x"] is None and rec["y"] == [1.0, None] and "x" in rec["warning"]
