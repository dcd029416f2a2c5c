"""conv2d and conv_transpose2d against PyTorch, gradcheck, gradgradcheck, padding modes, untied bias."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_grads, check_torch, noncontiguous, rng

import chainrule as cr
import chainrule.nn.functional as F

# (N, C, H, W), (F, KH, KW), stride, padding, dilation, groups
CONV_CASES = [
    ((2, 3, 7, 8), (4, 3, 3), 1, 0, 1, 1),
    ((2, 3, 9, 7), (5, 3, 2), 2, 1, 1, 1),
    ((3, 2, 10, 11), (4, 3, 5), 3, (2, 1), 1, 1),
    ((2, 4, 9, 9), (6, 3, 3), 2, 1, 2, 2),
    ((2, 4, 8, 10), (4, 3, 3), 1, 1, 1, 4),  # depthwise
    ((1, 6, 12, 9), (6, 2, 4), (2, 3), (1, 2), (2, 1), 3),
    ((2, 2, 6, 6), (3, 5, 5), 1, "same", 1, 1),
    ((2, 2, 7, 6), (3, 4, 2), 1, "same", 2, 1),  # even kernel: asymmetric padding, as PyTorch
    ((2, 2, 6, 6), (3, 3, 3), 1, "valid", 1, 1),
    ((1, 1, 28, 28), (6, 5, 5), 1, 2, 1, 1),
    ((2, 4, 9, 11), (4, 3, 2), 1, (1, 0), (2, 3), 2),  # stride 1 (wide rows) with dilation, groups, no W padding
    ((2, 4, 7, 6), (3, 4, 2), 1, "same", 1, 1),  # gX as a full correlation, asymmetric padding
    ((1, 3, 5, 5), (2, 3, 3), 1, 3, 1, 1),  # padding beyond the kernel's reach: gX by col2im
]


def _conv_arrays(case, seed=0, dtype=np.float32):
    (n, c, h, w), (f, kh, kw), _, _, _, groups = case
    r = rng(seed)
    return [
        r.standard_normal((n, c, h, w)).astype(dtype),
        r.standard_normal((f, c // groups, kh, kw)).astype(dtype),
        r.standard_normal(f).astype(dtype),
    ]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(case):
    _, _, s, p, d, g = case
    check_torch(
        lambda x, w, b: F.conv2d(x, w, b, s, p, d, g), lambda x, w, b: TF.conv2d(x, w, b, s, p, d, g),
        _conv_arrays(case),
    )


def test_conv2d_without_bias_and_non_contiguous_input():
    x, w, _ = _conv_arrays(CONV_CASES[1])
    check_torch(lambda x, w: F.conv2d(x, w, stride=2, padding=1), lambda x, w: TF.conv2d(x, w, stride=2, padding=1),
                [noncontiguous(x), noncontiguous(w)])


@pytest.mark.parametrize("case", [CONV_CASES[1], CONV_CASES[3], CONV_CASES[5], CONV_CASES[7]])
def test_conv2d_gradcheck_and_gradgradcheck(case):
    (n, c, h, w), (f, kh, kw), s, p, d, g = case
    x, wt, b = _conv_arrays(((1, c, min(h, 7), min(w, 7)), (f, kh, kw), s, p, d, g), seed=1, dtype=np.float64)
    check_grads(lambda x, w, b: F.conv2d(x, w, b, s, p, d, g), [x, wt, b], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1)])
def test_conv2d_padding_modes_match_torch(mode, padding):
    x, w, b = _conv_arrays(((2, 2, 6, 7), (3, 3, 3), 1, 0, 1, 1))
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    check_torch(
        lambda x, w, b: F.conv2d(x, w, b, padding=padding, padding_mode=mode),
        lambda x, w, b: TF.conv2d(TF.pad(x, (pw, pw, ph, ph), mode=mode), w, b),
        [x, w, b],
    )


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_gradcheck(mode):
    x = rng(3).standard_normal((1, 1, 4, 5))
    check_grads(lambda x: cr.pad(x, (2, 1, 1, 3), mode=mode) ** 2, [x])


def test_circular_padding_makes_convolution_translation_equivariant():
    r = rng(4)
    x = cr.tensor(r.standard_normal((1, 2, 8, 8)).astype(np.float32))
    w = cr.tensor(r.standard_normal((3, 2, 3, 3)).astype(np.float32))
    shift = (2, -3)
    shifted = cr.tensor(np.roll(x.numpy(), shift, axis=(2, 3)))
    y = F.conv2d(x, w, padding=1, padding_mode="circular").numpy()
    y_shifted = F.conv2d(shifted, w, padding=1, padding_mode="circular").numpy()
    np.testing.assert_allclose(y_shifted, np.roll(y, shift, axis=(2, 3)), atol=1e-5)
    zero_padded = F.conv2d(shifted, w, padding=1).numpy()  # zero padding breaks it at the borders
    assert np.abs(zero_padded - np.roll(y, shift, axis=(2, 3))).max() > 1e-2


def test_untied_bias_is_one_bias_per_output_unit():
    r = rng(5)
    x = r.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = r.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = r.standard_normal((4, 4, 4)).astype(np.float32)  # (F, OH, OW)
    check_torch(lambda x, w, b: F.conv2d(x, w, b), lambda x, w, b: TF.conv2d(x, w) + b, [x, w, b])
    check_grads(lambda x, w, b: F.conv2d(x, w, b), [x[:1], w, b], second=False)


# (N, C_in, H, W), (C_out/G, KH, KW), stride, padding, output_padding, groups, dilation
TRANSPOSE_CASES = [
    ((2, 3, 4, 5), (2, 3, 3), 1, 0, 0, 1, 1),
    ((2, 4, 5, 4), (3, 3, 2), 2, 1, 1, 1, 1),
    ((1, 4, 3, 6), (1, 4, 3), (3, 2), (1, 0), (2, 1), 2, 1),
    ((2, 2, 4, 4), (3, 3, 3), 2, 1, 0, 1, 2),
]


def _transpose_arrays(case, seed=0, dtype=np.float32):
    (n, c, h, w), (cg, kh, kw), _, _, _, g, _ = case
    r = rng(seed)
    return [
        r.standard_normal((n, c, h, w)).astype(dtype),
        r.standard_normal((c, cg, kh, kw)).astype(dtype),
        r.standard_normal(cg * g).astype(dtype),
    ]


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose2d_matches_torch(case):
    _, _, s, p, op, g, d = case
    check_torch(
        lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, g, d),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, s, p, op, g, d),
        _transpose_arrays(case),
    )


@pytest.mark.parametrize("case", TRANSPOSE_CASES[1:3])
def test_conv_transpose2d_gradcheck_and_gradgradcheck(case):
    _, _, s, p, op, g, d = case
    arrays = _transpose_arrays(case, seed=2, dtype=np.float64)
    arrays[0] = arrays[0][:1]
    check_grads(lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, g, d), arrays, atol=1e-6, rtol=1e-4)


def test_conv_input_gradient_is_full_convolution_with_rotated_kernel():
    # dL/dX = full convolution of gO with rot180(W): for stride 1 that is conv2d(gO, flipped W with C, F swapped)
    r = rng(6)
    x = cr.tensor(r.standard_normal((1, 2, 6, 6)), requires_grad=True)
    w = r.standard_normal((3, 2, 3, 3))
    go = r.standard_normal((1, 3, 4, 4))
    F.conv2d(x, cr.tensor(w)).backward(cr.tensor(go))
    rotated = np.flip(w, axis=(2, 3)).transpose(1, 0, 2, 3)  # (C, F, KH, KW)
    full = F.conv2d(cr.tensor(go), cr.tensor(rotated.copy()), padding=2)
    np.testing.assert_allclose(x.grad.numpy(), full.numpy(), rtol=1e-10)


def test_double_backward_matches_torch():
    r = rng(7)
    x0, w0 = r.standard_normal((2, 2, 5, 5)), r.standard_normal((3, 2, 3, 3))
    x, w = cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)
    xt, wt = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    gx, gw = cr.grad((F.conv2d(x, w, stride=2, padding=1) ** 2).sum(), [x, w], create_graph=True)
    gxt, gwt = torch.autograd.grad((TF.conv2d(xt, wt, stride=2, padding=1) ** 2).sum(), [xt, wt], create_graph=True)
    cr.autograd.backward([(gx * gx).sum() + (gw**3).sum()])
    ((gxt * gxt).sum() + (gwt**3).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-9)


def test_conv_errors_name_op_and_shapes():
    x, w = cr.ones(1, 3, 5, 5), cr.ones(4, 2, 3, 3)
    with pytest.raises(cr.ShapeError, match=r"conv2d: input has 3 channels but weight \(4, 2, 3, 3\) expects 2"):
        F.conv2d(x, w)
    with pytest.raises(cr.ShapeError, match=r"conv2d: the kernel \(7×7.*larger than the padded input \(5×5\)"):
        F.conv2d(x, cr.ones(1, 3, 7, 7))
    with pytest.raises(ValueError, match="conv2d: stride must be ≥ 1"):
        F.conv2d(x, cr.ones(1, 3, 3, 3), stride=0)
    with pytest.raises(ValueError, match="conv2d: padding must be ≥ 0"):
        F.conv2d(x, cr.ones(1, 3, 3, 3), padding=-1)
    with pytest.raises(cr.ShapeError, match=r"conv2d: bias must have shape \(1,\).*\(1, 3, 3\).*got \(2,\)"):
        F.conv2d(x, cr.ones(1, 3, 3, 3), cr.ones(2))
    with pytest.raises(cr.ShapeError, match=r"conv2d: input must be 4-D"):
        F.conv2d(cr.ones(5, 5), cr.ones(1, 3, 3, 3))
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        F.conv2d(x, cr.ones(1, 3, 3, 3), stride=2, padding="same")


def test_float32_stays_float32():
    x, w, b = _conv_arrays(CONV_CASES[0])
    xs = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.conv2d(*xs, padding=1)
    y.sum().backward()
    assert y.dtype == np.float32 and all(t.grad.dtype == np.float32 for t in xs)


@pytest.mark.parametrize("case", [CONV_CASES[1], CONV_CASES[3], CONV_CASES[5], CONV_CASES[9]])
def test_batch_chunking_gives_the_same_numbers(case, monkeypatch):
    """Convolutions run in batch chunks sized to the cache; with tiny chunks (one image each) the results and
    every gradient still equal PyTorch's, for conv2d and conv_transpose2d."""
    import chainrule.ops.conv_layout as layout

    monkeypatch.setattr(layout, "COL_BYTES", 1)
    monkeypatch.setattr(layout, "COL_BYTES_FEW_FILTERS", 1)
    _, _, s, p, d, g = case
    check_torch(  # atol: the weight gradient (entries up to ~50) is summed image by image in float32
        lambda x, w, b: F.conv2d(x, w, b, s, p, d, g), lambda x, w, b: TF.conv2d(x, w, b, s, p, d, g),
        _conv_arrays(case, seed=9), atol=1e-4,
    )
    check_torch(
        lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        lambda x, w: TF.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        _transpose_arrays(TRANSPOSE_CASES[1], seed=9)[:2],
    )
