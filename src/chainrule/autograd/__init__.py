"""The autograd engine: Function, backward ordering, grad mode and gradient checking."""

from chainrule.autograd.anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from chainrule.autograd.engine import backward, grad
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.autograd.gradcheck import gradcheck, gradgradcheck

__all__ = [
    "AnomalyError", "Function", "backward", "detect_anomaly", "enable_grad", "grad", "gradcheck", "gradgradcheck",
    "is_anomaly_enabled", "is_grad_enabled", "no_grad", "set_grad_enabled"
]
