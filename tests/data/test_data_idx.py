"""read_idx: round trips for every type code, gzip detected by its magic bytes, and precise errors."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from data_helpers import idx_bytes, write_idx

from chainrule.data import DataError, idx_sha256, read_idx
from chainrule.errors import ChainruleError

DTYPES = ["u1", "i1", "i2", "i4", "f4", "f8"]


def _values(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(0)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, shape, endpoint=True, dtype=dt)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_type_code(tmp_path, dtype, compress):
    for shape in [(7,), (5, 3, 4), (2, 1, 3, 2)]:
        a = _values(dtype, shape)
        path = write_idx(tmp_path / f"a{len(shape)}.idx", a, compress=compress)
        b = read_idx(path)
        assert b.shape == a.shape
        assert b.dtype == np.dtype(dtype).newbyteorder("=") and b.dtype.isnative
        np.testing.assert_array_equal(b, a)
        assert b.flags.writeable


def test_known_bytes(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(bytes([0, 0, 0x0B, 1, 0, 0, 0, 3]) + bytes([0x01, 0x02, 0xFF, 0xFE, 0x00, 0x07]))
    np.testing.assert_array_equal(read_idx(path), np.array([0x0102, -2, 7], dtype=np.int16))


def test_gzip_detected_by_magic_not_by_name(tmp_path):
    a = _values("u1", (4, 5, 6))
    gz_without_suffix = write_idx(tmp_path / "images-idx3-ubyte", a, compress=True)
    raw_with_suffix = write_idx(tmp_path / "images-idx3-ubyte.gz", a, compress=False)
    assert gz_without_suffix.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(gz_without_suffix), a)
    np.testing.assert_array_equal(read_idx(raw_with_suffix), a)
    np.testing.assert_array_equal(read_idx(str(raw_with_suffix)), a)


def test_empty_dimension(tmp_path):
    a = np.zeros((0, 28, 28), dtype=np.uint8)
    assert read_idx(write_idx(tmp_path / "empty.gz", a)).shape == (0, 28, 28)


def test_idx_sha256_is_the_digest_of_the_uncompressed_file(tmp_path):
    for dtype in DTYPES:
        a = _values(dtype, (3, 4))
        assert idx_sha256(a) == hashlib.sha256(idx_bytes(a)).hexdigest()
        assert idx_sha256(read_idx(write_idx(tmp_path / "x.gz", a))) == hashlib.sha256(idx_bytes(a)).hexdigest()


def _raises(path: Path, *fragments: str) -> DataError:
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(path.name + ":"), message
    for fragment in fragments:
        assert fragment in message, message
    return info.value


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_truncated(tmp_path, compress):
    data = idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8))[: 16 + 1000]
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(data) if compress else data)
    err = _raises(path, "truncated: header says 10×28×28 = 7840 bytes of data, found 1000")
    assert isinstance(err, ChainruleError) and isinstance(err, ValueError)


def test_truncated_wider_items(tmp_path):
    path = tmp_path / "floats.idx"
    path.write_bytes(idx_bytes(np.zeros((4, 3), dtype=np.float64))[:-10])
    _raises(path, "truncated", "4×3 values of float64 (8 bytes each) = 96 bytes of data, found 86")


def test_trailing_data(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)) + b"xyz")
    _raises(path, "trailing data", "header says 5 = 5 bytes of data, found 8")


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_wrong_magic(tmp_path, compress):
    data = bytes([0x08, 0x03, 0, 0]) + idx_bytes(np.zeros((2, 2), dtype=np.uint8))[4:]
    path = tmp_path / "bad-magic.gz"
    path.write_bytes(gzip.compress(data) if compress else data)
    _raises(path, "bad magic number 0x08030000")


def test_unknown_type_code(tmp_path):
    path = tmp_path / "code.idx"
    path.write_bytes(bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 0]))
    _raises(path, "unknown IDX type code 0x0A")


def test_wrong_dims(tmp_path):
    path = tmp_path / "dims.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + (60000).to_bytes(4, "big") + (28).to_bytes(4, "big"))
    _raises(path, "bad dimensions", "declares 3 dimensions", "after 8 bytes")
    zero = tmp_path / "zero-dims.idx"
    zero.write_bytes(bytes([0, 0, 0x08, 0]))
    _raises(zero, "0 dimensions")


def test_too_short(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(b"\x00\x00")
    _raises(path, "too short for an IDX header")


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_header_claiming_too_much_is_refused_without_allocating_it(tmp_path, compress):
    data = bytes([0, 0, 0x0E, 3]) + b"\xff\xff\xff\xff" * 3 + b"\x00" * 64
    path = tmp_path / "huge.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    if compress:  # the length of a gzip stream is unknown until it is read: refused on the declared size alone
        _raises(path, "more than this machine's memory")
    else:
        _raises(path, "truncated", "found 64")


def test_corrupted_gzip(tmp_path):
    good = gzip.compress(idx_bytes(_values("u1", (50, 28, 28))))
    flipped = bytearray(good)
    for i in range(40, len(flipped) - 20, 97):
        flipped[i] ^= 0xFF
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(bytes(flipped))
    _raises(path, "corrupted gzip data")
    cut = tmp_path / "cut-idx3-ubyte.gz"
    cut.write_bytes(good[: len(good) // 2])
    _raises(cut, "corrupted gzip data")
    bad_crc = bytearray(good)
    bad_crc[-8] ^= 0xFF
    crc = tmp_path / "crc-idx3-ubyte.gz"
    crc.write_bytes(bytes(bad_crc))
    _raises(crc, "corrupted gzip data")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


def test_nothing_is_unpickled():
    root = Path(__file__).resolve().parents[2] / "src" / "chainrule" / "data"
    for name in ("idx.py", "mnist.py", "dataset.py", "loader.py", "digits.py", "transforms.py"):
        source = root / name
        text = source.read_text()
        assert "pickle" not in text.replace("unpickle", ""), source
        assert "np.load(" not in text, source
