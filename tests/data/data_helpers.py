"""Helpers for the data tests: an IDX writer independent of chainrule's reader, synthetic MNIST-like files,
and a local HTTP server (127.0.0.1 only) standing in for the download mirrors."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

TYPE_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` in the IDX format, written from the format's description (not with chainrule's code)."""
    array = np.asarray(array)
    code = TYPE_CODES[array.dtype.str[1:]]
    header = bytes([0, 0, code, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip-compressed when ``compress`` (default: the name ends in .gz)."""
    path = Path(path)
    data = idx_bytes(array)
    if compress if compress is not None else path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random uint8 28×28 images and uint8 labels 0..9."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_split(folder: Path, n: int, seed: int = 0, split: str = "test", gz: bool = True) -> tuple[np.ndarray, ...]:
    """A synthetic split of ``n`` samples in ``folder`` under the official file names; (images, labels)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = synthetic(n, seed)
    for name, array in zip(SPLIT_FILES[split], (images, labels)):
        write_idx(folder / (name if gz else name[:-3]), array, compress=gz)
    return images, labels


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@contextlib.contextmanager
def http_server(handler: Any) -> Iterator[str]:
    """Run ``handler`` (a request handler class or factory) on 127.0.0.1 (a free port) in a thread; yields the
    base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    with http_server(functools.partial(_QuietHandler, directory=str(folder))) as url:
        yield url
