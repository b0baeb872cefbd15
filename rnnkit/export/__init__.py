"""ONNX export: whole-sequence and step graphs that onnxruntime runs with rnnkit's numbers.

    from rnnkit.export import export_model, exportable
    exportable(model)                    # (True, "writes sequence.onnx, step.onnx") or why not
    export_model(model, "out/")          # sequence.onnx, step.onnx, export.json
    export_model(model, "out/", quantize="dynamic")  # also sequence.int8.onnx, step.int8.onnx

- :mod:`.onnx`: :func:`export_model`, :func:`exportable`, :class:`ExportError`.
- :mod:`.graphs`: :class:`Port`, :class:`Graph`, :class:`Plan`; which graphs a model class
  writes is its plan (:func:`register_plan`): :mod:`.sequence_models` (classifier,
  regressor, tagger, language models, forecasters, feed-forward) and
  :mod:`.decoder_models` (Seq2Seq, ConditionalGenerator, ImageCaptioner).
- :mod:`.layer`: :class:`ExportLayer`, a recurrent layer rebuilt from its cells, whose
  recurrence is one op; :mod:`.loops` makes that op an ONNX ``Loop`` over the cell's step,
  :mod:`.native` ONNX's own ``RNN``/``LSTM``/``GRU`` operator for the plain cells.
- :mod:`.quantize`: the int8 graphs of ``quantize="dynamic"`` (onnxruntime's dynamic
  quantiser): what becomes int8 and what stays float.

Needs the ``export`` extra (``pip install 'rnnkit[export]'``: onnx, onnxruntime).
"""

from . import decoder_models, sequence_models  # noqa: F401 (they register the plans)
from .graphs import PLANS, Graph, Plan, Port, register_plan
from .layer import ExportLayer
from .onnx import ExportError, export_model, exportable, run_onnx, verify_graph

__all__ = [
    "PLANS", "ExportError", "ExportLayer", "Graph", "Plan", "Port", "export_model",
    "exportable", "register_plan", "run_onnx", "verify_graph",
]
