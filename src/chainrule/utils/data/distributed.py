"""``torch.utils.data.distributed``'s name: ``DistributedSampler``, from ``chainrule.data``."""

from chainrule.data.distributed_sampler import DistributedSampler

__all__ = ["DistributedSampler"]
