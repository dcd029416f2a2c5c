"""chainrule.vision: torchvision's datasets (MNIST, FashionMNIST, KMNIST) and transforms, checked against
torchvision's documented behaviour and torch arithmetic (torchvision itself is not a dependency)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data.data_helpers import SPLIT_FILES, serve, sha256_of, write_split

import chainrule as cr
from chainrule.data import DataLoader, FileSpec, mnist
from chainrule.errors import ArgumentError, ShapeError
from chainrule.vision import datasets, transforms

torch = pytest.importorskip("torch")
FAMILY = [(datasets.MNIST, mnist.MNIST), (datasets.FashionMNIST, mnist.FashionMNIST), (datasets.KMNIST, mnist.KMNIST)]
NO_DIGESTS = {split: (FileSpec(images), FileSpec(labels)) for split, (images, labels) in SPLIT_FILES.items()}


def _torchvision_to_tensor(pic: np.ndarray):
    """torchvision's ToTensor on an ndarray, step by step (functional.to_tensor)."""
    if pic.ndim == 2:
        pic = pic[:, :, None]
    img = torch.from_numpy(pic.transpose((2, 0, 1))).contiguous()
    return img.to(dtype=torch.float32).div(255) if img.dtype == torch.uint8 else img


# ----- transforms ---------------------------------------------------------------------------------------------
def test_to_tensor_equals_torchvisions_arithmetic():
    rng = np.random.default_rng(0)
    for pic in (rng.integers(0, 256, (28, 28), dtype=np.uint8), rng.integers(0, 256, (5, 7, 3), dtype=np.uint8),
                rng.random((4, 6)).astype(np.float32)):
        ours, theirs = transforms.ToTensor()(pic), _torchvision_to_tensor(pic)
        assert isinstance(ours, cr.Tensor) and ours.shape == tuple(theirs.shape)
        assert str(ours.dtype) == str(theirs.dtype).split(".")[1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    x = transforms.ToTensor()(np.array([[0, 255]], dtype=np.uint8))
    assert x.shape == (1, 1, 2) and x.dtype == np.float32 and x.numpy().tolist() == [[[0.0, 1.0]]]


def test_to_tensor_refusals():
    with pytest.raises(TypeError, match="it is a tensor already"):
        transforms.ToTensor()(cr.zeros(1, 2, 2))
    with pytest.raises(ShapeError, match="pic should be 2/3 dimensional"):
        transforms.ToTensor()(np.zeros(5, np.uint8))
    with pytest.raises(TypeError, match="got str"):
        transforms.ToTensor()("image.png")


def test_pil_to_tensor_keeps_the_dtype():
    pic = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    out = transforms.PILToTensor()(pic)
    assert out.dtype == np.uint8 and out.numpy().tolist() == pic.transpose(2, 0, 1).tolist()


def test_normalize_equals_torchvisions_arithmetic():
    rng = np.random.default_rng(1)
    x = rng.random((3, 4, 5)).astype(np.float32)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    ours = transforms.Normalize(mean, std)(cr.tensor(x))
    t = torch.from_numpy(x.copy())
    theirs = t.sub_(torch.tensor(mean).view(-1, 1, 1)).div_(torch.tensor(std).view(-1, 1, 1))
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    one = transforms.Normalize((0.1307,), (0.3081,))(cr.tensor(x[:1]))
    np.testing.assert_array_equal(one.numpy(), ((torch.from_numpy(x[:1]) - 0.1307) / 0.3081).numpy())


def test_normalize_is_differentiable_and_can_work_in_place():
    x = cr.tensor(np.ones((2, 2, 2), np.float64), requires_grad=True)
    transforms.Normalize((1.0, 2.0), (0.5, 4.0))(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:, 0, 0], [2.0, 0.25])  # d/dx (x - m) / s = 1 / s
    y = cr.tensor(np.full((1, 2, 2), 3.0, np.float32))
    out = transforms.Normalize((1.0,), (2.0,), inplace=True)(y)
    assert out is y and y.numpy().tolist() == [[[1.0, 1.0], [1.0, 1.0]]]


def test_normalize_refusals():
    with pytest.raises(TypeError, match="img should be a Tensor image, got ndarray; put ToTensor"):
        transforms.Normalize((0.5,), (0.5,))(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(TypeError, match="should be a float tensor, got uint8"):
        transforms.Normalize((0.5,), (0.5,))(cr.tensor(np.zeros((1, 2, 2), np.uint8)))
    with pytest.raises(ShapeError, match=r"size \(\.\.\., C, H, W\), got shape \(2, 2\)"):
        transforms.Normalize((0.5,), (0.5,))(cr.zeros(2, 2))
    with pytest.raises(ArgumentError, match="std evaluated to zero"):
        transforms.Normalize((0.5,), (0.0,))(cr.zeros(1, 2, 2))


def test_compose_lambda_and_batch_forms():
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.25,))])
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (6, 5, 4), dtype=np.uint8)
    one_by_one = np.stack([pipeline(img).numpy() for img in images])
    assert pipeline.batchable
    np.testing.assert_array_equal(pipeline.batch(images), one_by_one)  # bit for bit
    assert repr(pipeline) == "Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.25,))\n)"
    doubled = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda t: t * 2)])
    assert not doubled.batchable and doubled(np.full((1, 1), 51, np.uint8)).item() == pytest.approx(0.4)
    with pytest.raises(TypeError, match="lambd should be callable, got 'int'"):
        transforms.Lambda(3)


def test_crops_and_flips_on_images_and_tensors():
    img = np.arange(20, dtype=np.uint8).reshape(4, 5)
    assert transforms.CenterCrop(2)(img).tolist() == img[1:3, 2:4].tolist()  # torchvision rounds (H-h)/2
    assert transforms.CenterCrop((4, 3))(cr.tensor(img[None])).numpy()[0].tolist() == img[:, 1:4].tolist()
    assert transforms.RandomHorizontalFlip(p=1.0)(img).tolist() == img[:, ::-1].tolist()
    assert transforms.RandomHorizontalFlip(p=0.0)(img) is img
    chw = transforms.RandomHorizontalFlip(p=1.0)(cr.tensor(img[None]))
    assert isinstance(chw, cr.Tensor) and chw.numpy()[0].tolist() == img[:, ::-1].tolist()
    rgb = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    assert transforms.RandomHorizontalFlip(p=1.0)(rgb).tolist() == rgb[:, ::-1].tolist()  # H×W×C: W is axis 1
    cr.manual_seed(0)
    crops = [transforms.RandomCrop(3, padding=1)(img) for _ in range(30)]
    padded = np.pad(img, 1)
    windows = {padded[i:i + 3, j:j + 3].tobytes() for i in range(4) for j in range(5)}
    assert all(c.shape == (3, 3) and c.tobytes() in windows for c in crops) and len({c.tobytes() for c in crops}) > 3
    cr.manual_seed(0)
    assert all(np.array_equal(a, transforms.RandomCrop(3, padding=1)(img)) for a in crops)  # seeded: repeatable
    assert transforms.RandomCrop(6, pad_if_needed=True)(img).shape == (6, 6)
    t = transforms.RandomCrop((2, 2))(cr.tensor(np.zeros((3, 4, 5), np.float32)))
    assert isinstance(t, cr.Tensor) and t.shape == (3, 2, 2)
    with pytest.raises(ShapeError, match="larger than the input image size"):
        transforms.RandomCrop(9)(img)
    with pytest.raises(ArgumentError, match="padding_mode 'reflect' is not available"):
        transforms.RandomCrop(3, padding_mode="reflect")


# ----- datasets -----------------------------------------------------------------------------------------------
@pytest.fixture
def places(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    for _, base in FAMILY:
        monkeypatch.setattr(base, "system_dirs", (str(tmp_path / "no-system"),))
        monkeypatch.setattr(base, "resources", NO_DIGESTS)  # the files here are synthetic
        monkeypatch.setattr(base, "mirrors", ("http://127.0.0.1:9/",))
    return tmp_path


@pytest.mark.parametrize("cls, base", FAMILY, ids=[c.__name__ for c, _ in FAMILY])
def test_items_as_torchvision_in_its_folder_layout(places, cls, base):
    images, labels = write_split(places / "data" / cls.__name__ / "raw", 12, seed=3, split="train")
    ds = cls(places / "data", train=True, download=False)
    assert len(ds) == 12 and ds.raw_folder == str(places / "data" / cls.__name__ / "raw")
    img, target = ds[5]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (28, 28)
    np.testing.assert_array_equal(img, images[5])
    assert type(target) is int and target == labels[5]
    assert isinstance(ds.data, cr.Tensor) and ds.data.dtype == np.uint8 and ds.data.shape == (12, 28, 28)
    assert isinstance(ds.targets, cr.Tensor) and ds.targets.dtype == np.int64
    assert len(ds.classes) == 10 and ds.class_to_idx[ds.classes[3]] == 3
    assert isinstance(ds, base)  # one reader: the chainrule.data data set underneath
    assert repr(ds).startswith(f"Dataset {cls.__name__}\n    Number of datapoints: 12")


def test_transforms_and_target_transform(places):
    images, labels = write_split(places / "MNIST" / "raw", 6, seed=4, split="test")
    ds = datasets.MNIST(str(places), train=False, transform=transforms.ToTensor(),
                        target_transform=lambda y: y + 100)
    x, y = ds[2]
    assert isinstance(x, cr.Tensor) and x.shape == (1, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy()[0], images[2] / np.float32(255))
    assert y == labels[2] + 100 and not ds.batchable
    assert datasets.MNIST(places, train=False).classes[0] == "0 - zero"


def test_loader_fast_path_equals_image_by_image(places):
    write_split(places / "FashionMNIST" / "raw", 40, seed=5, split="train")
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    ds = datasets.FashionMNIST(places, transform=pipeline)
    fast = DataLoader(ds, batch_size=16, shuffle=True, generator=np.random.default_rng(0))
    slow = DataLoader(ds, batch_size=16, shuffle=True, generator=np.random.default_rng(0),
                      collate_fn=cr.data.default_collate)
    assert fast.uses_fast_path and not slow.uses_fast_path
    for (xa, ya), (xb, yb) in zip(fast, slow):
        assert xa.shape[1:] == (1, 28, 28) and xa.dtype == np.float32 and ya.dtype == np.int64
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    raw = DataLoader(datasets.FashionMNIST(places), batch_size=8)
    x, _ = next(iter(raw))
    assert raw.uses_fast_path and x.dtype == np.uint8 and x.shape == (8, 28, 28)  # untransformed images stack
    crop = datasets.FashionMNIST(places, transform=transforms.RandomCrop(24))
    assert not crop.batchable and next(iter(DataLoader(crop, batch_size=4)))[0].shape == (4, 24, 24)


def test_missing_data_raises_torchvisions_kind_of_error_in_one_line(places):
    with pytest.raises(RuntimeError) as info:
        datasets.KMNIST(places / "data", train=False)
    error, message = info.value, str(info.value)
    assert isinstance(error, datasets.DatasetNotFoundError) and isinstance(error, FileNotFoundError)
    assert message.startswith("KMNIST: Dataset not found: the test files t10k-images-idx3-ubyte.gz")
    assert "\n" not in message and "use download=True" in message
    assert str(places / "data" / "KMNIST" / "raw") in message


def test_download_true_fetches_into_root_class_raw(places, monkeypatch):
    served = places / "served"
    images, labels = write_split(served, 7, seed=6, split="test")
    specs = tuple(FileSpec(name, sha256=sha256_of(served / name)) for name in SPLIT_FILES["test"])
    monkeypatch.setattr(mnist.MNIST, "resources", {"test": specs, "train": specs})
    with serve(served) as url:
        monkeypatch.setattr(mnist.MNIST, "mirrors", (url,))
        ds = datasets.MNIST(places / "data", train=False, download=True)
    raw = places / "data" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(SPLIT_FILES["test"])
    np.testing.assert_array_equal(ds[6][0], images[6])
    again = datasets.MNIST(places / "data", train=False, download=True)  # present: nothing is fetched
    assert again.folder_path == raw and len(again) == 7


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs dataset-fashion-mnist")
def test_real_fashion_mnist(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    ds = datasets.FashionMNIST(tmp_path, train=False, transform=transforms.ToTensor())
    x, y = ds[0]
    assert len(ds) == 10000 and x.shape == (1, 28, 28) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert ds.classes[y] == "Ankle boot"  # the first test image of Fashion-MNIST
