"""download=True against a local HTTP server on 127.0.0.1 standing in for the mirrors: files land in the cache
only once verified, and a bad download leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_helpers import SPLIT_FILES, serve, sha256_of, write_idx, write_split

from chainrule.data import MNIST, DataError, DataNotFoundError, FashionMNIST, FileSpec
from chainrule.data.mnist import download_file


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A served folder with a synthetic Fashion-MNIST test split, the digests of its files, and an empty cache."""
    served = tmp_path / "served"
    images, labels = write_split(served, 20, seed=8)
    cache = tmp_path / "cache"
    monkeypatch.setenv("CHAINRULE_DATA", str(cache))
    monkeypatch.setattr(FashionMNIST, "system_dirs", (str(tmp_path / "no-system"),))
    specs = tuple(FileSpec(name, sha256=sha256_of(served / name)) for name in SPLIT_FILES["test"])
    monkeypatch.setattr(FashionMNIST, "resources", {"test": specs, "train": specs})
    with serve(served) as url:
        yield {"url": url, "served": served, "cache": cache / "fashion-mnist", "images": images, "labels": labels}


def _cache_listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_fetches_verifies_and_renames(mirror, monkeypatch):
    monkeypatch.setattr(FashionMNIST, "mirrors", (mirror["url"],))
    with pytest.raises(DataNotFoundError):
        FashionMNIST(train=False)  # download=False never fetches
    ds = FashionMNIST(train=False, download=True)
    assert ds.folder_path == mirror["cache"]
    assert _cache_listing(mirror["cache"]) == sorted(SPLIT_FILES["test"])  # no temporary files left
    np.testing.assert_array_equal(ds.data, mirror["images"])
    np.testing.assert_array_equal(ds.targets, mirror["labels"])
    monkeypatch.setattr(FashionMNIST, "mirrors", ("http://127.0.0.1:9/",))  # the cache serves from now on
    assert len(FashionMNIST(train=False, download=True)) == 20


def test_digest_mismatch_leaves_nothing_behind(mirror, monkeypatch):
    monkeypatch.setattr(FashionMNIST, "mirrors", (mirror["url"],))
    name = SPLIT_FILES["test"][0]
    wrong = "ab" * 32
    specs = (FileSpec(name, sha256=wrong), FashionMNIST.resources["test"][1])
    monkeypatch.setattr(FashionMNIST, "resources", {"test": specs, "train": specs})
    with pytest.raises(DataError) as info:
        FashionMNIST(train=False, download=True)
    message = str(info.value)
    assert name in message and "SHA-256 mismatch" in message
    assert f"expected {wrong}" in message and f"got {sha256_of(mirror['served'] / name)}" in message
    assert _cache_listing(mirror["cache"]) == []


def test_falls_back_to_the_next_mirror(mirror, monkeypatch):
    monkeypatch.setattr(FashionMNIST, "mirrors", (mirror["url"] + "missing/", mirror["url"]))
    assert len(FashionMNIST(train=False, download=True)) == 20
    assert _cache_listing(mirror["cache"]) == sorted(SPLIT_FILES["test"])


def test_only_missing_files_are_fetched(mirror, monkeypatch):
    monkeypatch.setattr(FashionMNIST, "mirrors", (mirror["url"],))
    mirror["cache"].mkdir(parents=True)
    labels = SPLIT_FILES["test"][1]
    (mirror["served"] / labels).replace(mirror["cache"] / labels)  # only the images remain on the server
    ds = FashionMNIST(train=False, download=True)
    np.testing.assert_array_equal(ds.targets, mirror["labels"])


def test_every_mirror_failing_is_reported(mirror, monkeypatch):
    monkeypatch.setattr(FashionMNIST, "mirrors", (mirror["url"] + "a/", mirror["url"] + "b/"))
    with pytest.raises(DataError, match="could not download t10k-images-idx3-ubyte.gz") as info:
        FashionMNIST(train=False, download=True)
    assert "/a/t10k-images" in str(info.value) and "/b/t10k-images" in str(info.value) and "404" in str(info.value)
    assert _cache_listing(mirror["cache"]) == []


def test_without_digests_a_download_must_parse_as_idx(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    write_idx(served / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), dtype=np.uint8))
    (served / "train-labels-idx1-ubyte.gz").write_bytes(b"<html>not found</html>")
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    no_digests = {split: tuple(FileSpec(name) for name in names) for split, names in SPLIT_FILES.items()}
    monkeypatch.setattr(MNIST, "resources", no_digests)  # a subclass's own files, whose digests are not known
    with serve(served) as url:
        monkeypatch.setattr(MNIST, "mirrors", (url,))
        with pytest.raises(DataError, match="not a valid IDX file"):
            MNIST(download=True)
    assert _cache_listing(tmp_path / "cache" / "mnist") == ["train-images-idx3-ubyte.gz"]  # the good file stays


def test_download_file_directly(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    path = write_idx(served / "x-idx1-ubyte.gz", np.arange(5, dtype=np.uint8))
    with serve(served) as url:
        target = download_file(FileSpec(path.name, sha256=sha256_of(path)), tmp_path / "out", [url])
    assert target.read_bytes() == path.read_bytes()
    assert _cache_listing(tmp_path / "out") == [path.name]
