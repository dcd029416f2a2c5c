"""The errors of ONNX export, with PyTorch's names (``torch.onnx.errors``)."""

from __future__ import annotations

from chainrule.errors import ChainruleError

__all__ = ["OnnxExporterError", "UnsupportedOperatorError"]


class OnnxExporterError(ChainruleError, RuntimeError):
    """The model cannot be exported as asked: an argument out of range, a graph that changes with the batch size,
    a mode ONNX has no form for."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op of the traced forward has no ONNX form; the message names the op and the module that ran it."""
