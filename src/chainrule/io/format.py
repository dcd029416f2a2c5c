"""The chainrule archive format: ``save``/``load`` of nested values as one pickle-free ``.npz`` file.

A file is a ZIP archive written by ``numpy.savez``: each array is a member ``a0.npy``, ``a1.npy``, ... and the
member ``__chainrule__.npy`` is a 1-d ``uint8`` array holding a UTF-8 JSON document that describes the whole
value (``docs/checkpoints.md`` has the details)::

    {"format": "chainrule", "version": 1, "kind": "object", "created_by": {...}, "tree": <node>}

A node is plain JSON where the value is plain JSON (None, bools, ints, finite floats, strings, lists, dicts with
string keys); everything else is an object tagged with ``"$type"``: ``ndarray``/``tensor``/``scalar`` (a
reference to an array member, with its dtype and shape), ``tuple``, ``dict`` (non-string keys, as a list of
``[key, value]`` pairs), ``float`` (nan and the infinities) and ``bytes`` (base64).

Loading uses ``numpy.load(..., allow_pickle=False)`` and checks everything it reads against the JSON document;
nothing is ever unpickled. Files are written atomically (``atomic_write``): a crash or a kill while writing
leaves the previous file as it was.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np

from chainrule import backend
from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "CheckpointError", "atomic_write", "load", "save"]

FORMAT_NAME = "chainrule"
#: The version this code writes; files with a higher version are refused, older ones are read.
FORMAT_VERSION = 1
HEADER_KEY = "__chainrule__"
TAG = "$type"
KINDS = ("object", "checkpoint")
_ARRAY_TAGS = ("ndarray", "tensor", "scalar")
_DTYPE_KINDS = "biufcSUmM"  # numeric, bool, byte and unicode strings, datetimes: all load without pickle
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class CheckpointError(ChainruleError, ValueError):
    """A file is not a chainrule checkpoint, or is damaged, or cannot be loaded into the given objects.

    ``path`` is the file (None when there is none), and the message names it and the problem.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        Exception.__init__(self, message)  # not super(): a subclass may also derive from StateDictError
        self.path = path


# ----- encoding --------------------------------------------------------------------------------------------
def _host_array(value: Any, where: str) -> np.ndarray:
    data = value.data if isinstance(value, Tensor) else value
    array = backend.to_numpy(data)
    if array.dtype.hasobject or array.dtype.kind not in _DTYPE_KINDS or array.dtype.names is not None:
        raise TypeError(
            f"cannot save {where}: arrays of dtype {array.dtype} are not supported (numeric, bool, string and "
            f"datetime dtypes are; object arrays would need pickle)"
        )
    return array


class _Encoder:
    """Turns a value into a JSON node, collecting its arrays under generated keys ``a0``, ``a1``, ..."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._active: set[int] = set()  # containers on the current path, to refuse cycles

    def _array(self, tag: str, array: np.ndarray) -> dict[str, Any]:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = array
        return {TAG: tag, "key": key, "dtype": array.dtype.str, "shape": list(array.shape)}

    def encode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            value = float(value)
            return value if math.isfinite(value) else {TAG: "float", "value": repr(value)}
        if isinstance(value, str):
            return str(value)
        if isinstance(value, Tensor):
            return self._array("tensor", _host_array(value, where))
        if backend.is_array(value):
            return self._array("ndarray", _host_array(value, where))
        if isinstance(value, np.generic):
            return self._array("scalar", _host_array(np.asarray(value), where))
        if isinstance(value, (bytes, bytearray)):
            return {TAG: "bytes", "base64": base64.b64encode(bytes(value)).decode("ascii")}
        if isinstance(value, (Mapping, list, tuple)):
            if id(value) in self._active:
                raise ValueError(f"cannot save {where}: it contains itself (a circular reference)")
            self._active.add(id(value))
            try:
                return self._container(value, where)
            finally:
                self._active.discard(id(value))
        raise TypeError(
            f"cannot save {where}: a {type(value).__name__} is not supported (save arrays, Tensors, numbers, "
            f"strings, bools, None, bytes, and dicts, lists and tuples of them)"
        )

    def _container(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {TAG: "tuple", "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if all(isinstance(k, str) for k in value) and TAG not in value:
            return {str(k): self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        items = []
        for k, v in value.items():
            items.append([self._key(k, where), self.encode(v, f"{where}[{k!r}]")])
        return {TAG: "dict", "items": items}

    def _key(self, key: Any, where: str) -> Any:
        if isinstance(key, tuple):
            return {TAG: "tuple", "items": [self._key(k, where) for k in key]}
        if key is None or isinstance(key, (bool, int, float, str, bytes, np.generic)):
            return self.encode(key, f"a key of {where}")
        raise TypeError(f"cannot save {where}: a dict key of type {type(key).__name__} is not supported")


def _document(value: Any, kind: str) -> tuple[bytes, dict[str, np.ndarray]]:
    import chainrule

    encoder = _Encoder()
    tree = encoder.encode(value, "obj")
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": kind,
        "created_by": {"chainrule": chainrule.__version__, "numpy": np.__version__},
        "tree": tree,
    }
    return json.dumps(doc, allow_nan=False).encode("ascii"), encoder.arrays


# ----- atomic writing --------------------------------------------------------------------------------------
def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it (briefly) and putting it back
    os.umask(mask)
    return mask


def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable, where the system allows opening a directory (POSIX)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Write a file all at once or not at all: ``write(f)`` fills a temporary file beside ``path``.

    The temporary file (``.NAME.XXXX.tmp`` in the same directory) is flushed and fsynced, given the mode the
    file would get (the existing file's mode, else 0o666 less the umask), then renamed onto ``path`` with
    ``os.replace`` (atomic on POSIX and Windows), and the directory is fsynced. If anything fails, the temporary
    file is removed and ``path`` keeps its previous contents; a process killed mid-write can leave a ``.tmp``
    file behind, never a half-written ``path``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        f = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    try:
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def write_archive(path: str | os.PathLike[str], value: Any, kind: str, compress: bool = False) -> None:
    """Encode ``value`` (before touching the disk: an unsupported value fails early) and write it atomically."""
    document, arrays = _document(value, kind)
    members = {HEADER_KEY: np.frombuffer(document, dtype=np.uint8), **arrays}

    def write(f: IO[bytes]) -> None:
        (np.savez_compressed if compress else np.savez)(f, **members)

    atomic_write(path, write)


def save(path: str | os.PathLike[str], obj: Any, *, compress: bool = False) -> None:
    """Save ``obj`` to ``path`` as a pickle-free ``.npz`` archive (atomically; no suffix is added).

    ``obj`` may nest dicts, lists and tuples of NumPy arrays, Tensors, NumPy scalars, Python numbers, strings,
    bools, bytes and None: a model's or an optimizer's ``state_dict()``, a scheduler's, a config. Dict keys may
    be strings, numbers, bools, None or tuples of them. ``compress=True`` uses ``numpy.savez_compressed``.
    An unsupported value raises ``TypeError`` naming where it is, and nothing is written.
    """
    write_archive(path, obj, "object", compress)


# ----- decoding --------------------------------------------------------------------------------------------
def _fail(path: str, problem: str) -> CheckpointError:
    return CheckpointError(f"cannot load {path!r}: {problem}", path)


def _describe_foreign(head: bytes) -> str:
    if not head:
        return "the file is empty"
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]"):
        return "it looks like a pickle (e.g. from torch.save or pickle.dump), which chainrule never loads"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array, not a chainrule .npz archive"
    if head.lstrip()[:1] in (b"{", b"["):
        return "it looks like a JSON file, not a chainrule .npz archive"
    return f"it is not a chainrule checkpoint (not a ZIP/.npz archive; it starts with {head[:8]!r})"


def _walk_arrays(node: Any, found: dict[str, tuple[str, tuple[int, ...]]], path: str) -> None:
    """Collect every array reference of a JSON tree: key → (dtype, shape)."""
    if isinstance(node, list):
        for item in node:
            _walk_arrays(item, found, path)
    elif isinstance(node, dict):
        if node.get(TAG) in _ARRAY_TAGS:
            key, dtype, shape = node.get("key"), node.get("dtype"), node.get("shape")
            if (
                not isinstance(key, str) or key == HEADER_KEY or not isinstance(dtype, str)
                or not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape)
            ):
                raise _fail(path, f"the structure document has a malformed array entry: {node!r:.200}")
            if key in found:
                raise _fail(path, f"the structure document refers to the array {key!r} twice")
            found[key] = (dtype, tuple(shape))
        else:
            for value in node.values():
                _walk_arrays(value, found, path)


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            raise ValueError(f"unexpected JSON value {node!r:.100}")
        tag = node.get(TAG)
        if tag is None:
            return {k: self.decode(v) for k, v in node.items()}
        if tag in _ARRAY_TAGS:
            array = self.arrays[node["key"]]
            return array[()] if tag == "scalar" else array
        if tag == "tuple":
            return tuple(self.decode(v) for v in node["items"])
        if tag == "dict":
            out = {}
            for key, value in node["items"]:
                out[self.decode(key)] = self.decode(value)
            return out
        if tag == "float":
            if node["value"] not in ("nan", "inf", "-inf"):
                raise ValueError(f"bad float {node['value']!r}")
            return float(node["value"])
        if tag == "bytes":
            return base64.b64decode(node["base64"], validate=True)
        raise ValueError(f"unknown entry type {tag!r}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"the JSON holds {name}, which the format never writes")


def read_archive(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Any]:
    """The JSON document (less its tree) and the decoded value of a chainrule archive; never unpickles.

    A missing file raises ``FileNotFoundError``; anything that is not an intact chainrule archive raises
    ``CheckpointError`` naming the file and the problem.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(_ZIP_MAGIC):
        raise _fail(path, _describe_foreign(head))
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = set(npz.files)
            if HEADER_KEY not in names:
                raise _fail(
                    path,
                    f"it is a .npz archive without chainrule's {HEADER_KEY!r} entry (a plain numpy.savez file?); "
                    f"its members are {sorted(names)[:10]}",
                )
            raw = npz[HEADER_KEY]
            if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8 or raw.ndim != 1:
                raise _fail(path, f"the {HEADER_KEY!r} entry is not a 1-d uint8 array")
            try:
                doc = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_reject_constant)
            except (UnicodeDecodeError, ValueError) as e:
                raise _fail(path, f"the structure document is not valid JSON ({e})") from e
            if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
                found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
                raise _fail(path, f"the structure document is not in chainrule's format (format={found!r})")
            version = doc.get("version")
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise _fail(path, f"the structure document has no valid format version (version={version!r})")
            if version > FORMAT_VERSION:
                raise _fail(
                    path,
                    f"it was written in format version {version}, newer than this chainrule supports "
                    f"({FORMAT_VERSION}); upgrade chainrule to read it",
                )
            if doc.get("kind") not in KINDS or "tree" not in doc:
                raise _fail(path, f"the structure document has an unknown kind {doc.get('kind')!r} or no tree")
            refs: dict[str, tuple[str, tuple[int, ...]]] = {}
            _walk_arrays(doc["tree"], refs, path)
            missing = sorted(set(refs) - names)
            if missing:
                raise _fail(path, f"the archive lacks the array member(s) {missing[:10]} its structure refers to")
            unexpected = sorted(names - set(refs) - {HEADER_KEY})
            if unexpected:
                raise _fail(path, f"the archive has member(s) {unexpected[:10]} its structure does not describe")
            arrays: dict[str, np.ndarray] = {}
            for key, (dtype, shape) in refs.items():
                array = npz[key]  # ValueError for an object (pickled) member: allow_pickle=False
                if not isinstance(array, np.ndarray):
                    raise _fail(path, f"the member {key!r} is not a .npy array")
                if array.dtype.str != dtype or array.shape != shape:
                    raise _fail(
                        path,
                        f"the member {key!r} holds {array.dtype.str} {array.shape}, the structure says {dtype} "
                        f"{shape}",
                    )
                arrays[key] = array
            try:
                value = _Decoder(arrays).decode(doc["tree"])
            except (KeyError, TypeError, ValueError, IndexError, RecursionError) as e:
                raise _fail(path, f"the structure document is malformed ({type(e).__name__}: {e})") from e
    except CheckpointError:
        raise
    except (
        zipfile.BadZipFile, zlib.error, struct.error, ValueError, TypeError, OSError, EOFError, KeyError, IndexError,
        OverflowError, NotImplementedError, RecursionError,
    ) as e:
        problem = str(e) or type(e).__name__
        if "pickle" in problem.lower():
            problem = f"it holds pickled (object) data, which chainrule never loads ({problem})"
        else:
            problem = f"it is damaged or not a valid .npz archive ({type(e).__name__}: {problem})"
        raise _fail(path, problem) from e
    header = {k: v for k, v in doc.items() if k != "tree"}
    return header, value


def load(path: str | os.PathLike[str]) -> Any:
    """Load a value saved by ``save`` (or a checkpoint by ``save_checkpoint``, as its dict).

    Arrays and Tensors come back as NumPy arrays (read-write, with the saved dtype and shape), NumPy scalars as
    NumPy scalars, tuples as tuples, dicts as plain dicts (in their saved order). Raises ``CheckpointError``
    for a file that is not an intact chainrule archive; never unpickles anything.
    """
    return read_archive(path)[1]
