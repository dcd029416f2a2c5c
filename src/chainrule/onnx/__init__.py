"""``chainrule.onnx``: trained models leave as ONNX, with PyTorch's ``torch.onnx.export`` signature.

``export(model, args, "model.onnx", input_names=["input"], output_names=["output"],
dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})`` traces one forward pass and writes the graph;
docs/onnx.md lists how each layer maps to ONNX's ops. The ``onnx`` package (``pip install "chainrule[onnx]"``)
is imported only when an export runs.
"""

from chainrule.onnx.errors import OnnxExporterError, UnsupportedOperatorError
from chainrule.onnx.export import IR_VERSIONS, TrainingMode, export

__all__ = ["IR_VERSIONS", "OnnxExporterError", "TrainingMode", "UnsupportedOperatorError", "export"]
