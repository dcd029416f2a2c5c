"""Transforms on single images and on whole batches."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataError, transforms
from chainrule.errors import ShapeError


def _batch(n=16, c=2, h=6, w=5, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32)


def test_to_float_scales_uint8():
    x = np.array([[0, 128, 255]], dtype=np.uint8)
    y = transforms.ToFloat()(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.array([[0, 128 / 255, 1]], dtype=np.float32))
    assert transforms.ToFloat()(np.array([2.0])).dtype == np.float32
    np.testing.assert_array_equal(transforms.ToFloat()(np.array([3], dtype=np.int64)), [3.0])
    np.testing.assert_allclose(transforms.ToFloat(scale=16)(np.array([8], dtype=np.uint8)), [0.5])
    assert transforms.ToFloat(dtype=np.float64)(x).dtype == np.float64
    with pytest.raises(DataError):
        transforms.ToFloat(dtype=np.int32)


def test_normalize_per_channel_on_images_and_batches():
    x = _batch(c=3)
    mean, std = [0.1, -0.2, 0.3], [0.5, 2.0, 1.5]
    norm = transforms.Normalize(mean, std)
    expected = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(norm(x), expected, rtol=1e-6)
    np.testing.assert_allclose(norm(x[4]), expected[4], rtol=1e-6)
    assert norm(x).dtype == np.float32
    np.testing.assert_allclose(transforms.Normalize(0.5, 2.0)(x[0, 0]), (x[0, 0] - 0.5) / 2, rtol=1e-6)
    assert transforms.Normalize(0.5, 0.5)(np.zeros((2, 2), np.float64)).dtype == np.float64
    assert transforms.Normalize(0.5, 0.5)(np.zeros((1, 2, 2), np.uint8)).dtype == np.float32
    with pytest.raises(ShapeError, match="3 channel"):
        norm(_batch(c=2))
    with pytest.raises(DataError, match="zero"):
        transforms.Normalize(0.0, [1.0, 0.0])
    with pytest.raises(ShapeError):
        norm(np.zeros(5))


def test_random_crop_windows_of_the_padded_image():
    x = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6) + 1
    crop = transforms.RandomCrop((4, 3), padding=2, generator=np.random.default_rng(0))
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2)])
    windows = {padded[:, i : i + 4, j : j + 3].tobytes() for i in range(6) for j in range(8)}
    seen = set()
    for _ in range(50):
        y = crop(x)
        assert y.shape == (2, 4, 3)
        assert y.tobytes() in windows
        seen.add(y.tobytes())
    assert len(seen) > 10


def test_random_crop_on_a_batch_crops_each_image_on_its_own():
    x = _batch(n=64, c=2, h=7, w=7)
    y = transforms.RandomCrop(5, padding=1, generator=np.random.default_rng(1))(x)
    assert y.shape == (64, 2, 5, 5) and y.dtype == x.dtype
    padded = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    offsets = set()
    for k in range(64):
        match = [
            (i, j) for i in range(5) for j in range(5) if np.array_equal(padded[k, :, i : i + 5, j : j + 5], y[k])
        ]
        assert match, f"image {k} is not a window of its padded image"
        offsets.add(match[0])
    assert len(offsets) > 5  # offsets differ between the images of one batch


def test_random_crop_is_reproducible_and_identity_at_full_size():
    x = _batch()
    a = transforms.RandomCrop(4, padding=(1, 2), generator=np.random.default_rng(7))(x)
    b = transforms.RandomCrop(4, padding=(1, 2), generator=np.random.default_rng(7))(x)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(transforms.RandomCrop((6, 5))(x), x)
    cr.manual_seed(3)
    c = transforms.RandomCrop(4, padding=(1, 0, 2, 3))(x)
    cr.manual_seed(3)
    np.testing.assert_array_equal(c, transforms.RandomCrop(4, padding=(1, 0, 2, 3))(x))
    assert c.shape == (16, 2, 4, 4)
    with pytest.raises(ShapeError, match="larger than the padded image"):
        transforms.RandomCrop(9)(x)
    with pytest.raises(DataError):
        transforms.RandomCrop(3, padding=(1, 2, 3))
    with pytest.raises(ShapeError):
        transforms.RandomCrop(2)(np.zeros((1, 1, 1, 4, 4)))


def test_random_crop_fill():
    y = transforms.RandomCrop(3, padding=3, fill=-1, generator=np.random.default_rng(0))(np.zeros((1, 1, 3, 3)))
    assert set(np.unique(y)) <= {-1.0, 0.0}


def test_horizontal_flip():
    x = _batch()
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(0.0)(x), x)
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(1.0)(x[0]), x[0, ..., ::-1])
    y = transforms.RandomHorizontalFlip(0.5, generator=np.random.default_rng(2))(_batch(n=200))
    x = _batch(n=200)
    flipped = [np.array_equal(y[k], x[k, ..., ::-1]) for k in range(200)]
    kept = [np.array_equal(y[k], x[k]) for k in range(200)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 60 < sum(flipped) < 140
    z = transforms.RandomHorizontalFlip(0.5, generator=np.random.default_rng(2))(x)
    np.testing.assert_array_equal(y, z)
    with pytest.raises(DataError):
        transforms.RandomHorizontalFlip(1.5)


def test_compose_and_lambda():
    x = np.full((4, 1, 3, 3), 255, dtype=np.uint8)
    steps = [transforms.ToFloat(), transforms.Normalize(0.5, 0.5), transforms.RandomHorizontalFlip(0.5)]
    pipeline = transforms.Compose(steps)
    assert pipeline.batched
    np.testing.assert_array_equal(pipeline(x), np.ones((4, 1, 3, 3), np.float32))
    assert not transforms.Compose([transforms.ToFloat(), lambda a: a]).batched
    assert transforms.Compose([transforms.Lambda(np.negative, batched=True)]).batched
    assert "Normalize" in repr(pipeline)
