"""PyTorch's ``torch.utils`` paths: ``chainrule.utils.data`` is ``torch.utils.data``, so a program that reads
``torch.utils.data.DataLoader`` runs after ``import chainrule as torch``."""

from chainrule.utils import data

__all__ = ["data"]
