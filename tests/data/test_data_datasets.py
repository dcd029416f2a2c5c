"""FashionMNIST / MNIST / KMNIST: where files are looked for, what comes out, the checks on the files, and the
real Fashion-MNIST when the Debian package dataset-fashion-mnist is installed."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from data_helpers import SPLIT_FILES, write_idx, write_split

from chainrule.data import KMNIST, MNIST, DataError, DataLoader, DataNotFoundError, FashionMNIST, FileSpec, transforms
from chainrule.data.loader import default_collate
from chainrule.data.mnist import data_home
from chainrule.errors import ShapeError

SYSTEM = Path("/usr/share/datasets/fashion-mnist")
NO_DIGESTS = {split: (FileSpec(images), FileSpec(labels)) for split, (images, labels) in SPLIT_FILES.items()}


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty root, system and cache folders; Fashion-MNIST's digests off (the files here are synthetic)."""
    dirs = {name: tmp_path / name for name in ("root", "system", "cache")}
    monkeypatch.setenv("CHAINRULE_DATA", str(dirs["cache"]))
    monkeypatch.setattr(FashionMNIST, "system_dirs", (str(dirs["system"]),))
    monkeypatch.setattr(FashionMNIST, "resources", NO_DIGESTS)
    monkeypatch.setattr(FashionMNIST, "mirrors", ("http://127.0.0.1:9/",))  # never used: download stays False
    return dirs


def test_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    assert data_home() == tmp_path and FashionMNIST.cache_dir() == tmp_path / "fashion-mnist"
    monkeypatch.delenv("CHAINRULE_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "chainrule"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_home() == Path.home() / ".cache" / "chainrule"


def test_lookup_order_root_then_system_then_cache(places):
    write_split(places["root"], 3, seed=1)
    write_split(places["system"], 4, seed=2)
    write_split(places["cache"] / "fashion-mnist", 5, seed=3)
    assert len(FashionMNIST(root=places["root"], train=False)) == 3
    assert len(FashionMNIST(train=False)) == 4
    assert len(FashionMNIST(root=places["root"] / "empty", train=False)) == 4  # a root without the files
    for name in SPLIT_FILES["test"]:
        (places["system"] / name).unlink()
    ds = FashionMNIST(train=False)
    assert len(ds) == 5 and ds.folder_path == places["cache"] / "fashion-mnist"


def test_a_folder_needs_both_files_of_the_split(places):
    write_split(places["root"], 3)
    (places["root"] / SPLIT_FILES["test"][1]).unlink()
    write_split(places["cache"] / "fashion-mnist", 6)
    assert len(FashionMNIST(root=places["root"], train=False)) == 6


def test_gunzipped_files_and_torchvision_layout(places):
    images, labels = write_split(places["root"] / "FashionMNIST" / "raw", 4, gz=False, split="train")
    ds = FashionMNIST(root=places["root"])
    np.testing.assert_array_equal(ds.data, images)
    np.testing.assert_array_equal(ds.targets, labels)


def test_samples_and_arrays(places):
    images, labels = write_split(places["root"], 12, seed=5)
    ds = FashionMNIST(root=places["root"], train=False)
    assert ds.data.dtype == np.uint8 and ds.data.shape == (12, 28, 28)
    assert ds.targets.dtype == np.int64 and len(ds.classes) == 10 and ds.classes[9] == "Ankle boot"
    x, y = ds[7]
    assert x.dtype == np.float32 and x.shape == (1, 28, 28) and 0 <= x.min() and x.max() <= 1
    np.testing.assert_array_equal(x[0], images[7].astype(np.float32) / 255)
    assert isinstance(y, int) and y == labels[7]
    all_x, all_y = ds.arrays()
    assert all_x.shape == (12, 1, 28, 28) and all_x.dtype == np.float32
    np.testing.assert_array_equal(all_y, labels)
    ds.transform = transforms.Normalize(0.5, 0.5)
    assert ds[0][0].min() >= -1 and ds[0][0].max() <= 1


def test_loader_fast_path_matches_samples(places):
    write_split(places["root"], 50, seed=6)
    ds = FashionMNIST(root=places["root"], train=False, transform=transforms.Normalize(0.2860, 0.3530))
    fast = DataLoader(ds, batch_size=16, shuffle=True, generator=np.random.default_rng(0))
    slow = DataLoader(ds, batch_size=16, shuffle=True, generator=np.random.default_rng(0), collate_fn=default_collate)
    assert fast.uses_fast_path
    for (xa, ya), (xb, yb) in zip(fast, slow):
        assert xa.shape[1:] == (1, 28, 28) and xa.dtype == np.float32 and ya.dtype == np.int64
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_not_found_says_where_it_looked_and_how_to_get_the_data(places):
    with pytest.raises(DataNotFoundError) as info:
        FashionMNIST(root=places["root"], train=False)
    message = str(info.value)
    for folder in (places["root"], places["system"], places["cache"] / "fashion-mnist"):
        assert str(folder) in message
    assert "t10k-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert "sudo apt-get install dataset-fashion-mnist" in message and "download=True" in message
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, DataError)
    with pytest.raises(DataNotFoundError) as info:
        MNIST(root=places["root"])
    assert "apt-get" not in str(info.value) and "download=True" in str(info.value)
    assert "train-images-idx3-ubyte.gz" in str(info.value)


def test_contents_are_checked_against_the_configured_digest(places, monkeypatch):
    images, labels = write_split(places["root"], 3)
    good = hashlib.sha256(gzip.decompress((places["root"] / SPLIT_FILES["test"][1]).read_bytes())).hexdigest()
    specs = (FileSpec(SPLIT_FILES["test"][0], idx_sha256="0" * 64), FileSpec(SPLIT_FILES["test"][1], idx_sha256=good))
    monkeypatch.setattr(FashionMNIST, "resources", {"test": specs, "train": specs})
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: the contents do not match") as info:
        FashionMNIST(root=places["root"], train=False)
    assert "0" * 64 in str(info.value) and "verify=False" in str(info.value)
    assert len(FashionMNIST(root=places["root"], train=False, verify=False)) == 3


def test_inconsistent_files_are_refused(places):
    images, labels = write_split(places["root"], 4)
    write_idx(places["root"] / SPLIT_FILES["test"][1], labels[:3])
    with pytest.raises(ShapeError, match="4 images but t10k-labels-idx1-ubyte.gz 3 labels"):
        FashionMNIST(root=places["root"], train=False)
    write_idx(places["root"] / SPLIT_FILES["test"][1], np.array([0, 1, 2, 10], dtype=np.uint8))
    with pytest.raises(DataError, match="label 10 is out of range for 10 classes"):
        FashionMNIST(root=places["root"], train=False)
    write_idx(places["root"] / SPLIT_FILES["test"][0], images.astype(np.int16))
    with pytest.raises(DataError, match="expected uint8 images"):
        FashionMNIST(root=places["root"], train=False)


def test_family_configuration():
    for cls in (FashionMNIST, MNIST, KMNIST):
        names = [spec.name for split in ("train", "test") for spec in cls.resources[split]]
        assert names == [*SPLIT_FILES["train"], *SPLIT_FILES["test"]]
        assert len(cls.classes) == 10 and cls.mirrors
    assert FashionMNIST.mirrors[0] == "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    assert MNIST.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert KMNIST.mirrors[0] == "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"
    assert all(spec.sha256 and spec.idx_sha256 for pair in FashionMNIST.resources.values() for spec in pair)


# ----- the real Fashion-MNIST, from the Debian package ---------------------------------------------------
needs_debian = pytest.mark.skipif(
    not (SYSTEM / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="the real Fashion-MNIST needs: sudo apt-get install dataset-fashion-mnist",
)


@needs_debian
def test_real_fashion_mnist_test_set(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))  # the system folder, not a stray cache, must serve it
    ds = FashionMNIST(train=False)  # checks the contents' SHA-256 on the way
    assert ds.folder_path == SYSTEM
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.shape == (10000,) and ds.targets.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(ds.targets, minlength=10), np.full(10, 1000))
    assert 0.27 < ds.data.mean() / 255 < 0.30  # Fashion-MNIST's mean pixel is about 0.286
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and y == 9  # the first test image is an ankle boot
    batches = list(DataLoader(ds, batch_size=1000, shuffle=True, generator=np.random.default_rng(0)))
    assert len(batches) == 10
    counts = np.bincount(np.concatenate([yb.numpy() for _, yb in batches]), minlength=10)
    np.testing.assert_array_equal(counts, np.full(10, 1000))


# The official files are GNU gzip -6 output with the original name and modification time in the header; the
# Debian package keeps their deflate streams and only rewrites the header. Putting the original header back
# gives the mirrors' bytes, so the download digests can be checked here without a download.
_ORIGINAL_MTIME = {
    "train-images-idx3-ubyte.gz": 1504176606, "train-labels-idx1-ubyte.gz": 1504176606,
    "t10k-images-idx3-ubyte.gz": 1504176627, "t10k-labels-idx1-ubyte.gz": 1504176627,
}


@needs_debian
@pytest.mark.parametrize("name", sorted(_ORIGINAL_MTIME))
def test_download_digests_match_the_debian_files(name):
    path = SYSTEM / name
    if not path.is_file():
        pytest.skip(f"{path} is not installed")
    spec = next(s for pair in FashionMNIST.resources.values() for s in pair if s.name == name)
    debian = path.read_bytes()
    assert debian[:4] == b"\x1f\x8b\x08\x00"  # Debian's header: no file name
    header = b"\x1f\x8b\x08\x08" + struct.pack("<I", _ORIGINAL_MTIME[name]) + b"\x00\x03" + name[:-3].encode() + b"\x00"
    assert hashlib.sha256(header + debian[10:]).hexdigest() == spec.sha256
    assert hashlib.sha256(gzip.decompress(debian)).hexdigest() == spec.idx_sha256
