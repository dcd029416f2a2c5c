"""The autograd engine: Function, backward ordering, grad mode and gradient checking."""

from chainrule.autograd.engine import backward, grad
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.autograd.gradcheck import gradcheck, gradgradcheck

__all__ = [
    "Function", "backward", "enable_grad", "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "no_grad",
    "set_grad_enabled",
]
