"""Reading IDX files: the format of MNIST, Fashion-MNIST, KMNIST and EMNIST.

An IDX file is a header and a block of numbers::

    byte 0, 1    0x00 0x00                  (magic, part 1)
    byte 2       type code                  0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte 3       number of dimensions n
    n × 4 bytes  the size of each dimension, big-endian unsigned 32-bit integers
    the rest     the values, big-endian, in C (row-major) order

Files come gzip-compressed (``.gz``) or raw; ``read_idx`` tells them apart by the gzip magic bytes
(``1f 8b``), not by the file name. It checks the header and that the data is exactly as long as the header
says, and raises ``DataError`` naming the file and the problem otherwise. A header that declares more data than
this machine's memory is refused before anything is allocated, and a compressed stream is never inflated much
past the length its header declares (a gzip bomb stops there). Nothing is ever unpickled.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from typing import IO

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.ops import operands

__all__ = [
    "DataError", "DataNotFoundError", "IDX_TYPES", "MissingDependencyError", "idx_header", "idx_sha256", "read_idx",
]


class DataError(ChainruleError, ValueError):
    """A data file, data set or loader argument is wrong: bad IDX file, digest mismatch, bad sizes."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data set's files are nowhere to be found (and downloading was not asked for)."""


class MissingDependencyError(DataError, ImportError):
    """A data set needs an optional package that is not installed; the message names the extra to install.

    An ``ImportError`` too, so ``except ImportError`` keeps working; ``name`` is the missing module.
    """


# type code -> big-endian NumPy dtype
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_PREALLOCATE = 1 << 28  # up to 256 MiB, allocate what the header says at once
# Past the end the header declares, a compressed stream is counted this far and no further: enough to say that
# the file is too long, while a stream that inflates without end (a gzip bomb) is never read to its end.
_TRAILING_LIMIT = 1 << 24


def _type_code(dtype: np.dtype) -> int:
    try:
        return _CODES[np.dtype(dtype).newbyteorder("=")]
    except KeyError:
        names = ", ".join(str(d) for d in _CODES)
        raise DataError(f"IDX files hold {names}; got dtype {np.dtype(dtype)}") from None


def idx_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """The IDX header of an array of ``shape`` and ``dtype``."""
    header = bytes([0, 0, _type_code(dtype), len(shape)])
    return header + b"".join(int(n).to_bytes(4, "big") for n in shape)


def idx_sha256(array: np.ndarray) -> str:
    """SHA-256 (hex) of ``array`` written as an uncompressed IDX file: the digest of a file's *contents*.

    It does not depend on how the file was compressed, so one digest checks an official ``.gz``, a
    recompressed copy (the Debian package's) and a gunzipped copy alike.
    """
    array = np.asarray(array)
    digest = hashlib.sha256(idx_header(array.shape, array.dtype))
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">"))
    digest.update(memoryview(data).cast("B"))
    return digest.hexdigest()


def _describe(dims: tuple[int, ...], dtype: np.dtype, nbytes: int) -> str:
    shape = "×".join(str(n) for n in dims)
    if dtype.itemsize == 1:
        return f"{shape} = {nbytes} bytes of data"
    return f"{shape} values of {dtype.newbyteorder('=')} ({dtype.itemsize} bytes each) = {nbytes} bytes of data"


def _read_fully(stream: IO[bytes], buffer: memoryview) -> int:
    """Read into ``buffer`` until it is full or the stream ends; the number of bytes read."""
    done = 0
    while done < len(buffer):
        n = stream.readinto(buffer[done:])
        if not n:
            break
        done += n
    return done


def _size_left(stream: IO[bytes]) -> int | None:
    """Bytes left in a plain file, or None for a stream whose length is not known (gzip)."""
    if isinstance(stream, gzip.GzipFile):
        return None
    try:
        return os.fstat(stream.fileno()).st_size - stream.tell()
    except (AttributeError, OSError, ValueError):
        return None


def _count_rest(stream: IO[bytes], limit: int) -> int:
    """Bytes left in ``stream``, counted (never kept) up to ``limit``; more than ``limit`` counts as ``limit + 1``."""
    total = 0
    while total <= limit and (chunk := stream.read(min(_CHUNK, limit + 1 - total))):
        total += len(chunk)
    return total


def _check_memory(name: str, dims: tuple[int, ...], dtype: np.dtype, nbytes: int) -> None:
    """Refuse a header that declares more data than this machine's memory, before anything is allocated."""
    if nbytes > operands.MEMORY_BYTES:
        raise DataError(
            f"{name}: the header declares {_describe(dims, dtype, nbytes)} ({nbytes / 2**30:.3g} GiB), more than "
            f"this machine's memory ({operands.MEMORY_BYTES / 2**30:.3g} GiB); the file is damaged or not an IDX "
            f"file: check or fetch it again"
        )


def _parse(stream: IO[bytes], name: str) -> np.ndarray:
    head = stream.read(4)
    if len(head) < 4:
        raise DataError(f"{name}: too short for an IDX header: {len(head)} bytes, a header has at least 4")
    if head[0] != 0 or head[1] != 0:
        raise DataError(
            f"{name}: bad magic number 0x{head[:4].hex()}: an IDX file starts with two zero bytes, "
            f"a type code and the number of dimensions (MNIST images: 0x00000803)"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} {d.newbyteorder('=')}" for c, d in IDX_TYPES.items())
        raise DataError(f"{name}: unknown IDX type code 0x{code:02X} in the magic number (known: {known})")
    if ndim == 0:
        raise DataError(f"{name}: the header declares 0 dimensions; an IDX file has at least one")
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(
            f"{name}: bad dimensions: the header declares {ndim} dimensions ({4 * ndim} bytes of sizes) "
            f"but the file ends after {len(raw_dims)} bytes of them"
        )
    dims = tuple(int.from_bytes(raw_dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    dtype = IDX_TYPES[code]
    count = 1
    for n in dims:
        count *= n
    nbytes = count * dtype.itemsize
    size = _size_left(stream)
    if size is not None and size < nbytes:  # a raw file: say so before allocating what the header claims
        raise DataError(f"{name}: truncated: header says {_describe(dims, dtype, nbytes)}, found {size}")
    _check_memory(name, dims, dtype, nbytes)
    if nbytes <= _PREALLOCATE or size is not None:
        out = np.empty(count, dtype=dtype)
        got = _read_fully(stream, memoryview(out).cast("B"))
    else:  # a compressed stream whose header claims a lot: grow as data arrives, never trust the header
        chunks, got = [], 0
        while got < nbytes and (chunk := stream.read(min(_PREALLOCATE, nbytes - got))):
            chunks.append(chunk)
            got += len(chunk)
        out = np.frombuffer(bytearray().join(chunks), dtype=dtype) if got == nbytes else None
    if got < nbytes:
        raise DataError(f"{name}: truncated: header says {_describe(dims, dtype, nbytes)}, found {got}")
    extra = size - nbytes if size is not None else _count_rest(stream, _TRAILING_LIMIT)
    if extra:
        found = f"{nbytes + extra} ({extra} bytes too many)"
        if size is None and extra > _TRAILING_LIMIT:
            found = f"more than {nbytes + _TRAILING_LIMIT} (over {_TRAILING_LIMIT} bytes too many; not read further)"
        raise DataError(
            f"{name}: trailing data: header says {_describe(dims, dtype, nbytes)}, found {found}; the dimensions "
            f"in the header may be wrong"
        )
    if not dtype.isnative:
        out = out.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return out.reshape(dims)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in the IDX file at ``path`` (gzip-compressed or raw), in native byte order.

    Raises ``DataError`` naming the file when the gzip stream is corrupt, the magic number or type code is
    wrong, the dimensions are cut short, the header declares more data than this machine's memory, or the data
    is shorter or longer than the header's product of dimensions × item size. A missing file raises
    ``FileNotFoundError``.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            return _parse(raw, name)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _parse(stream, name)
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; a cut stream, EOFError
            raise DataError(f"{name}: corrupted gzip data: {e}") from None
