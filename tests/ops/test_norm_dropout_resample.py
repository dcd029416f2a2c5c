"""Group and instance normalization, channel and alpha dropout, interpolation and the pixel/channel shuffles
against PyTorch: forward values, every gradient, running statistics, float64 gradcheck and gradgradcheck, the
dropout masks' structure, and the one-line errors for bad arguments."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual names
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError


def _normal(shape, seed=0, dtype=np.float32):
    return rng(seed).standard_normal(shape).astype(dtype)


def _one_line(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert "\n" not in str(info.value).split("\nsee docs")[0]


# ----- group and instance norm ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, groups, affine", [
    ((3, 6, 5, 4), 3, True), ((2, 4, 7), 2, True), ((2, 6), 3, False), ((2, 4, 3, 3), 4, True),
    ((2, 4, 3, 3), 1, False), ((1, 2, 2, 2, 3), 2, True),
])
def test_group_norm_matches_torch(shape, groups, affine):
    c = shape[1]
    arrays = [_normal(shape, 1)] + ([_normal((c,), 2), _normal((c,), 3)] if affine else [])
    check_torch(lambda x, *wb: F.group_norm(x, groups, *wb, eps=1e-4),
                lambda x, *wb: TF.group_norm(x, groups, *wb, eps=1e-4), arrays)


def test_group_norm_gradcheck_and_second_derivatives():
    arrays = [_normal((2, 4, 3), 1, np.float64), _normal((4,), 2, np.float64), _normal((4,), 3, np.float64)]
    check_grads(lambda x, w, b: F.group_norm(x, 2, w, b), arrays)


@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (2, 3, 7)])
def test_instance_norm_matches_torch_and_updates_running_statistics_as_torch(shape):
    c = shape[1]
    arrays = [_normal(shape, 1), _normal((c,), 2), _normal((c,), 3)]
    check_torch(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
                lambda x, w, b: TF.instance_norm(x, weight=w, bias=b), arrays)
    rm, rv = rng(4).standard_normal(c).astype(np.float32), rng(5).uniform(0.5, 2, c).astype(np.float32)
    mine = (cr.tensor(rm.copy()), cr.tensor(rv.copy()))
    theirs = (torch.tensor(rm.copy()), torch.tensor(rv.copy()))
    for step in range(3):
        x = _normal(shape, 10 + step)
        y = F.instance_norm(cr.tensor(x), *mine, momentum=0.3)
        ty = TF.instance_norm(torch.tensor(x), *theirs, momentum=0.3)
        np.testing.assert_allclose(y.numpy(), ty.numpy(), atol=1e-5, rtol=1e-4)
    for a, t in zip(mine, theirs):
        np.testing.assert_allclose(a.numpy(), t.numpy(), atol=1e-6, rtol=1e-5)
    check_torch(lambda x: F.instance_norm(x, *mine, use_input_stats=False),
                lambda x: TF.instance_norm(x, *theirs, use_input_stats=False), [_normal(shape, 20)])


def test_instance_norm_gradcheck_and_second_derivatives():
    arrays = [_normal((2, 3, 4), 1, np.float64), _normal((3,), 2, np.float64), _normal((3,), 3, np.float64)]
    check_grads(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), arrays)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: F.group_norm(cr.zeros(2, 6, 3), 4), ArgumentError, r"group_norm: the 6 channels .* num_groups=4"),
    (lambda: F.group_norm(cr.zeros(2, 6, 3), 0), ArgumentError, r"group_norm: num_groups must be a positive int"),
    (lambda: F.group_norm(cr.zeros(2, 6, 3), 2, cr.zeros(5)), ShapeError, r"group_norm: argument 'weight' must "
     r"have shape \(6,\)"),
    (lambda: F.group_norm(cr.zeros(6, dtype=cr.int64), 2), DTypeError, r"group_norm"),
    (lambda: F.instance_norm(cr.zeros(2, 3)), ShapeError, r"instance_norm: input must have shape \(N, C, L\)"),
    (lambda: F.instance_norm(cr.zeros(2, 3, 1)), ShapeError, r"instance_norm: expected more than 1 spatial"),
    (lambda: F.instance_norm(cr.zeros(2, 3, 4), use_input_stats=False), ArgumentError,
     r"instance_norm: use_input_stats=False needs running_mean"),
    (lambda: F.instance_norm(cr.zeros(2, 3, 4), cr.zeros(3)), ArgumentError,
     r"instance_norm: running_mean and running_var must both be given"),
])
def test_norm_bad_arguments_get_one_clear_line(call, error, pattern):
    _one_line(call, error, pattern)


# ----- channel and alpha dropout ----------------------------------------------------------------------------

@pytest.mark.parametrize("op, shape, batched", [
    (F.dropout1d, (8, 16, 5), True), (F.dropout1d, (16, 5), False), (F.dropout2d, (8, 16, 3, 4), True),
])
def test_channel_dropout_drops_whole_channels_and_scales_the_rest(op, shape, batched):
    x = cr.tensor(rng(1).uniform(1, 2, shape).astype(np.float32), requires_grad=True)
    y = op(x, 0.25, generator=np.random.default_rng(0))
    channels = y.numpy().reshape(int(np.prod(shape[:2 if batched else 1])), -1)
    source = x.numpy().reshape(channels.shape)
    dropped = (channels == 0).all(axis=1)
    kept = ~dropped
    np.testing.assert_allclose(channels[kept], source[kept] / 0.75, rtol=1e-6)
    assert 0 < dropped.sum() < len(dropped)  # 128 or 16 draws at p = 0.25: some of each
    assert not (channels[kept] == 0).any()
    y.sum().backward()
    g = x.grad.numpy().reshape(channels.shape)
    np.testing.assert_allclose(g[kept], 1 / 0.75, rtol=1e-6)
    assert (g[dropped] == 0).all()
    assert y.dtype == np.float32


def test_channel_dropout_is_the_identity_out_of_training_and_reproducible_with_a_seed():
    x = cr.tensor(_normal((2, 3, 4, 4)))
    assert F.dropout2d(x, 0.5, training=False) is x
    np.testing.assert_array_equal(F.dropout1d(x[0], 0.0).numpy(), x[0].numpy())
    a = F.dropout2d(x, 0.5, generator=np.random.default_rng(3)).numpy()
    b = F.dropout2d(x, 0.5, generator=np.random.default_rng(3)).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(F.dropout2d(x, 1.0).numpy(), np.zeros((2, 3, 4, 4), np.float32))


def test_dropout2d_reads_3d_input_as_n_c_l_with_a_warning_as_torch():
    x = cr.tensor(np.ones((4, 6, 5), np.float32))
    with pytest.warns(UserWarning, match="dropout2d: received a 3-D input"):
        y = F.dropout2d(x, 0.5, generator=np.random.default_rng(0)).numpy()
    per_channel = y.reshape(24, 5)
    assert all(len(set(row)) == 1 for row in per_channel)  # one draw per (n, c)


def test_channel_dropout_double_backward_and_gradcheck():
    x = _normal((2, 3, 4), 1, np.float64)
    check_grads(lambda t: F.dropout1d(t, 0.4, generator=np.random.default_rng(1)), [x])
    check_grads(lambda t: F.alpha_dropout(t, 0.3, True, generator=np.random.default_rng(1)), [x])


def test_alpha_dropout_keeps_mean_and_variance_and_matches_torch_formula():
    x = rng(0).standard_normal(200_000).astype(np.float32)
    y = F.alpha_dropout(cr.tensor(x), 0.2, training=True, generator=np.random.default_rng(0)).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
    # the same mask in torch's formula: a·(x·m + α'(1 − m)) + b
    keep = np.random.default_rng(0).random(x.shape) >= 0.2
    alpha, p = 1.7580993408473766, 0.2
    a = 1 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    expected = x * keep * a + (keep - 1) * alpha * a + alpha * a * p
    np.testing.assert_allclose(y, expected, atol=1e-6)
    np.testing.assert_array_equal(F.alpha_dropout(cr.tensor(x), 0.2).numpy(), x)  # training=False by default


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: F.dropout1d(cr.zeros(2, 3, 4, 5)), ShapeError, r"dropout1d: expected a 2-D \(C, L\) or 3-D"),
    (lambda: F.dropout2d(cr.zeros(2, 3, 4, 5), p=1.5), ArgumentError, r"dropout2d: argument 'p' must lie in \[0, 1\]"),
    (lambda: F.alpha_dropout(cr.zeros(3, dtype=cr.int64), 0.5, True), DTypeError, r"alpha_dropout: argument 'input'"),
    (lambda: F.dropout1d(cr.zeros(2, 3), generator=3), ArgumentTypeError, r"dropout1d: argument 'generator'"),
])
def test_dropout_bad_arguments_get_one_clear_line(call, error, pattern):
    _one_line(call, error, pattern)


# ----- interpolation ----------------------------------------------------------------------------------------

SIZES = [dict(size=9), dict(size=4), dict(size=1), dict(scale_factor=2), dict(scale_factor=1.7),
         dict(scale_factor=0.6), dict(scale_factor=1.7, recompute_scale_factor=True), dict(scale_factor=3.0)]


@pytest.mark.parametrize("shape, mode", [
    ((2, 3, 7), "nearest"), ((2, 3, 5, 6), "nearest"), ((1, 2, 3, 4, 5), "nearest"), ((2, 3, 5, 6), "nearest-exact"),
    ((2, 3, 7), "linear"), ((2, 3, 5, 6), "bilinear"), ((1, 2, 3, 4, 3), "trilinear"),
])
@pytest.mark.parametrize("how", SIZES)
def test_interpolate_matches_torch(shape, mode, how):
    corners = [None] if "nearest" in mode else [False, True]
    for align_corners in corners:
        kwargs = dict(how, mode=mode) | ({} if align_corners is None else {"align_corners": align_corners})
        check_torch(lambda x, kw=kwargs: F.interpolate(x, **kw), lambda x, kw=kwargs: TF.interpolate(x, **kw),
                    [_normal(shape, 1)], atol=2e-6)


def test_interpolate_per_dim_sizes_and_factors_match_torch():
    x = [_normal((2, 3, 5, 6), 2)]
    for kwargs in (dict(size=(7, 3), mode="bilinear"), dict(scale_factor=(2.5, 0.5), mode="bilinear",
                   align_corners=True), dict(size=(10, 12), mode="nearest"), dict(scale_factor=(1.5, 3))):
        check_torch(lambda t, kw=kwargs: F.interpolate(t, **kw), lambda t, kw=kwargs: TF.interpolate(t, **kw), x,
                    atol=2e-6)


def test_interpolate_gradcheck_and_second_derivatives():
    x = _normal((1, 2, 3, 4), 1, np.float64)
    check_grads(lambda t: F.interpolate(t, size=(5, 7), mode="bilinear"), [x])
    check_grads(lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=True), [x])
    check_grads(lambda t: F.interpolate(t, size=(2, 7), mode="nearest"), [x])


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: F.interpolate(cr.zeros(1, 2, 3, 3)), ArgumentError, r"interpolate: either size or scale_factor"),
    (lambda: F.interpolate(cr.zeros(1, 2, 3, 3), 4, 2.0), ArgumentError, r"interpolate: only one of size"),
    (lambda: F.interpolate(cr.zeros(1, 2, 3, 3), 4, mode="bicubic"), ArgumentError, r"interpolate: mode must be"),
    (lambda: F.interpolate(cr.zeros(1, 2, 3), 4, mode="bilinear"), ShapeError, r"interpolate: mode='bilinear' "
     r"needs a 4-D input"),
    (lambda: F.interpolate(cr.zeros(1, 2, 3, 3), 4, align_corners=True), ArgumentError,
     r"interpolate: align_corners can only be set"),
    (lambda: F.interpolate(cr.zeros(1, 2, 3, 3), (4, 4, 4)), ArgumentTypeError, r"interpolate: size must be"),
    (lambda: F.interpolate(cr.zeros(1, 2, 3, 3), scale_factor=-1.0), ArgumentError,
     r"interpolate: scale_factor must be positive"),
    (lambda: F.interpolate(cr.zeros(1, 2, 3, 3), scale_factor=0.1), ShapeError, r"interpolate: scale_factor 0.1 "
     r"makes an empty output"),
    (lambda: F.interpolate(cr.zeros(1, 2, 3, 3), 4, recompute_scale_factor=True), ArgumentError,
     r"interpolate: recompute_scale_factor is not meaningful"),
])
def test_interpolate_bad_arguments_get_one_clear_line(call, error, pattern):
    _one_line(call, error, pattern)


# ----- pixel and channel shuffles ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape, r", [((2, 8, 3, 4), 2), ((9, 2, 3), 3), ((2, 2, 4, 3, 3), 1), ((1, 18, 1, 2), 3)])
def test_pixel_shuffle_matches_torch_and_unshuffle_inverts_it(shape, r):
    check_torch(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r), [_normal(shape, 1)])
    shuffled = TF.pixel_shuffle(torch.tensor(_normal(shape, 1)), r).numpy()
    check_torch(lambda x: F.pixel_unshuffle(x, r), lambda x: TF.pixel_unshuffle(x, r), [shuffled])
    back = F.pixel_unshuffle(F.pixel_shuffle(cr.tensor(_normal(shape, 1)), r), r)
    np.testing.assert_array_equal(back.numpy(), _normal(shape, 1))


@pytest.mark.parametrize("shape, g", [((2, 6, 4, 3), 3), ((2, 6, 5), 2), ((1, 4, 2, 2, 2), 4), ((2, 5, 3), 1)])
def test_channel_shuffle_matches_torch(shape, g):
    check_torch(lambda x: F.channel_shuffle(x, g), lambda x: TF.channel_shuffle(x, g), [_normal(shape, 1)])


def test_shuffles_gradcheck_and_second_derivatives():
    check_grads(lambda t: F.pixel_shuffle(t, 2), [_normal((1, 4, 2, 3), 1, np.float64)])
    check_grads(lambda t: F.pixel_unshuffle(t, 2), [_normal((1, 1, 4, 2), 1, np.float64)])
    check_grads(lambda t: F.channel_shuffle(t, 2), [_normal((1, 4, 3), 1, np.float64)])


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: F.pixel_shuffle(cr.zeros(1, 5, 2, 2), 2), ShapeError, r"pixel_shuffle: the channel dim \(5\)"),
    (lambda: F.pixel_shuffle(cr.zeros(4, 2), 2), ShapeError, r"pixel_shuffle: input must be at least 3-D"),
    (lambda: F.pixel_shuffle(cr.zeros(1, 4, 2, 2), 0), ArgumentError, r"pixel_shuffle: argument 'upscale_factor'"),
    (lambda: F.pixel_unshuffle(cr.zeros(1, 1, 3, 4), 2), ShapeError, r"pixel_unshuffle: height \(3\) and width"),
    (lambda: F.channel_shuffle(cr.zeros(1, 5, 2), 2), ShapeError, r"channel_shuffle: the number of channels \(5\)"),
    (lambda: F.channel_shuffle(cr.zeros(1, 4, 2), 2.0), ArgumentError, r"channel_shuffle: argument 'groups'"),
])
def test_shuffle_bad_arguments_get_one_clear_line(call, error, pattern):
    _one_line(call, error, pattern)


# ----- the selection along a dim that interpolation and adaptive max pooling use ----------------------------

@pytest.mark.parametrize("dim, index, size", [(3, np.arange(9) * 4 // 9, 4), (2, np.array([0, 0, 2, 1, 2, 2]), 3),
                                              (1, np.array([1]), 2)])
def test_select_along_scatter_by_gemm_equals_the_index_order_scatter(monkeypatch, dim, index, size):
    from chainrule.ops import select_along

    shape = [2, 2, 3, 4]
    shape[dim] = size
    x = cr.tensor(_normal(tuple(shape), 1), requires_grad=True)
    y = select_along.select_along(x, dim, index)
    expected_y = np.take(x.numpy(), index, axis=dim)
    np.testing.assert_array_equal(y.numpy(), expected_y)
    g = _normal(y.shape, 2)
    y.backward(cr.tensor(g))
    reference = np.zeros(x.shape, np.float32)
    np.add.at(reference, (slice(None),) * dim + (index,), g)
    np.testing.assert_allclose(x.grad.numpy(), reference, rtol=1e-6, atol=1e-6)
    monkeypatch.setattr(select_along, "GEMM_MAX_SIZE", 0)  # the scatter route
    np.testing.assert_array_equal(select_along._scatter(g, dim, index, size), reference)
    check_grads(lambda t: select_along.select_along(t, dim, index), [x.numpy().astype(np.float64)])


def test_select_along_gradient_keeps_an_infinity_where_it_belongs():
    from chainrule.ops import select_along

    g = np.zeros((1, 4), np.float32)
    g[0, 1] = np.inf
    out = select_along._scatter(g, 1, np.array([0, 0, 1, 1]), 2)  # not 0·inf = NaN over the other column
    np.testing.assert_array_equal(out, [[np.inf, 0.0]])
