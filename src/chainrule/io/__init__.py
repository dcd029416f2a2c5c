"""``chainrule.io``: saving and loading without pickle, and atomic training checkpoints.

``save(path, obj)`` / ``load(path)`` store nested dicts, lists and tuples of arrays, Tensors, numbers, strings,
bools and None in one ``.npz`` archive whose structure is a JSON document inside it; ``save_checkpoint`` /
``load_checkpoint`` put a model, optimizer, scheduler, counters, RNG streams and config in such a file and
restore them, checked and all-or-nothing. Every file is written atomically. Loading never unpickles; a file
that is not an intact chainrule archive raises ``CheckpointError``. ``save_safetensors``/``load_safetensors``
(model weights only) need the optional ``safetensors`` package. The format is described in docs/checkpoints.md.
"""

from chainrule.io.archive import FORMAT_VERSION, CheckpointError, atomic_write, load, save
from chainrule.io.checkpoint import Checkpoint, CheckpointStateError, load_checkpoint, save_checkpoint
from chainrule.io.safetensors_io import load_safetensors, save_safetensors

__all__ = [
    "FORMAT_VERSION", "Checkpoint", "CheckpointError", "CheckpointStateError", "atomic_write", "load",
    "load_checkpoint", "load_safetensors", "save", "save_checkpoint", "save_safetensors",
]
