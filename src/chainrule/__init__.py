"""chainrule: a deep-learning library whose backward pass you can see and trust.

``import chainrule as cr`` gives tensors, differentiable ops, the autograd engine and gradient checking.
"""

import os as _os  # noqa: I001 - the lists below stay compact

from chainrule.tensor import Tensor
from chainrule import accelerator, backends, cuda, ops
from chainrule.autograd import (
    AnomalyError, Function, detect_anomaly, enable_grad, grad, gradcheck, gradgradcheck, is_anomaly_enabled,
    is_grad_enabled, no_grad, set_grad_enabled,
)
from chainrule.creation import (
    arange, bernoulli, default_generator, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
    ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like,
)
from chainrule.devices import DeviceError, device
from chainrule.dtypes import bool_, float16, float32, float64, int8, int16, int32, int64, uint8
from chainrule.errors import BackwardError, ChainruleError, DTypeError, GradcheckError, ShapeError
from chainrule.ops import *  # noqa: F403 - the op functions are the public API (cr.exp, cr.matmul, ...)
from chainrule.ops import __all__ as _ops_all
from chainrule.ops.tensor_methods import setup_tensor
from chainrule.autograd.grad_mode import inference_mode
from chainrule.ops.info import as_tensor, finfo, get_default_dtype, iinfo, is_floating_point, is_tensor, numel
from chainrule.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from chainrule.threads import get_num_threads, set_num_threads
from chainrule.version import __version__  # noqa: F401 - chainrule.__version__, as every package has


__all__ = [
    "AnomalyError", "BackwardError", "ChainruleError", "DTypeError", "DeviceError", "Function", "Generator",
    "GradcheckError", "ShapeError", "Tensor", "accelerator", "arange", "backends", "bernoulli", "bool_", "cuda",
    "default_generator", "detect_anomaly", "device", "empty", "empty_like", "enable_grad", "eye", "float16",
    "float32", "float64", "from_numpy", "full", "full_like", "get_num_threads", "get_rng_state", "grad", "gradcheck",
    "gradgradcheck", "initial_seed", "int16", "int32", "int64", "int8", "is_anomaly_enabled", "is_grad_enabled",
    "linspace", "load", "manual_seed", "no_grad", "ones", "ones_like", "ops", "rand", "rand_like", "randint", "randn",
    "randn_like", "randperm", "return_types", "save", "seed", "set_grad_enabled", "set_num_threads", "set_rng_state",
    "tensor", "uint8", "zeros", "zeros_like",
    "as_tensor", "finfo", "get_default_dtype", "iinfo", "inference_mode", "is_floating_point", "is_tensor", "numel",
    *_ops_all
]

# Tensor's operators and op methods (t + u, t.sum(), t.backward()) are installed here, once, now that the ops
# exist: the one place where Tensor meets the layers built on it (DeZero's setup_variable).
setup_tensor()

# last: they build on everything above (cr.onnx.export as torch.onnx.export; it loads the onnx package when called)
from chainrule import data, distributions, io, models, nn, onnx, optim, utils, viz  # noqa: E402, F401
from chainrule.ops import return_types  # noqa: E402 - cr.return_types, as torch.return_types
from chainrule.serialization import load, save  # noqa: E402 - on io's archive

if _os.environ.get("CHAINRULE_MALLOC") == "keep":  # asked for: a process-wide setting, never made unasked
    from chainrule.workspace import keep_freed_memory

    keep_freed_memory()

# PyTorch's dtype aliases (cr.float is cr.float32, cr.long is cr.int64, ...). They would shadow Python's float, int
# and bool in this module, so they are bound last, and left out of __all__ so that ``import *`` shadows nothing.
from chainrule.dtypes import bool, double, float, half, int, long, short  # noqa: E402, F401, A004
