"""``torch.utils.data.dataloader``'s names (programs import ``default_collate`` from here)."""

from chainrule.data.collate import default_collate, default_convert
from chainrule.data.loader import DataLoader
from chainrule.data.workers import get_worker_info

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]
