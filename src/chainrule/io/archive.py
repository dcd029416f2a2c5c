"""The chainrule archive format: ``save``/``load`` of nested values as one pickle-free ``.npz`` file.

A file is a ZIP archive written by ``numpy.savez``: each array is a member ``a0.npy``, ``a1.npy``, ... and the
member ``__chainrule__.npy`` is a 1-d ``uint8`` array holding a UTF-8 JSON document that describes the whole
value (``docs/checkpoints.md`` has the details)::

    {"format": "chainrule", "version": 1, "kind": "object", "created_by": {...}, "tree": <node>}

A node is plain JSON where the value is plain JSON (None, bools, ints, finite floats, strings, lists, dicts with
string keys); everything else is an object tagged with ``"$type"``: ``ndarray``/``tensor``/``scalar`` (a
reference to an array member, with its dtype and shape), ``tuple``, ``dict`` (non-string keys, as a list of
``[key, value]`` pairs), ``float`` (nan and the infinities) and ``bytes`` (base64).

Loading reads the ZIP members itself, checks everything against the JSON document and bounds every size before
reading it (the document's, each array's by its declared shape and dtype, and their total by this machine's
memory), so a damaged or crafted file is refused without being inflated; nothing is ever unpickled. Files are
written atomically (``atomic_write``): a crash or a kill while writing leaves the previous file as it was.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import re
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
from chainrule.ops import operands
from chainrule.tensor import Tensor
from chainrule.version import __version__

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "CheckpointError", "atomic_write", "load", "save"]

FORMAT_NAME = "chainrule"
#: The version this code writes; files with a higher version are refused, older ones are read.
FORMAT_VERSION = 1
"""The archive format version written; ``load`` reads this and every earlier one and refuses a newer one."""
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
    data = value._data if isinstance(value, Tensor) else value
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
    encoder = _Encoder()
    tree = encoder.encode(value, "obj")
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": kind,
        "created_by": {"chainrule": __version__, "numpy": np.__version__},
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


_TEMP_MARK = ".partial-"
_TEMP_SUFFIX = ".tmp"
_TEMP_RANDOM = re.compile(r"[a-z0-9_]{8}")  # what tempfile.mkstemp puts between prefix and suffix


def _temp_prefix(path: str) -> str:
    return f".{os.path.basename(path)}{_TEMP_MARK}"


def temp_file_target(path: str | os.PathLike[str]) -> str | None:
    """The file that ``path`` was to become, when ``path`` is named like a temporary file of ``atomic_write``
    (``.NAME.partial-XXXXXXXX.tmp`` → ``NAME`` in the same folder); None for any other name."""
    path = os.fspath(path)
    head, mark, tail = os.path.basename(path).rpartition(_TEMP_MARK)
    if not (head.startswith(".") and len(head) > 1 and mark and tail.endswith(_TEMP_SUFFIX)
            and _TEMP_RANDOM.fullmatch(tail[: -len(_TEMP_SUFFIX)])):
        return None
    return os.path.join(os.path.dirname(path), head[1:])


def is_temp_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is named like a temporary file of ``atomic_write``: the unfinished copy of a file that
    a killed write left, never a file to read."""
    return temp_file_target(path) is not None


def temp_files(path: str | os.PathLike[str]) -> list[str]:
    """The temporary files that unfinished ``atomic_write`` calls for ``path`` left beside it (sorted paths).

    A process killed between creating its temporary file and the rename leaves one; the file at ``path`` is
    still the previous complete version, so these can be deleted (when nothing is writing ``path`` now).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temp_prefix(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(os.path.join(directory, n) for n in names if n.startswith(prefix) and is_temp_file(n))


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Write a file all at once or not at all: ``write(f)`` fills a temporary file beside ``path``.

    The temporary file (``.NAME.partial-XXXXXXXX.tmp`` in the same directory, see ``temp_files``) is flushed
    and fsynced, given the mode the file would get (the existing file's mode, else 0o666 less the umask), then
    renamed onto ``path`` with ``os.replace`` (atomic on POSIX and Windows), and the directory is fsynced. If
    anything fails, the temporary file is removed and ``path`` keeps its previous contents; a process killed
    mid-write can leave such a temporary file behind, never a half-written ``path``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX, dir=directory)
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
    if len(document) > MAX_DOCUMENT_BYTES:  # loading refuses a larger one: never write what cannot be read back
        raise CheckpointError(
            f"cannot save to {os.fspath(path)!r}: the value's structure (everything but its arrays) takes "
            f"{len(document)} bytes of JSON, more than the {MAX_DOCUMENT_BYTES} a file may hold; store long lists "
            f"or large bytes as NumPy arrays",
            os.fspath(path),
        )
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
#: The most bytes the structure document may have. A model's is a few kB; the cap keeps a crafted file from
#: inflating gigabytes of JSON. ``save`` refuses a value whose document would be larger.
MAX_DOCUMENT_BYTES = 1 << 26
# What a .npy member may hold beyond its data: magic, version and header (numpy caps the header at 10000 bytes).
_NPY_HEADER_BYTES = 1 << 16
_READ_CHUNK = 1 << 20
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what numpy.savez(_compressed) writes


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


def _is_count(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


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
                or not isinstance(shape, list) or not all(_is_count(n) for n in shape)
                or (node[TAG] == "scalar" and shape)
            ):
                raise _fail(path, f"the structure document has a malformed array entry: {node!r:.200}")
            if key in found:
                raise _fail(path, f"the structure document refers to the array {key!r} twice")
            found[key] = (dtype, tuple(shape))
        else:
            for value in node.values():
                _walk_arrays(value, found, path)


def _pairs(node: dict[str, Any], size: int | None) -> list[Any]:
    """The ``items`` list of a tagged node (each of ``size`` entries, when given): nothing else is iterated."""
    items = node["items"]
    if not isinstance(items, list) or (size is not None and not all(
            isinstance(item, list) and len(item) == size for item in items)):
        raise ValueError(f"malformed {node[TAG]} items {items!r:.100}")
    return items


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
            return tuple(self.decode(v) for v in _pairs(node, None))
        if tag == "dict":
            out = {}
            for key, value in _pairs(node, 2):
                out[self.decode(key)] = self.decode(value)
            return out
        if tag == "float":
            if not isinstance(node["value"], str) or node["value"] not in ("nan", "inf", "-inf"):
                raise ValueError(f"bad float {node['value']!r}")
            return float(node["value"])
        if tag == "bytes":
            if not isinstance(node["base64"], str):
                raise ValueError(f"bad bytes {node['base64']!r:.100}")
            return base64.b64decode(node["base64"], validate=True)
        raise ValueError(f"unknown entry type {tag!r}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"the JSON holds {name}, which the format never writes")


def _finite_float(text: str) -> float:
    """A JSON number as a float; one too large for a float (``1e999``) is refused, not read as infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} does not fit in a float (the format writes ±inf as a tagged entry)")
    return value


def _members(archive: zipfile.ZipFile, path: str) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by key (the name less ``.npy``, as numpy.load names them); a name met twice, an
    encrypted member or a compression numpy never writes is refused."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if key in members:
            raise _fail(path, f"the archive holds two members named {info.filename!r}")
        if info.flag_bits & 0x1:
            raise _fail(path, f"the member {info.filename!r} is encrypted, which chainrule never writes")
        if info.compress_type not in _COMPRESSIONS:
            raise _fail(path, f"the member {info.filename!r} uses ZIP compression method {info.compress_type}; "
                              f"chainrule archives are stored or deflated")
        members[key] = info
    return members


def _declared_dtype(path: str, key: str, text: str) -> np.dtype:
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError) as e:
        raise _fail(path, f"the structure document gives the array {key!r} an unknown dtype {text!r:.40}") from e
    if dtype.hasobject or dtype.kind not in _DTYPE_KINDS or dtype.names is not None or dtype.subdtype is not None:
        raise _fail(path, f"the structure document gives the array {key!r} the dtype {text!r}, which chainrule "
                          f"never writes (object arrays would need pickle)")
    return dtype


def _check_sizes(path: str, members: dict[str, zipfile.ZipInfo], refs: dict[str, tuple[str, tuple[int, ...]]]) -> None:
    """Refuse, before reading any array, what would not fit in memory or inflates past its declared size."""
    total, largest = 0, ("", 0)
    for key, (dtype_text, shape) in refs.items():
        nbytes = math.prod(shape) * _declared_dtype(path, key, dtype_text).itemsize
        total += nbytes
        largest = max(largest, (key, nbytes), key=lambda pair: pair[1])
        size = members[key].file_size
        if size > nbytes + _NPY_HEADER_BYTES:
            raise _fail(path, f"the member {key!r} inflates to {size} bytes, but its declared shape {shape} and dtype "
                              f"{dtype_text} need {nbytes} bytes of data (a .npy header adds at most "
                              f"{_NPY_HEADER_BYTES}): the file is damaged or crafted")
    if total > operands.MEMORY_BYTES:
        raise _fail(path, f"its arrays would take {total} bytes ({total / 2**30:.3g} GiB; the largest, {largest[0]!r}, "
                          f"{largest[1]} bytes), more than this machine's memory "
                          f"({operands.MEMORY_BYTES / 2**30:.3g} GiB): the file is damaged or crafted")


def _npy_header(stream: IO[bytes], path: str, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) from the header of a .npy member; object (pickled) data is refused."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise _fail(path, f"the member {key!r} is a .npy file of version {version}, which chainrule never writes")
    if dtype.hasobject:
        raise _fail(path, f"the member {key!r} holds pickled (object) data, which chainrule never loads")
    return shape, fortran, dtype


def _read_data(stream: IO[bytes], shape: tuple[int, ...], fortran: bool, dtype: np.dtype, path: str, key: str
               ) -> np.ndarray:
    """The array data after a .npy header, read in bounded chunks straight into the array; no byte more."""
    array = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
    buffer = memoryview(array.reshape(-1).view(np.uint8))
    done = 0
    while done < len(buffer):
        n = stream.readinto(buffer[done : done + _READ_CHUNK])
        if not n:
            raise _fail(path, f"the member {key!r} is cut short: {done} of {len(buffer)} bytes of data")
        done += n
    if stream.read(1):
        raise _fail(path, f"the member {key!r} holds more data than its shape {shape} and dtype {dtype.str} need")
    return array.T if fortran else array


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, dtype: str, shape: tuple[int, ...],
                path: str) -> np.ndarray:
    with archive.open(info) as stream:
        found_shape, fortran, found_dtype = _npy_header(stream, path, key)
        if found_dtype.str != dtype or found_shape != shape:
            raise _fail(path, f"the member {key!r} holds {found_dtype.str} {found_shape}, the structure says "
                              f"{dtype} {shape}")
        return _read_data(stream, shape, fortran, found_dtype, path, key)


def _read_document(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> dict[str, Any]:
    """The structure document, its size capped before it is inflated, checked for chainrule's format."""
    if info.file_size > MAX_DOCUMENT_BYTES + _NPY_HEADER_BYTES:
        raise _fail(path, f"the {HEADER_KEY!r} entry inflates to {info.file_size} bytes, more than the "
                          f"{MAX_DOCUMENT_BYTES} a structure document may have: the file is damaged or crafted")
    with archive.open(info) as stream:
        shape, fortran, dtype = _npy_header(stream, path, HEADER_KEY)
        if dtype != np.uint8 or len(shape) != 1:
            raise _fail(path, f"the {HEADER_KEY!r} entry is not a 1-d uint8 array")
        if shape[0] > MAX_DOCUMENT_BYTES:
            raise _fail(path, f"the structure document declares {shape[0]} bytes, more than the {MAX_DOCUMENT_BYTES} "
                              f"it may have: the file is damaged or crafted")
        raw = _read_data(stream, shape, fortran, dtype, path, HEADER_KEY)
    try:
        doc = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
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
    return doc


def _read_zip(archive: zipfile.ZipFile, path: str) -> tuple[dict[str, Any], Any]:
    members = _members(archive, path)
    names = set(members)
    if HEADER_KEY not in names:
        raise _fail(
            path,
            f"it is a .npz archive without chainrule's {HEADER_KEY!r} entry (a plain numpy.savez file?); "
            f"its members are {sorted(names)[:10]}",
        )
    doc = _read_document(archive, members[HEADER_KEY], path)
    refs: dict[str, tuple[str, tuple[int, ...]]] = {}
    _walk_arrays(doc["tree"], refs, path)
    missing = sorted(set(refs) - names)
    if missing:
        raise _fail(path, f"the archive lacks the array member(s) {missing[:10]} its structure refers to")
    unexpected = sorted(names - set(refs) - {HEADER_KEY})
    if unexpected:
        raise _fail(path, f"the archive has member(s) {unexpected[:10]} its structure does not describe")
    _check_sizes(path, members, refs)
    arrays = {key: _read_array(archive, members[key], key, dtype, shape, path) for key, (dtype, shape) in refs.items()}
    try:
        value = _Decoder(arrays).decode(doc["tree"])
    except (KeyError, TypeError, ValueError, IndexError, RecursionError) as e:
        raise _fail(path, f"the structure document is malformed ({type(e).__name__}: {e})") from e
    return doc, value


def read_archive(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Any]:
    """The JSON document (less its tree) and the decoded value of a chainrule archive; never unpickles.

    Every size is checked before it is read: the structure document is capped at ``MAX_DOCUMENT_BYTES``; each
    array member may inflate only to what its declared shape and dtype need (a ZIP bomb is refused without
    being inflated) and all of them together must fit in this machine's memory. A missing file raises
    ``FileNotFoundError``; anything that is not an intact chainrule archive raises ``CheckpointError`` naming
    the file and the problem.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(_ZIP_MAGIC):
        raise _fail(path, _describe_foreign(head))
    try:
        with zipfile.ZipFile(path) as archive:
            doc, value = _read_zip(archive, path)
    except CheckpointError:
        raise
    except (
        zipfile.BadZipFile, zlib.error, struct.error, ValueError, TypeError, OSError, EOFError, KeyError, IndexError,
        OverflowError, NotImplementedError, RecursionError, RuntimeError,
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
