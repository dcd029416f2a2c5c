"""embedding and one_hot against PyTorch; the embedding gradient scatter-adds rows and skips padding_idx."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual alias
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - the usual alias

INDICES = [np.array([3, 0, 3, 1, 3]), np.array([[0, 2], [2, 2], [4, 1]]), np.array(2), np.zeros((2, 0), dtype=np.int64)]


@pytest.mark.parametrize("idx", INDICES, ids=["1d_repeats", "2d", "scalar", "empty"])
@pytest.mark.parametrize("padding_idx", [None, 2, -2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_matches_torch(idx, padding_idx, dtype):
    w = rng(1).standard_normal((5, 3)).astype(dtype)
    check_torch(lambda w: F.embedding(cr.Tensor(idx), w, padding_idx=padding_idx),
                lambda w: TF.embedding(torch.tensor(idx), w, padding_idx=padding_idx), [w])


def test_embedding_gradient_scatter_adds_rows_and_skips_padding():
    w = cr.randn(4, 2, requires_grad=True)
    idx = cr.tensor([[1, 1], [3, 0], [1, 0]])
    F.embedding(idx, w, padding_idx=0).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [3, 3], [0, 0], [1, 1]])


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_gradcheck(padding_idx):
    idx = np.array([[0, 1, 1], [3, 1, 2]])
    # The padding row is looked up but gets no gradient by design; masking its outputs makes the finite
    # differences agree with that, and the other rows are checked as usual.
    mask = np.ones(idx.shape + (1,)) if padding_idx is None else (idx != padding_idx)[..., None].astype(float)
    check_grads(lambda w: F.embedding(idx, w, padding_idx=padding_idx) ** 2 * mask, [rng(2).standard_normal((4, 3))])


def test_embedding_errors():
    w = cr.randn(5, 3)
    with pytest.raises(ValueError, match=r"embedding: input\[1, 0\] = 5 is outside \[0, 5\)"):
        F.embedding(cr.tensor([[0, 1], [5, 2]]), w)
    with pytest.raises(cr.DTypeError, match="embedding: argument 'input' must hold integer indices, got dtype float32"):
        F.embedding(cr.tensor([0.0, 1.0]), w)
    with pytest.raises(cr.ShapeError, match=r"embedding: argument 'weight' must be a matrix"):
        F.embedding(cr.tensor([0]), cr.randn(5))
    with pytest.raises(ValueError, match=r"embedding: padding_idx 5 must lie in \[-5, 5\)"):
        F.embedding(cr.tensor([0]), w, padding_idx=5)


@pytest.mark.parametrize("values, num_classes", [([0, 2, 1], -1), ([[1, 0], [3, 3]], 5), (4, -1), (1, 2)])
def test_one_hot_matches_torch(values, num_classes):
    y = F.one_hot(cr.tensor(values), num_classes)
    expected = TF.one_hot(torch.tensor(values), num_classes).numpy()
    assert y.dtype == np.int64 and y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"one_hot: tensor\[1\] = 3 is outside \[0, 3\)"):
        F.one_hot(cr.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match=r"one_hot: tensor\[0\] = -1 is outside"):
        F.one_hot(cr.tensor([-1, 2]))
    with pytest.raises(ValueError, match="one_hot: cannot infer num_classes from an empty tensor"):
        F.one_hot(cr.tensor(np.zeros(0, dtype=np.int64)))
    with pytest.raises(cr.DTypeError, match="one_hot: argument 'tensor' must hold integer indices"):
        F.one_hot(cr.tensor([0.0]))
    assert F.one_hot(cr.tensor(np.zeros(0, dtype=np.int64)), 3).shape == (0, 3)


# ----- max_norm, scale_grad_by_freq, sparse --------------------------------------------------------------

IDX = np.array([[1, 3, 3], [0, 3, 5]])


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_scale_grad_by_freq_matches_torch(padding_idx):
    w = rng(2).standard_normal((6, 4)).astype(np.float32)
    check_torch(lambda w: F.embedding(cr.tensor(IDX), w, padding_idx, scale_grad_by_freq=True),
                lambda w: TF.embedding(torch.tensor(IDX), w, padding_idx, scale_grad_by_freq=True), [w])


def test_scale_grad_by_freq_divides_by_counts_and_its_double_backward():
    """Not the derivative of y (so no gradcheck): gW[v] = Σ_{s: idx[s]=v} c[s] / count(v) for y·c, and the
    gradient of ⟨gW, V⟩ with respect to c is V[idx[s]] / count(idx[s])."""
    r = rng(3)
    w = cr.tensor(r.standard_normal((6, 3)), requires_grad=True)
    c = cr.tensor(r.standard_normal(IDX.shape + (3,)), requires_grad=True)
    v = r.standard_normal((6, 3))
    (gw,) = cr.grad((F.embedding(cr.tensor(IDX), w, scale_grad_by_freq=True) * c).sum(), [w], create_graph=True)
    counts = np.maximum(np.bincount(IDX.ravel(), minlength=6), 1)[:, None]
    expected = np.zeros((6, 3))
    np.add.at(expected, IDX.ravel(), c.numpy().reshape(-1, 3))
    np.testing.assert_allclose(gw.numpy(), expected / counts, rtol=1e-12)
    (gw * cr.tensor(v)).sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), (v / counts)[IDX], rtol=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_max_norm_renormalises_the_rows_looked_up_in_place_as_torch(norm_type):
    w = (rng(4).standard_normal((6, 4)) * 2).astype(np.float32)
    cw, tw = cr.tensor(w.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    y = F.embedding(cr.tensor(IDX), cw, max_norm=1.5, norm_type=norm_type)
    with torch.no_grad():  # torch renormalises a leaf that requires grad only outside autograd
        t_renormed = tw.clone()
    yt = TF.embedding(torch.tensor(IDX), t_renormed, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(cw.numpy(), t_renormed.numpy(), rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-6)
    untouched = [2, 4]  # rows not looked up keep their values
    np.testing.assert_array_equal(cw.numpy()[untouched], w[untouched])
    norms = np.linalg.norm(cw.numpy()[[0, 1, 3, 5]], ord=norm_type, axis=1)
    assert np.all(norms <= 1.5 + 1e-5)


def test_embedding_module_options_and_sparse_refusal():
    m = cr.nn.Embedding(6, 4, max_norm=1.0, scale_grad_by_freq=True)
    assert "max_norm=1.0" in repr(m) and "scale_grad_by_freq=True" in repr(m)
    m(cr.tensor(IDX)).sum().backward()
    assert np.linalg.norm(m.weight.numpy()[[0, 1, 3, 5]], axis=1).max() <= 1.0 + 1e-6
    np.testing.assert_allclose(m.weight.grad.numpy()[3], np.ones(4))  # looked up 3 times: 3 / 3
    with pytest.raises(cr.errors.ArgumentError, match="sparse=True .* not supported"):
        cr.nn.Embedding(6, 4, sparse=True)
    with pytest.raises(cr.errors.ArgumentError, match="sparse=True .* not supported"):
        F.embedding(cr.tensor(IDX), m.weight, sparse=True)
    frozen = cr.nn.Embedding.from_pretrained(np.eye(6, 4, dtype=np.float32), max_norm=0.5)
    assert not frozen.weight.requires_grad and frozen.max_norm == 0.5
