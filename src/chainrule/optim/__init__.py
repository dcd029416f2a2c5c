"""``chainrule.optim``: optimizers and learning-rate schedulers with PyTorch's names, arguments and numbers.

``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad`` and ``Adadelta`` update each parameter in place from ``p.grad``
with the same formulas as ``torch.optim`` (see docs/optim.md), and ``LBFGS`` runs PyTorch's L-BFGS on a closure;
``chainrule.optim.lr_scheduler`` holds the schedulers.
A typical loop::

    opt = chainrule.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in batches:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
"""

from chainrule.optim import lr_scheduler
from chainrule.optim.adadelta import Adadelta
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.adamax import Adamax
from chainrule.optim.asgd import ASGD
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.nadam import NAdam
from chainrule.optim.optimizer import Optimizer, OptimizerStateError
from chainrule.optim.radam import RAdam
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.rprop import Rprop
from chainrule.optim.sgd import SGD

__all__ = [
    "LBFGS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Optimizer", "OptimizerStateError", "RMSprop",
    "lr_scheduler",
    "ASGD", "Adamax", "NAdam", "RAdam", "Rprop",
]
