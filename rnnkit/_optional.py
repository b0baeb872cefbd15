"""Optional dependencies: import them by the extra that installs them, with a message that
says what to install when one is missing.

    librosa = require("librosa", "audio")       # ImportError -> MissingExtraError
    plt = pyplot()                               # matplotlib.pyplot on the Agg backend
"""

from __future__ import annotations

import importlib
from types import ModuleType

# the extra (pyproject.toml [project.optional-dependencies]) that installs each module
EXTRAS = {
    "librosa": "audio", "soundfile": "audio", "scipy": "audio", "jiwer": "audio",
    "mido": "music",
    "PIL": "vision",
    "sacrebleu": "text", "sentencepiece": "text",
    "matplotlib": "plots",
    "rich": "plots",
    "onnx": "export", "onnxruntime": "export",
    "optuna": "tune",
    "tensorboard": "tensorboard",
    "statsmodels": "bench", "sklearn": "bench",
}


# where the package on PyPI has another name than the module
PACKAGES = {"PIL": "pillow", "sklearn": "scikit-learn"}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra."""


def require(module: str, extra: str | None = None) -> ModuleType:
    """``import module``, or a :class:`MissingExtraError` that says
    ``pip install 'rnnkit[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        extra = extra or EXTRAS.get(top, "all")
        raise MissingExtraError(
            f"{top} is not installed; it comes with rnnkit's {extra!r} extra: "
            f"pip install 'rnnkit[{extra}]' (or pip install {PACKAGES.get(top, top)})") from e


def pyplot() -> ModuleType:
    """matplotlib.pyplot on the non-interactive Agg backend (the ``plots`` extra)."""
    matplotlib = require("matplotlib", "plots")
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", "plots")
