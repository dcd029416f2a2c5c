"""batch_norm and layer_norm: forward and gradients against PyTorch, running statistics, gradcheck and
gradgradcheck of the fused standardisation backward."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual alias
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - the usual alias

BN_SHAPES = [(8, 3), (4, 3, 5), (2, 3, 4, 5)]


def affine(C, seed, dtype):
    r = rng(seed)
    return r.uniform(0.5, 1.5, C).astype(dtype), r.standard_normal(C).astype(dtype)


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("with_affine", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_training_matches_torch(shape, with_affine, dtype):
    C = shape[1]
    x = (rng(1).standard_normal(shape) * 3 + 1).astype(dtype)
    arrays = [x, *affine(C, 2, dtype)] if with_affine else [x]

    def fn(x, w=None, b=None):
        return F.batch_norm(x, None, None, w, b, training=True)

    def tfn(x, w=None, b=None):
        return TF.batch_norm(x, None, None, w, b, training=True)

    check_torch(fn, tfn, arrays)


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_eval_matches_torch(shape, dtype):
    C = shape[1]
    r = rng(3)
    x = r.standard_normal(shape).astype(dtype)
    rm, rv = r.standard_normal(C).astype(dtype), r.uniform(0.5, 2, C).astype(dtype)
    check_torch(lambda x, w, b: F.batch_norm(x, cr.Tensor(rm), cr.Tensor(rv), w, b, training=False, eps=1e-3),
                lambda x, w, b: TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b, training=False, eps=1e-3),
                [x, *affine(C, 4, dtype)])


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("momentum", [0.1, 0.35])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_running_statistics_match_torch_after_several_steps(shape, momentum, dtype):
    C = shape[1]
    rm, rv = cr.zeros(C, dtype=dtype), cr.ones(C, dtype=dtype)
    trm, trv = torch.zeros(C, dtype=torch.float64 if dtype == np.float64 else torch.float32), None
    trv = torch.ones_like(trm)
    rm_array, rv_array = rm.numpy(), rv.numpy()
    for step in range(5):
        x = (rng(10 + step).standard_normal(shape) * (step + 1) + step).astype(dtype)
        F.batch_norm(cr.Tensor(x), rm, rv, training=True, momentum=momentum)
        TF.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=momentum)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=tol, atol=tol)  # unbiased variance, as PyTorch
    assert rm.numpy() is rm_array and rv.numpy() is rv_array  # updated in place
    assert rm.dtype == dtype and rv.dtype == dtype
    # evaluation with the accumulated statistics matches too
    x = rng(20).standard_normal(shape).astype(dtype)
    check_torch(lambda x: F.batch_norm(x, rm, rv), lambda x: TF.batch_norm(x, trm, trv), [x])


def test_batch_norm_running_statistics_are_not_touched_in_eval():
    rm, rv = cr.tensor([0.5, -1.0]), cr.tensor([2.0, 3.0])
    F.batch_norm(cr.randn(4, 2), rm, rv, training=False)
    np.testing.assert_array_equal(rm.numpy(), [0.5, -1.0])
    np.testing.assert_array_equal(rv.numpy(), [2.0, 3.0])


@pytest.mark.parametrize("shape", [(4, 2), (3, 2, 3)])
def test_batch_norm_training_gradcheck(shape):
    C = shape[1]
    x = rng(30).standard_normal(shape)
    w, b = affine(C, 31, np.float64)
    check_grads(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b])


def test_batch_norm_eval_gradcheck():
    r = rng(32)
    rm, rv = cr.Tensor(r.standard_normal(3)), cr.Tensor(r.uniform(0.5, 2, 3))
    x = r.standard_normal((4, 3, 2))
    check_grads(lambda x, w, b: F.batch_norm(x, rm, rv, w, b), [x, *affine(3, 33, np.float64)])


@pytest.mark.parametrize("input_shape, normalized_shape", [((4, 6), 6), ((2, 3, 5), (5,)), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("with_affine", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_matches_torch(input_shape, normalized_shape, with_affine, dtype):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x = (rng(40).standard_normal(input_shape) * 2 - 1).astype(dtype)
    r = rng(41)
    arrays = [x]
    if with_affine:
        arrays += [r.uniform(0.5, 1.5, shape).astype(dtype), r.standard_normal(shape).astype(dtype)]
    check_torch(lambda x, *wb: F.layer_norm(x, normalized_shape, *wb, eps=1e-4),
                lambda x, *wb: TF.layer_norm(x, shape, *wb, eps=1e-4), arrays)


@pytest.mark.parametrize("input_shape, normalized_shape", [((3, 4), (4,)), ((2, 2, 3), (2, 3))])
def test_layer_norm_gradcheck(input_shape, normalized_shape):
    r = rng(42)
    w, b = r.uniform(0.5, 1.5, normalized_shape), r.standard_normal(normalized_shape)
    arrays = [r.standard_normal(input_shape), w, b]
    check_grads(lambda x, w, b: F.layer_norm(x, normalized_shape, w, b), arrays)


def test_fused_backward_equals_composed_standardisation():
    """The closed form gx = (1/σ)(g − mean(g) − x̂·mean(g·x̂)) equals autograd through mean, var and sqrt."""
    x = rng(43).standard_normal((5, 4))
    g = cr.Tensor(rng(44).standard_normal((5, 4)))
    a, b = cr.Tensor(x, requires_grad=True), cr.Tensor(x, requires_grad=True)
    F.layer_norm(a, 4, eps=1e-3).backward(g)
    composed = (b - b.mean(-1, keepdim=True)) / cr.sqrt(b.var(-1, keepdim=True, correction=0) + 1e-3)
    composed.backward(g)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_double_backward_matches_torch():
    x = rng(45).standard_normal((4, 3, 2))
    w, b = affine(3, 46, np.float64)
    v = rng(47).standard_normal(x.shape)
    xs = [cr.Tensor(a, requires_grad=True) for a in (x, w, b)]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.batch_norm(*xs[:1], None, None, *xs[1:], training=True)
    yt = TF.batch_norm(ts[0], None, None, *ts[1:], training=True)
    gs = cr.grad((y * y * y).sum(), xs, create_graph=True)
    gts = torch.autograd.grad((yt * yt * yt).sum(), ts, create_graph=True)
    hs = cr.grad((gs[0] * cr.Tensor(v)).sum(), xs)
    hts = torch.autograd.grad((gts[0] * torch.tensor(v)).sum(), ts)
    for h, ht in zip(hs, hts):
        np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-9, atol=1e-10)


def test_normalization_keeps_float32():
    x = cr.randn(4, 3, 2, requires_grad=True)
    w = cr.ones(3, requires_grad=True)
    rm, rv = cr.zeros(3), cr.ones(3)
    for y in (F.batch_norm(x, rm, rv, w, training=True), F.batch_norm(x, rm, rv, w), F.layer_norm(x, (3, 2))):
        assert y.dtype == np.float32
        y.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32 and rm.dtype == np.float32


def test_normalization_argument_errors():
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel when training"):
        F.batch_norm(cr.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var are required when training=False"):
        F.batch_norm(cr.randn(4, 3), None, None)
    with pytest.raises(cr.ShapeError, match=r"batch_norm: argument 'running_mean' must have shape \(3,\), got \(4,\)"):
        F.batch_norm(cr.randn(4, 3), cr.zeros(4), cr.ones(3))
    with pytest.raises(cr.ShapeError, match=r"batch_norm: input must have shape \(N, C\)"):
        F.batch_norm(cr.randn(4), None, None, training=True)
    with pytest.raises(cr.DTypeError, match="batch_norm: argument 'weight' has dtype float64 but input has dtype"):
        F.batch_norm(cr.randn(4, 3), None, None, cr.Tensor(np.ones(3)), training=True)
    with pytest.raises(cr.ShapeError, match=r"layer_norm: normalized_shape \(4,\) must .* input of shape \(2, 3\)"):
        F.layer_norm(cr.randn(2, 3), 4)
    with pytest.raises(cr.ShapeError, match=r"layer_norm: argument 'weight' must have shape \(3,\), got \(2,\)"):
        F.layer_norm(cr.randn(2, 3), 3, cr.ones(2))


# ----- the compiled batch norm (chainrule.compiled.normalization) against its NumPy reference ---------------

def _bn_case(shape, dtype, offset=0.0, contiguous=True):
    r = rng(11)
    x = (r.standard_normal(shape) * 3 + offset).astype(dtype)
    if not contiguous:  # the same values, laid out channels-last
        x = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    gy = r.standard_normal(shape).astype(dtype)
    w, b = affine(shape[1], 4, dtype)
    return x, gy, w, b


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape, offset, contiguous", [
    ((8, 3), 0.0, True), ((4, 3, 5), 0.0, True), ((6, 5, 7, 4), 0.0, True), ((6, 5, 7, 4), 0.0, False),
    ((16, 4, 9, 9), 100.0, True),  # a large mean: the two-pass variance must not cancel
])
@pytest.mark.parametrize("params", ["both", "weight", "neither"])
def test_compiled_batch_norm_equals_the_numpy_reference(shape, offset, contiguous, params, dtype, rtol):
    """The kernels sum in float64 where the reference sums pairwise in the input's dtype: equal to the rounding
    of the sums (relative to each result's scale), in the input's dtype."""
    from chainrule import compiled
    from chainrule.ops import normalization as N

    if not compiled.enabled():
        pytest.skip("the compiled kernels are off (Numba not installed, or CHAINRULE_COMPILED=0)")
    x, gy, w, b = _bn_case(shape, dtype, offset, contiguous)
    w = None if params == "neither" else w
    b = b if params == "both" else None
    ref = N._batch_norm_forward(x, w, b, 1e-5)
    got = N._compiled_forward(x, w, b, 1e-5)
    for name, r, g in zip(("y", "mean", "var", "rstd"), ref, got):
        assert g.dtype == dtype and g.shape == r.shape, name
        np.testing.assert_allclose(g, r, rtol=rtol, atol=rtol * float(np.abs(r).max()), err_msg=name)
    ref_grads = N._batch_norm_grads(gy, x, ref[1], ref[3], w)
    got_grads = N._compiled_backward(gy, x, ref[1], ref[3], w)
    for name, r, g in zip(("gx", "gweight", "gbias"), ref_grads, got_grads):
        assert g.dtype == dtype and g.shape == r.shape, name
        np.testing.assert_allclose(g, r, rtol=rtol, atol=rtol * float(np.abs(r).max()) * 10, err_msg=name)


def test_batch_norm_split_over_channels_equals_one_thread_bit_for_bit(monkeypatch):
    """Each channel is computed by one thread whatever the split: 1, 2 and 3 threads give the same bits."""
    from chainrule import compiled, threads
    from chainrule.ops import normalization as N

    if not compiled.enabled():
        pytest.skip("the compiled kernels are off (Numba not installed, or CHAINRULE_COMPILED=0)")
    monkeypatch.setattr(N, "SPLIT_MIN_SIZE", 1)
    x, gy, w, b = _bn_case((4, 5, 3, 3), np.float32)
    before = threads.get_num_threads()
    results = []
    try:
        for count in (1, 2, 3):
            threads.set_num_threads(count)
            fwd = N._compiled_forward(x, w, b, 1e-5)
            results.append(fwd + N._compiled_backward(gy, x, fwd[1], fwd[3], w))
    finally:
        threads.set_num_threads(before)
    for other in results[1:]:
        for a, e in zip(other, results[0]):
            np.testing.assert_array_equal(a, e)


def test_batch_norm_training_matches_torch_with_and_without_compiled_kernels():
    """The layer's whole training step (output, three gradients, running statistics) against PyTorch on a
    CNN-sized input, on each route."""
    import contextlib

    from chainrule import compiled

    x, gy, w, b = _bn_case((16, 6, 12, 12), np.float32, offset=2.0)
    t = torch.nn.BatchNorm2d(6)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(w))
        t.bias.copy_(torch.from_numpy(b))
    tx = torch.from_numpy(x).requires_grad_(True)
    t(tx).backward(torch.from_numpy(gy))
    for route in (contextlib.nullcontext(), compiled.disabled()):
        with route:
            m = cr.nn.BatchNorm2d(6)
            m.weight.data[...] = w
            m.bias.data[...] = b
            cx = cr.tensor(x, requires_grad=True)
            m(cx).backward(cr.tensor(gy))
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(m.bias.grad.numpy(), t.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(m.running_mean.numpy(), t.running_mean.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(m.running_var.numpy(), t.running_var.numpy(), rtol=1e-5, atol=1e-6)
