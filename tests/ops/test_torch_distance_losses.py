"""cosine_similarity, pairwise_distance, normalize, bilinear and the losses huber_loss, kl_div,
margin_ranking_loss, cosine_embedding_loss, triplet_margin_loss: forward and gradients against PyTorch, float64
gradcheck and gradgradcheck, the edge cases (zero vectors, equal inputs, broadcasting, every reduction) and the
one-line refusals."""

import contextlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual alias
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - the usual alias
from chainrule.errors import ChainruleError


def randn(*shape, seed=0, dtype=np.float64):
    return rng(seed).standard_normal(shape).astype(dtype)


# ----- distances ------------------------------------------------------------------------------------------
COSINE_CASES = [((4, 5), (4, 5), 1), ((4, 5), (1, 5), 1), ((3, 4, 2), (3, 4, 2), -1), ((6,), (6,), 0),
                ((2, 3, 4), (3, 1), 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", COSINE_CASES, ids=str)
def test_cosine_similarity_matches_torch(case, dtype):
    s1, s2, dim = case
    check_torch(lambda a, b: F.cosine_similarity(a, b, dim), lambda a, b: TF.cosine_similarity(a, b, dim),
                [randn(*s1, seed=1, dtype=dtype), randn(*s2, seed=2, dtype=dtype)])


def test_cosine_similarity_zero_and_tiny_vectors_match_torch():
    """A zero vector gives 0 with a finite gradient; a vector shorter than eps keeps the norm's gradient (the
    clamp is outside the graph, as in PyTorch)."""
    a = randn(3, 4, seed=3)
    a[0] = 0.0
    a[1] *= 1e-10
    b = randn(3, 4, seed=4)
    check_torch(F.cosine_similarity, TF.cosine_similarity, [a, b])
    check_torch(lambda x, y: F.cosine_similarity(x, y, eps=1e-3), lambda x, y: TF.cosine_similarity(x, y, eps=1e-3),
                [a, b])


PAIRWISE_CASES = [(2.0, (4, 5), (4, 5)), (1.0, (4, 5), (4, 5)), (3.0, (4, 5), (1, 5)), (0.5, (3, 2, 4), (3, 2, 4)),
                  (float("inf"), (4, 5), (4, 5)), (2.0, (5,), (5,)), (2.0, (5,), (3, 5))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", PAIRWISE_CASES, ids=str)
def test_pairwise_distance_matches_torch(case, dtype):
    p, s1, s2 = case
    a, b = randn(*s1, seed=5, dtype=dtype), randn(*s2, seed=6, dtype=dtype)
    for keep in (False, True):
        check_torch(lambda x, y, k=keep: F.pairwise_distance(x, y, p, keepdim=k),
                    lambda x, y, k=keep: TF.pairwise_distance(x, y, p, keepdim=k), [a, b])


def test_pairwise_distance_of_equal_inputs_and_p0_match_torch():
    a = randn(3, 4, seed=7)
    check_torch(lambda x, y: F.pairwise_distance(x, y, eps=0.0), lambda x, y: TF.pairwise_distance(x, y, eps=0.0),
                [a, a.copy()])
    b = a.copy()
    b[:, :2] += 1.0
    check_torch(lambda x, y: F.pairwise_distance(x, y, 0, eps=0.0), lambda x, y: TF.pairwise_distance(x, y, 0, eps=0.0),
                [a, b])


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("dim", [1, -1, 0])
def test_normalize_matches_torch(p, dim):
    x = randn(3, 4, 2, seed=8)
    x[0, :, 0] = 0.0  # a zero vector along dim 1 stays zero
    check_torch(lambda t: F.normalize(t, p, dim), lambda t: TF.normalize(t, p, dim), [x])
    check_torch(lambda t: F.normalize(t, p, dim), lambda t: TF.normalize(t, p, dim), [x.astype(np.float32)])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shapes", [((5, 3), (5, 4)), ((2, 3, 3), (2, 3, 4)), ((3,), (4,))], ids=str)
def test_bilinear_matches_torch(shapes, bias):
    s1, s2 = shapes
    arrays = [randn(*s1, seed=9), randn(*s2, seed=10), randn(2, 3, 4, seed=11)] + ([randn(2, seed=12)] if bias else [])
    check_torch(F.bilinear, TF.bilinear, arrays)
    check_torch(F.bilinear, TF.bilinear, [a.astype(np.float32) for a in arrays])
    check_grads(F.bilinear, arrays)


DISTANCE_GRADCHECKS = {
    "cosine_similarity": (F.cosine_similarity, [(3, 4), (3, 4)]),
    "cosine_similarity_broadcast": (lambda a, b: F.cosine_similarity(a, b, -1), [(2, 3, 4), (3, 4)]),
    "pairwise_distance": (F.pairwise_distance, [(3, 4), (3, 4)]),
    "pairwise_distance_p1": (lambda a, b: F.pairwise_distance(a, b, 1), [(3, 4), (3, 4)]),
    "pairwise_distance_p3": (lambda a, b: F.pairwise_distance(a, b, 3), [(3, 4), (3, 4)]),
    "pairwise_distance_inf": (lambda a, b: F.pairwise_distance(a, b, float("inf")), [(3, 4), (3, 4)]),
    "normalize": (F.normalize, [(3, 4)]),
    "normalize_p3": (lambda x: F.normalize(x, 3, 0), [(3, 4)]),
}


@pytest.mark.parametrize("name", DISTANCE_GRADCHECKS)
def test_distance_gradcheck_and_gradgradcheck(name):
    fn, shapes = DISTANCE_GRADCHECKS[name]
    check_grads(fn, [randn(*s, seed=13 + i) for i, s in enumerate(shapes)])


def test_distance_second_derivative_matches_torch():
    a, b, v = randn(3, 4, seed=20), randn(3, 4, seed=21), randn(3, seed=22)
    for fn, tfn in [(F.cosine_similarity, TF.cosine_similarity), (F.pairwise_distance, TF.pairwise_distance),
                    (lambda x, y: F.pairwise_distance(x, y, 3), lambda x, y: TF.pairwise_distance(x, y, 3))]:
        x = cr.Tensor(a, requires_grad=True)
        (g,) = cr.grad((fn(x, cr.Tensor(b)) * cr.Tensor(v)).sum(), x, create_graph=True)
        (h,) = cr.grad((g * g).sum(), x)
        xt = torch.tensor(a, requires_grad=True)
        (gt,) = torch.autograd.grad((tfn(xt, torch.tensor(b)) * torch.tensor(v)).sum(), xt, create_graph=True)
        (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
        np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-8, atol=1e-10)


# ----- losses -----------------------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
def test_huber_loss_matches_torch(reduction, delta):
    x, t = randn(4, 5, seed=30), randn(4, 5, seed=31)
    for dtype in (np.float32, np.float64):
        check_torch(lambda a, b: F.huber_loss(a, b, reduction, delta),
                    lambda a, b: TF.huber_loss(a, b, reduction, delta), [x.astype(dtype), t.astype(dtype)])
    check_grads(lambda a, b: F.huber_loss(a, b, reduction, delta), [x, t])


def test_huber_loss_at_the_switch_and_with_weight():
    x = np.array([0.0, 1.0, -1.0, 2.0, 0.5])
    t = np.zeros(5)
    check_torch(F.huber_loss, TF.huber_loss, [x, t])
    w = np.array([1.0, 2.0, 0.5, 0.0, 3.0])
    check_torch(lambda a, b, c: F.huber_loss(a, b, weight=c), lambda a, b, c: TF.huber_loss(a, b, weight=c), [x, t, w])


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
def test_kl_div_matches_torch(reduction, log_target):
    x = np.array(TF.log_softmax(torch.tensor(randn(4, 5, seed=32)), 1).numpy())  # own memory, not torch's
    t = np.array(TF.softmax(torch.tensor(randn(4, 5, seed=33)), 1).numpy())
    if log_target:
        t = np.log(t)
    for dtype in (np.float32, np.float64):
        with pytest.warns(UserWarning) if reduction == "mean" else contextlib.nullcontext():
            check_torch(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                        lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
                        [x.astype(dtype), t.astype(dtype)])
    if reduction != "mean":
        check_grads(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), [x, t])


def test_kl_div_zero_target_probabilities_count_as_zero():
    x = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]))
    t = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    y = F.kl_div(cr.Tensor(x, requires_grad=True), cr.Tensor(t), reduction="batchmean")
    yt = TF.kl_div(torch.tensor(x), torch.tensor(t), reduction="batchmean")
    np.testing.assert_allclose(y.item(), yt.item(), rtol=1e-12)
    check_torch(lambda a: F.kl_div(a, cr.Tensor(t), reduction="sum"),
                lambda a: TF.kl_div(a, torch.tensor(t), reduction="sum"), [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss_matches_torch(reduction, margin):
    a, b = randn(6, seed=34), randn(6, seed=35)
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    fn = lambda p, q, r: F.margin_ranking_loss(p, q, r, margin, reduction=reduction)  # noqa: E731
    tfn = lambda p, q, r: TF.margin_ranking_loss(p, q, r, margin, reduction=reduction)  # noqa: E731
    check_torch(fn, tfn, [a, b, y])
    check_torch(fn, tfn, [a.astype(np.float32), b.astype(np.float32), y.astype(np.float32)])
    check_grads(lambda p, q: fn(p, q, cr.Tensor(y)), [a, b])


def test_margin_ranking_loss_at_the_hinge_passes_the_gradient_as_torch():
    a, b, y = np.array([1.0, 2.0]), np.array([1.0, 2.5]), np.array([1.0, -1.0])
    check_torch(lambda p, q, r: F.margin_ranking_loss(p, q, r, reduction="sum"),
                lambda p, q, r: TF.margin_ranking_loss(p, q, r, reduction="sum"), [a, b, y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.2])
def test_cosine_embedding_loss_matches_torch(reduction, margin):
    a, b = randn(6, 4, seed=36), randn(6, 4, seed=37)
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    fn = lambda p, q, r: F.cosine_embedding_loss(p, q, r, margin, reduction=reduction)  # noqa: E731
    tfn = lambda p, q, r: TF.cosine_embedding_loss(p, q, r, margin, reduction=reduction)  # noqa: E731
    check_torch(fn, tfn, [a, b, y])
    check_torch(fn, tfn, [a.astype(np.float32), b.astype(np.float32), y.astype(np.float32)])
    check_torch(fn, tfn, [a[0], b[0], np.array(-1.0)])  # unbatched
    check_torch(lambda p, q: fn(p, q, cr.tensor([1, -1, 1, -1, -1, 1])),
                lambda p, q: tfn(p, q, torch.tensor([1, -1, 1, -1, -1, 1])), [a, b])  # integer labels
    check_grads(lambda p, q: fn(p, q, cr.Tensor(y)), [a, b])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"p": 1.0}, {"swap": True}, {"margin": 3.0, "p": 3.0, "eps": 1e-3}],
                         ids=str)
def test_triplet_margin_loss_matches_torch(reduction, options):
    arrays = [randn(5, 4, seed=38), randn(5, 4, seed=39), randn(5, 4, seed=40)]
    fn = lambda a, p, n: F.triplet_margin_loss(a, p, n, reduction=reduction, **options)  # noqa: E731
    tfn = lambda a, p, n: TF.triplet_margin_loss(a, p, n, reduction=reduction, **options)  # noqa: E731
    check_torch(fn, tfn, arrays)
    check_torch(fn, tfn, [a.astype(np.float32) for a in arrays])
    check_torch(fn, tfn, [a[0] for a in arrays])  # unbatched
    check_grads(fn, arrays)


def test_losses_keep_float32():
    a, b = cr.randn(3, 4), cr.randn(3, 4)
    y = cr.tensor([1.0, -1.0, 1.0])
    for loss in (F.huber_loss(a, b), F.kl_div(a, b, reduction="batchmean"),
                 F.margin_ranking_loss(a[:, 0], b[:, 0], y), F.cosine_embedding_loss(a, b, y),
                 F.triplet_margin_loss(a, b, a * 2), F.cosine_similarity(a, b), F.pairwise_distance(a, b),
                 F.normalize(a)):
        assert loss.dtype == np.float32


def one_line(error, *fragments):
    text = str(error.value)
    assert isinstance(error.value, ChainruleError) and "\n" not in text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_bad_arguments_are_refused_in_one_line():
    a, b = cr.randn(3, 4), cr.randn(3, 4)
    with pytest.raises(ValueError) as e:
        F.huber_loss(a, b, delta=0.0)
    one_line(e, "huber_loss", "'delta' must be > 0, got 0")
    with pytest.raises(ValueError) as e:
        F.huber_loss(a, b, reduction="avg")
    one_line(e, "huber_loss", "'reduction'", "'avg'")
    with pytest.raises(ValueError) as e:
        F.kl_div(a, b, reduction="batch")
    one_line(e, "kl_div", "'batch' is not a valid value for argument 'reduction'")
    with pytest.raises(ValueError) as e:
        F.cosine_similarity(a, cr.randn(3, 5))
    one_line(e, "cosine_similarity", "(3, 4) and (3, 5) do not broadcast")
    with pytest.raises(TypeError) as e:
        F.cosine_similarity(a, b.double())
    one_line(e, "cosine_similarity", "'x2' has dtype float64 but x1 has dtype float32")
    with pytest.raises(ValueError) as e:
        F.pairwise_distance(a, b, p=-1)
    one_line(e, "pairwise_distance", "'p' must be ≥ 0, got -1")
    with pytest.raises(ValueError) as e:
        F.margin_ranking_loss(a[:, 0], b, cr.ones(3))
    one_line(e, "margin_ranking_loss", "same dimension")
    with pytest.raises(ValueError) as e:
        F.cosine_embedding_loss(a, b, cr.ones(4))
    one_line(e, "cosine_embedding_loss", "target must have shape (3,)", "got (4,)")
    with pytest.raises(ValueError) as e:
        F.triplet_margin_loss(a, b, b[0])
    one_line(e, "triplet_margin_loss", "anchor 2D, positive 2D, and negative 1D")
    with pytest.raises(ValueError) as e:
        F.bilinear(a, b, cr.randn(2, 4, 5))
    one_line(e, "bilinear", "input2 shape (..., 5)")
    with pytest.raises(ValueError) as e:
        F.bilinear(a, b, cr.randn(2, 4))
    one_line(e, "bilinear", "'weight' must be 3-D")
    with pytest.raises(TypeError) as e:
        F.normalize(cr.tensor([1, 2]))
    one_line(e, "normalize", "floating-point")


def test_empty_batches_match_torch():
    """A batch of no rows: empty results (and NaN for a 'mean' of no losses), as PyTorch."""
    e, e3 = randn(0, 4, seed=50), randn(0, 3, seed=51)
    check_torch(F.cosine_similarity, TF.cosine_similarity, [e, e.copy()])
    check_torch(F.pairwise_distance, TF.pairwise_distance, [e, e.copy()])
    check_torch(F.normalize, TF.normalize, [e])
    check_torch(F.bilinear, TF.bilinear, [e3, e, randn(2, 3, 4, seed=52)])
    check_torch(F.huber_loss, TF.huber_loss, [e, e.copy()])
    check_torch(lambda a, b, c: F.triplet_margin_loss(a, b, c, reduction="sum"),
                lambda a, b, c: TF.triplet_margin_loss(a, b, c, reduction="sum"), [e, e.copy(), e.copy()])
