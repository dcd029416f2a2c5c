"""Reading data stays bounded: IDX headers that claim too much, gzip bombs, downloads that send without end,
stall or trickle, files that are not the official ones, and a missing optional dependency."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from data_helpers import SPLIT_FILES, http_server, idx_bytes, serve, sha256_of, write_split

import chainrule.data.mnist as datasets
from chainrule.data import KMNIST, MNIST, DataError, Digits, FashionMNIST, FileSpec, MissingDependencyError, read_idx
from chainrule.data.mnist import download_file
from chainrule.errors import ChainruleError
from chainrule.ops import operands

MB = 1 << 20


def _gzip_with_zeros(path: Path, head: bytes, zeros: int) -> Path:
    """``head`` followed by ``zeros`` zero bytes, gzip-compressed, written in chunks (the zeros never sit in memory)."""
    block = bytes(MB)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head)
        for start in range(0, zeros, MB):
            f.write(block[: min(MB, zeros - start)])
    return path


def _peak_bytes(call: Callable[[], object], error: type[BaseException]) -> tuple[BaseException, int]:
    """The error ``call`` raises and the peak of Python and NumPy allocations meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(error) as info:
            call()
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ----- IDX headers and gzip streams --------------------------------------------------------------------------
def test_a_compressed_header_beyond_memory_is_refused_before_allocating(tmp_path):
    head = bytes([0, 0, 0x08, 3]) + (1 << 20).to_bytes(4, "big") * 3  # 2^60 bytes of uint8 declared
    path = tmp_path / "claims-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(head + bytes(1000)))
    error, peak = _peak_bytes(lambda: read_idx(path), DataError)
    message = str(error)
    assert message.startswith("claims-idx3-ubyte.gz: the header declares 1048576×1048576×1048576")
    assert f"= {1 << 60} bytes of data" in message and "more than this machine's memory" in message
    assert "\n" not in message and peak < 4 * MB


def test_a_raw_file_larger_than_memory_is_refused_naming_its_size(tmp_path, monkeypatch):
    path = tmp_path / "big-idx1-ubyte"
    path.write_bytes(idx_bytes(np.zeros(5000, dtype=np.uint8)))
    monkeypatch.setattr(operands, "MEMORY_BYTES", 4096)  # a machine with 4 kB of memory
    with pytest.raises(DataError, match=r"big-idx1-ubyte: the header declares 5000 = 5000 bytes of data .* memory"):
        read_idx(path)
    monkeypatch.undo()
    assert read_idx(path).shape == (5000,)


def test_a_gzip_bomb_after_the_declared_data_is_not_inflated(tmp_path, monkeypatch):
    path = _gzip_with_zeros(tmp_path / "bomb-idx1-ubyte.gz", idx_bytes(np.arange(3, dtype=np.uint8)), 100 * MB)
    inflated = []
    real_read = gzip.GzipFile.read

    def counting_read(self, size=-1):
        data = real_read(self, size)
        inflated.append(len(data))
        return data

    monkeypatch.setattr(gzip.GzipFile, "read", counting_read)
    error, peak = _peak_bytes(lambda: read_idx(path), DataError)
    message = str(error)
    assert message.startswith("bomb-idx1-ubyte.gz: trailing data: header says 3 = 3 bytes of data, found more than")
    assert "not read further" in message
    assert sum(inflated) < 32 * MB and peak < 8 * MB  # of 100 MB in the stream


def test_trailing_and_missing_bytes_say_what_was_expected_and_what_came(tmp_path):
    data = idx_bytes(np.arange(6, dtype=np.int16).reshape(2, 3))
    long, short = tmp_path / "long-idx2", tmp_path / "short-idx2"
    long.write_bytes(data + b"\x00" * 5)
    short.write_bytes(data[:-3])
    with pytest.raises(DataError, match=r"long-idx2: trailing data: .* = 12 bytes of data, found 17 \(5 bytes too"):
        read_idx(long)
    with pytest.raises(DataError, match=r"short-idx2: truncated: .* = 12 bytes of data, found 9(?:\n|$)"):
        read_idx(short)


# ----- downloads -------------------------------------------------------------------------------------------------
class _Misbehaving(http.server.BaseHTTPRequestHandler):
    """Answers every GET in the way ``mode`` says: endless data, a stall, a trickle, or a lying Content-Length."""

    mode = "endless"
    stop: threading.Event

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def do_GET(self):  # noqa: N802 - the base class's name
        self.send_response(200)
        if self.mode == "huge_length":
            self.send_header("Content-Length", str(1 << 40))
        self.end_headers()
        self.wfile.flush()
        with contextlib.suppress(OSError):
            if self.mode == "endless":
                while not self.stop.is_set():
                    self.wfile.write(bytes(64 * 1024))
            elif self.mode == "trickle":
                while not self.stop.wait(0.01):
                    self.wfile.write(b"\x00")
                    self.wfile.flush()
            else:  # stall, or a huge Content-Length the client must refuse before reading
                self.stop.wait(10)


@contextlib.contextmanager
def _misbehaving(mode: str) -> Iterator[str]:
    stop = threading.Event()
    handler = type("Handler", (_Misbehaving,), {"mode": mode, "stop": stop})
    with http_server(handler) as url:
        try:
            yield url
        finally:
            stop.set()  # before the server closes: it waits for its handlers


SPEC = FileSpec("t10k-labels-idx1-ubyte.gz", sha256="0" * 64)


@pytest.mark.parametrize(
    ("mode", "limits", "needle"),
    [
        ("endless", {"max_bytes": 2 * MB}, f"more than {2 * MB} bytes arrived"),
        ("huge_length", {}, f"the server announces {1 << 40} bytes, more than the"),
        ("stall", {"timeout": 0.2}, "no answer for 0.2 s (timed out)"),
        ("trickle", {"timeout": 5, "deadline": 0.3}, "not finished after 0.3 s"),
    ],
)
def test_a_misbehaving_mirror_is_given_up_and_leaves_nothing(tmp_path, mode, limits, needle):
    with _misbehaving(mode) as url, pytest.raises(DataError) as info:
        download_file(SPEC, tmp_path / "cache", [url], who="KMNIST", **limits)
    message = str(info.value)
    assert message.startswith("KMNIST: could not download t10k-labels-idx1-ubyte.gz, nothing was saved")
    assert needle in message and "\n" not in message and f"put it in {tmp_path / 'cache'}" in message
    assert list((tmp_path / "cache").iterdir()) == []  # the partial file is gone


def test_data_sets_download_within_the_module_limits(tmp_path, monkeypatch):
    assert 30 * MB < datasets.MAX_DOWNLOAD_BYTES <= 1 << 30  # far above the largest official file (18 MB)
    assert 0 < datasets.DOWNLOAD_TIMEOUT_S <= 60 and 0 < datasets.DOWNLOAD_DEADLINE_S <= 3600
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "MAX_DOWNLOAD_BYTES", MB)
    with _misbehaving("endless") as url:
        monkeypatch.setattr(MNIST, "mirrors", (url,))
        with pytest.raises(DataError, match=f"more than {MB} bytes arrived"):
            MNIST(train=False, download=True)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_every_official_file_has_a_download_digest():
    for cls in (FashionMNIST, MNIST, KMNIST):
        specs = [spec for pair in cls.resources.values() for spec in pair]
        assert sorted(spec.name for spec in specs) == sorted(SPLIT_FILES["train"] + SPLIT_FILES["test"])
        for spec in specs:
            assert spec.sha256 is not None and len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0, (cls, spec)
    digests = {spec.sha256 for cls in (FashionMNIST, MNIST, KMNIST) for pair in cls.resources.values() for spec in pair}
    assert len(digests) == 12  # twelve different files


@pytest.mark.parametrize("cls", [MNIST, KMNIST], ids=["MNIST", "KMNIST"])
def test_mnist_and_kmnist_downloads_are_checked_by_sha256(tmp_path, monkeypatch, cls):
    served = tmp_path / "served"
    write_split(served, 10)  # under the official names, but not the official bytes
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    name = SPLIT_FILES["test"][0]
    expected = next(spec.sha256 for spec in cls.resources["test"] if spec.name == name)
    with serve(served) as url:
        monkeypatch.setattr(cls, "mirrors", (url,))
        with pytest.raises(DataError) as info:
            cls(train=False, download=True)
    message = str(info.value)
    assert message.startswith(f"{cls.__name__}: could not download {name}, nothing was saved")
    assert f"SHA-256 mismatch for {name}: expected {expected}, got {sha256_of(served / name)}" in message
    assert "\n" not in message and "try again later" in message
    assert list((tmp_path / "cache" / cls.folder).iterdir()) == []


def test_a_local_copy_that_is_not_the_official_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    images, _ = write_split(tmp_path / "root", 7)
    name = SPLIT_FILES["test"][0]
    with pytest.raises(DataError) as info:
        MNIST(root=tmp_path / "root", train=False)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'root' / name}: the file is not the official {name}: expected SHA-256")
    assert f"got {sha256_of(tmp_path / 'root' / name)}" in message and "verify=False" in message
    np.testing.assert_array_equal(MNIST(root=tmp_path / "root", train=False, verify=False).data, images)


# ----- optional dependencies --------------------------------------------------------------------------------
def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(MissingDependencyError) as info:
        Digits()
    error = info.value
    assert isinstance(error, ChainruleError) and isinstance(error, ImportError) and error.name == "sklearn"
    assert 'pip install "chainrule[digits]"' in str(error) and "\n" not in str(error)
    assert str(error).startswith("digits: the data set needs scikit-learn")
