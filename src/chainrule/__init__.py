"""chainrule: a deep-learning library whose backward pass you can see and trust.

``import chainrule as cr`` gives tensors, differentiable ops, the autograd engine and gradient checking.
"""

from chainrule.tensor import Tensor  # noqa: I001 - Tensor first: everything below builds on it
from chainrule import ops
from chainrule.autograd import (
    AnomalyError, Function, detect_anomaly, enable_grad, grad, gradcheck, gradgradcheck, is_anomaly_enabled,
    is_grad_enabled, no_grad, set_grad_enabled,
)
from chainrule.creation import (
    arange, default_generator, eye, from_numpy, full, full_like, linspace, manual_seed, ones, ones_like, rand,
    rand_like, randint, randn, randn_like, tensor, zeros, zeros_like,
)
from chainrule.dtypes import bool_, float16, float32, float64, int32, int64
from chainrule.errors import BackwardError, ChainruleError, DTypeError, GradcheckError, ShapeError
from chainrule.ops import *  # noqa: F403 - the op functions are the public API (cr.exp, cr.matmul, ...)
from chainrule.ops import __all__ as _ops_all

__version__ = "0.1.0"

__all__ = [
    "AnomalyError", "BackwardError", "ChainruleError", "DTypeError", "Function", "GradcheckError", "ShapeError",
    "Tensor", "arange", "bool_", "default_generator", "detect_anomaly", "enable_grad", "eye", "float16", "float32",
    "float64", "from_numpy", "full", "full_like", "grad", "gradcheck", "gradgradcheck", "int32", "int64",
    "is_anomaly_enabled", "is_grad_enabled", "linspace", "manual_seed", "no_grad", "ones", "ones_like", "ops",
    "rand", "rand_like", "randint", "randn", "randn_like", "set_grad_enabled", "tensor", "zeros", "zeros_like",
    *_ops_all
]
from chainrule import data, io, models, nn, optim, viz  # noqa: E402, F401 - last: they build on everything above
from chainrule.workspace import keep_freed_memory  # noqa: E402

keep_freed_memory()  # fresh arrays every step: reuse freed memory instead of page-faulting it in again
