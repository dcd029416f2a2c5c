"""The MNIST family: ``FashionMNIST``, ``MNIST`` and ``KMNIST``, read from their official IDX files.

Where the files are looked for, in order (the first folder holding both files of the split wins):

1. ``root``, if given (and ``root/<ClassName>/raw``, where torchvision keeps them);
2. the system folder of a distribution package: ``/usr/share/datasets/fashion-mnist`` for Fashion-MNIST
   (Debian/Ubuntu: ``sudo apt-get install dataset-fashion-mnist``);
3. the user cache: ``$CHAINRULE_DATA/<name>`` when ``CHAINRULE_DATA`` is set, else
   ``~/.cache/chainrule/<name>`` (``$XDG_CACHE_HOME/chainrule/<name>`` when that is set).

Each file may be the official ``.gz`` or its gunzipped copy. With ``download=True``, missing files are fetched
from the official mirrors (urllib) into the cache: each is written to a temporary file in the cache folder,
its SHA-256 checked, and only then renamed into place, so no half-written file is ever left under the real
name; on a digest mismatch the temporary file is deleted and ``DataError`` names the file and both digests.

Two digests per file (``FileSpec``): ``sha256`` of the file exactly as the mirrors serve it (checks downloads,
and a local copy under the official ``.gz`` name when no contents digest is known) and, when known,
``idx_sha256`` of its uncompressed IDX contents (checks any local copy, whatever its compression: the Debian
package recompresses the files, so its ``.gz`` bytes differ from the mirrors'). All three data sets check every
download by SHA-256; Fashion-MNIST also knows its contents digests. A ``FileSpec`` without digests (a subclass's
own files) is checked by parsing it as an IDX file. A download is bounded: ``MAX_DOWNLOAD_BYTES`` per file,
``DOWNLOAD_TIMEOUT_S`` of silence and ``DOWNLOAD_DEADLINE_S`` in all.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar

import numpy as np

from chainrule.data.dataset import ImageDataset
from chainrule.data.idx import DataError, DataNotFoundError, idx_sha256, read_idx
from chainrule.errors import ShapeError

__all__ = ["KMNIST", "MNIST", "FashionMNIST", "FileSpec", "IDXImageDataset", "data_home"]

# Limits of one download, far above what a good mirror needs (the largest official file is 18 MB): a mirror that
# sends without end, trickles or stalls is given up instead of filling the disk or hanging the program.
#: Bytes one file may have; more is refused as soon as it arrives.
MAX_DOWNLOAD_BYTES = 1 << 28
#: Seconds to connect, and that a mirror may stay silent while sending.
DOWNLOAD_TIMEOUT_S = 30.0
#: Seconds one file may take in all, from connecting to its last byte.
DOWNLOAD_DEADLINE_S = 600.0
_CHUNK = 1 << 16


@dataclass(frozen=True)
class FileSpec:
    """One file of a data set: its name on the mirrors and, when known, its SHA-256 digests (hex)."""

    name: str
    sha256: str | None = None  # of the file as served by the mirrors (the .gz): checks downloads
    idx_sha256: str | None = None  # of the uncompressed IDX contents: checks any local copy


def data_home() -> Path:
    """The folder of chainrule's data cache: ``$CHAINRULE_DATA``, else ``~/.cache/chainrule``."""
    env = os.environ.get("CHAINRULE_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache).expanduser() / "chainrule"


class IDXImageDataset(ImageDataset):
    """A data set of IDX files, one pair (images, labels) per split: the base of ``FashionMNIST`` and co.

    Subclasses set ``folder`` (the cache sub-folder), ``mirrors`` (base URLs, tried in order),
    ``resources`` (split -> (images FileSpec, labels FileSpec)), ``classes``, and optionally
    ``system_dirs`` with the ``apt_package`` that fills them.
    """

    folder: ClassVar[str]
    mirrors: ClassVar[Sequence[str]] = ()
    resources: ClassVar[dict[str, tuple[FileSpec, FileSpec]]] = {}
    system_dirs: ClassVar[Sequence[str]] = ()
    apt_package: ClassVar[str | None] = None
    #: What a missing split raises (with ``download=False``), built from ``_not_found_message``.
    not_found_error: ClassVar[type[DataNotFoundError]] = DataNotFoundError

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable | None = None,
        verify: bool = True,
    ) -> None:
        self.root = root
        self.train = train
        self.split = "train" if train else "test"
        specs = self.resources[self.split]
        found = self._find(specs)
        if found is None:
            if not download:
                raise self.not_found_error(self._not_found_message(specs))
            found = self._download(specs)
        self.folder_path = found
        image_path, label_path = (self._local(found, spec) for spec in specs)
        if verify:
            for spec, path in zip(specs, (image_path, label_path)):
                self._check_file(spec, path)
        images, labels = read_idx(image_path), read_idx(label_path)
        if verify:
            for spec, path, array in zip(specs, (image_path, label_path), (images, labels)):
                self._check_contents(spec, path, array)
        self._check_arrays(image_path, images, label_path, labels)
        super().__init__(images, labels, transform)

    # ----- where the files are -------------------------------------------------------------------------
    @classmethod
    def cache_dir(cls) -> Path:
        return data_home() / cls.folder

    def _search_dirs(self) -> list[tuple[Path, str]]:
        dirs: list[tuple[Path, str]] = []
        if self.root is not None:
            root = Path(self.root).expanduser()
            dirs += [(root, "root"), (root / type(self).__name__ / "raw", "root, torchvision's layout")]
        for d in self.system_dirs:
            dirs.append((Path(d), f"installed by the package {self.apt_package}" if self.apt_package else "system"))
        dirs.append((self.cache_dir(), "user cache; set CHAINRULE_DATA to move it"))
        return dirs

    @staticmethod
    def _local(folder: Path, spec: FileSpec) -> Path | None:
        """The file of ``spec`` in ``folder``: the official name, or the name without ``.gz``."""
        names = [spec.name] + ([spec.name[:-3]] if spec.name.endswith(".gz") else [])
        for name in names:
            path = folder / name
            if path.is_file():
                return path
        return None

    def _find(self, specs: Sequence[FileSpec]) -> Path | None:
        for folder, _ in self._search_dirs():
            if all(self._local(folder, spec) is not None for spec in specs):
                return folder
        return None

    def _not_found_message(self, specs: Sequence[FileSpec]) -> str:
        name = type(self).__name__
        files = " and ".join(spec.name for spec in specs)
        looked = "\n".join(f"  {folder} ({why})" for folder, why in self._search_dirs())
        ways = []
        if self.apt_package:
            ways.append(f"  - install the Debian/Ubuntu package: sudo apt-get install {self.apt_package}")
        ways.append(
            f"  - or pass download=True to fetch them from {self.mirrors[0] if self.mirrors else 'the mirrors'} "
            f"into {self.download_dir()}"
        )
        ways.append("  - or put the files in a folder and pass it as root=")
        return (
            f"{name}: the {self.split} files {files} (or their gunzipped copies) were not found. Looked in:\n"
            f"{looked}\nTo get them:\n" + "\n".join(ways)
        )

    # ----- checks --------------------------------------------------------------------------------------
    def _check_file(self, spec: FileSpec, path: Path) -> None:
        """Check a local copy under the official name by the mirrors' digest, when no contents digest is known."""
        if spec.idx_sha256 is not None or spec.sha256 is None or path.name != spec.name:
            return
        actual = file_sha256(path)
        if actual != spec.sha256:
            raise DataError(
                f"{path}: the file is not the official {spec.name}: expected SHA-256 {spec.sha256}, got {actual}. "
                f"It may be damaged or another version; delete it (download=True fetches a fresh copy) or pass "
                f"verify=False"
            )

    def _check_contents(self, spec: FileSpec, path: Path, array: np.ndarray) -> None:
        if spec.idx_sha256 is None:
            return
        actual = idx_sha256(array)
        if actual != spec.idx_sha256:
            raise DataError(
                f"{path}: the contents do not match the official {spec.name}: expected SHA-256 "
                f"{spec.idx_sha256} of the uncompressed IDX data, got {actual}. The file may be damaged or "
                f"another version; delete it (download=True fetches a fresh copy) or pass verify=False"
            )

    def _check_arrays(self, image_path: Path, images: np.ndarray, label_path: Path, labels: np.ndarray) -> None:
        if images.dtype != np.uint8 or images.ndim != 3:
            raise DataError(f"{image_path}: expected uint8 images N×H×W, got {images.dtype} of shape {images.shape}")
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise DataError(f"{label_path}: expected uint8 labels N, got {labels.dtype} of shape {labels.shape}")
        if len(images) != len(labels):
            raise ShapeError(f"{image_path.name} holds {len(images)} images but {label_path.name} {len(labels)} labels")
        if self.classes and labels.size and int(labels.max()) >= len(self.classes):
            raise DataError(
                f"{label_path}: label {int(labels.max())} is out of range for {len(self.classes)} classes"
            )

    # ----- downloading ---------------------------------------------------------------------------------
    def download_dir(self) -> Path:
        """Where ``download=True`` puts missing files: the user cache (``cache_dir()``)."""
        return self.cache_dir()

    def _download(self, specs: Sequence[FileSpec]) -> Path:
        folder = self.download_dir()
        folder.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            if self._local(folder, spec) is None:
                download_file(spec, folder, self.mirrors, who=type(self).__name__)
        return folder

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.split}: {len(self)} images of 28×28, from {self.folder_path})"


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of the bytes of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, out: IO[bytes], timeout: float, deadline: float, max_bytes: int) -> str:
    """Stream ``url`` into ``out`` within the limits; the SHA-256 (hex) of what arrived."""
    request = urllib.request.Request(url, headers={"User-Agent": "chainrule (urllib)"})
    digest, total = hashlib.sha256(), 0
    give_up = time.monotonic() + deadline
    with urllib.request.urlopen(request, timeout=timeout) as response:
        expected = response.headers.get("Content-Length")
        if expected is not None and expected.isdigit() and int(expected) > max_bytes:
            raise DataError(f"the server announces {expected} bytes, more than the {max_bytes} a download may have")
        # read1: whatever has arrived, so that a mirror trickling a byte at a time still meets the deadline check
        while chunk := response.read1(_CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise DataError(f"more than {max_bytes} bytes arrived, the most a download may have")
            if time.monotonic() > give_up:
                raise DataError(f"not finished after {deadline:g} s ({total} bytes arrived), a download's deadline")
            out.write(chunk)
            digest.update(chunk)
    if expected is not None and expected.isdigit() and int(expected) != total:
        raise DataError(f"incomplete download: the server announced {expected} bytes, {total} arrived")
    return digest.hexdigest()


def _reason(error: BaseException, timeout: float) -> str:
    """What went wrong with one mirror, in a few words."""
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, TimeoutError):
        return f"no answer for {timeout:g} s (timed out)"
    return str(error) or type(error).__name__


def download_file(
    spec: FileSpec,
    folder: Path,
    mirrors: Sequence[str],
    who: str = "download",
    *,
    timeout: float | None = None,
    deadline: float | None = None,
    max_bytes: int | None = None,
) -> Path:
    """Fetch ``spec.name`` into ``folder`` from the first mirror that serves a good copy; its path.

    The bytes go to a temporary file in ``folder``, which is renamed to ``spec.name`` only once its SHA-256
    matches ``spec.sha256`` (or, with no digest configured, once it parses as an IDX file); otherwise the
    temporary file is deleted and the next mirror tried. A mirror is given up when it sends more than
    ``max_bytes``, stays silent for ``timeout`` seconds, or has not finished after ``deadline`` seconds
    (defaults: ``MAX_DOWNLOAD_BYTES``, ``DOWNLOAD_TIMEOUT_S``, ``DOWNLOAD_DEADLINE_S``). When no mirror
    serves a good copy, one ``DataError`` line names the file, every mirror's failure and what to do.
    """
    timeout = DOWNLOAD_TIMEOUT_S if timeout is None else timeout
    deadline = DOWNLOAD_DEADLINE_S if deadline is None else deadline
    max_bytes = MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.name
    failures = []
    for mirror in mirrors:
        url = mirror if mirror.endswith(spec.name) else mirror.rstrip("/") + "/" + spec.name
        print(f"{who}: downloading {url} to {target}", file=sys.stderr)
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{spec.name}.", suffix=".part")
        tmp: Path | None = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                actual = _fetch(url, out, timeout, deadline, max_bytes)
                out.flush()
                os.fsync(out.fileno())
            if spec.sha256 is not None and actual != spec.sha256:
                failures.append(f"{url}: SHA-256 mismatch for {spec.name}: expected {spec.sha256}, got {actual}")
                continue
            if spec.sha256 is None:
                try:
                    read_idx(tmp)
                except DataError as e:
                    failures.append(f"{url}: not a valid IDX file ({e})")
                    continue
            os.replace(tmp, target)
            tmp = None
            return target
        except (urllib.error.URLError, http.client.HTTPException, OSError, DataError) as e:
            failures.append(f"{url}: {_reason(e, timeout)}")
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    listed = "; ".join(failures) or "no mirrors configured"
    raise DataError(
        f"{who}: could not download {spec.name}, nothing was saved ({listed}); try again later, or fetch "
        f"{spec.name} from the data set's site yourself and put it in {folder}"
    )


class FashionMNIST(IDXImageDataset):
    """Zalando's Fashion-MNIST: 28×28 grey images of 10 kinds of clothing, 60000 train / 10000 test.

    https://github.com/zalandoresearch/fashion-mnist . ``FashionMNIST(root=None, train=True,
    download=False, transform=None)``; ``ds[i]`` is (float32 1×28×28 image in [0, 1], int label);
    ``.data`` is uint8 N×28×28, ``.targets`` int64 N. See the module docstring for where files are found.
    """

    folder = "fashion-mnist"
    mirrors = (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    )
    # sha256: the files as served by the mirrors (published in tensorflow/datasets'
    # url_checksums/fashion_mnist.txt); idx_sha256: their uncompressed contents (computed from the Debian
    # package dataset-fashion-mnist 0.0~git20200523.55506a9-1, whose .gz files are recompressed).
    resources = {
        "train": (
            FileSpec(
                "train-images-idx3-ubyte.gz",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            FileSpec(
                "train-labels-idx1-ubyte.gz",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
        ),
        "test": (
            FileSpec(
                "t10k-images-idx3-ubyte.gz",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            FileSpec(
                "t10k-labels-idx1-ubyte.gz",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        ),
    }
    system_dirs = ("/usr/share/datasets/fashion-mnist",)
    apt_package = "dataset-fashion-mnist"
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def _gz_specs(digests: dict[str, str]) -> dict[str, tuple[FileSpec, FileSpec]]:
    """The two splits' files, each with the SHA-256 of the official ``.gz`` (the bytes every mirror serves)."""
    names = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    return {split: (FileSpec(images, digests[images]), FileSpec(labels, digests[labels]))
            for split, (images, labels) in names.items()}


class MNIST(IDXImageDataset):
    """LeCun, Cortes and Burges' handwritten digits: 28×28 grey images, 60000 train / 10000 test.

    Mirrors: PyTorch's copy (ossci-datasets) first, then the original site, which often refuses robots.
    Every file is checked by the SHA-256 of the official ``.gz``: downloads, and local ``.gz`` copies.
    """

    folder = "mnist"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
    resources = _gz_specs({
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    })
    classes = tuple(str(d) for d in range(10))


class KMNIST(IDXImageDataset):
    """Kuzushiji-MNIST (ROIS-DS CODH): 28×28 grey images of 10 cursive Japanese characters, 60000 / 10000.

    http://codh.rois.ac.jp/kmnist/ . Every file is checked by the SHA-256 of the official ``.gz``: downloads,
    and local ``.gz`` copies.
    """

    folder = "kmnist"
    mirrors = ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",)
    resources = _gz_specs({
        "train-images-idx3-ubyte.gz": "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
        "train-labels-idx1-ubyte.gz": "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
        "t10k-images-idx3-ubyte.gz": "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
        "t10k-labels-idx1-ubyte.gz": "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
    })
    classes = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
