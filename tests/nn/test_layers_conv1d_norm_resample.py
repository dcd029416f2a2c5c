"""The 1-D convolution and pooling layers, adaptive max pooling, group and instance norm, channel and alpha
dropout, upsampling, pixel and channel shuffles and the padding layers against torch.nn: the same repr, the
same state_dict keys and layouts, a torch state dict (as NumPy) loaded gives equal outputs and gradients, and
the constructor checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from nn_helpers import compare_with_torch, randomize, torch_state_numpy

import chainrule as cr
from chainrule import nn
from chainrule.errors import ArgumentError, ArgumentTypeError, ShapeError


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def both(name, *args, **kwargs):
    """The chainrule and torch layers of the same class name and arguments (torch's randomised)."""
    return getattr(nn, name)(*args, **kwargs), randomize(getattr(torch.nn, name)(*args, **kwargs))


def same_layout(layer, tlayer):
    ours = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in tlayer.state_dict().items()}
    assert ours == theirs
    assert repr(layer) == repr(tlayer)


CONV1D = [
    ((3, 4, 3), {}),
    ((4, 6, 3), dict(stride=2, padding=1, dilation=2, groups=2)),
    ((3, 2, 4), dict(padding="same", bias=False)),
    ((3, 2, 3), dict(padding=2, padding_mode="reflect")),
    ((3, 2, 4), dict(padding="same", dilation=2, padding_mode="circular")),
    ((3, 2, 3), dict(padding=1, padding_mode="replicate", stride=2)),
]


@pytest.mark.parametrize("args, kwargs", CONV1D)
@pytest.mark.parametrize("shape", [(2, None, 11), (None, 9)])
def test_conv1d_loads_torch_state_and_matches(args, kwargs, shape):
    layer, tlayer = both("Conv1d", *args, **kwargs)
    same_layout(layer, tlayer)
    assert layer.weight.shape == (args[1], args[0] // kwargs.get("groups", 1), args[2])
    shape = tuple(args[0] if n is None else n for n in shape)
    compare_with_torch(layer, tlayer, [rand(*shape)])


@pytest.mark.parametrize("args, kwargs", [
    ((3, 4, 3), {}), ((4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((2, 3, 2), dict(stride=3, dilation=2, output_padding=1, bias=False)),
])
def test_conv_transpose1d_loads_torch_state_and_matches(args, kwargs):
    layer, tlayer = both("ConvTranspose1d", *args, **kwargs)
    same_layout(layer, tlayer)
    compare_with_torch(layer, tlayer, [rand(2, args[0], 6)])
    compare_with_torch(layer, tlayer, [rand(args[0], 5)])


def test_conv_transpose1d_output_size_as_torch():
    layer, tlayer = both("ConvTranspose1d", 2, 3, 3, stride=3)
    layer.load_state_dict(torch_state_numpy(tlayer))
    x = rand(2, 2, 4)
    for size in (12, 14, [2, 3, 13]):
        y = layer(cr.tensor(x), output_size=size)
        ty = tlayer(torch.tensor(x), output_size=[size] if isinstance(size, int) else size)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-5)
    with pytest.raises(ArgumentError, match=r"ConvTranspose1d: requested an output length of 16, but valid lengths "
                                            r"range from 12 to 14"):
        layer(cr.tensor(x), output_size=16)


def test_conv1d_initialisation_follows_torch_bounds_and_factory_keywords():
    layer = nn.Conv1d(4, 6, 5, groups=2, generator=np.random.default_rng(0))
    bound = 1 / np.sqrt(2 * 5)  # kaiming_uniform(a=√5) and the bias: U(±1/√fan_in), fan_in = in/groups·k
    assert np.abs(layer.weight.numpy()).max() <= bound and np.abs(layer.bias.numpy()).max() <= bound
    assert np.abs(layer.weight.numpy()).max() > 0.8 * bound
    same = nn.Conv1d(4, 6, 5, groups=2, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(layer.weight.numpy(), same.weight.numpy())
    wide = nn.Conv1d(4, 6, 5, dtype=cr.float64, device="cpu")
    assert wide.weight.dtype == np.float64 and wide.bias.dtype == np.float64
    for layer in (nn.Conv1d(4, 6, 5, device=None, dtype=None), nn.ConvTranspose1d(4, 6, 5, dtype=None),
                  nn.GroupNorm(2, 4, device=None, dtype=None), nn.InstanceNorm2d(4, affine=True, dtype=None)):
        assert layer.weight.dtype == np.float32  # PyTorch's None: the default float dtype
    assert nn.GroupNorm(2, 4, dtype=cr.float64).bias.dtype == np.float64
    assert nn.InstanceNorm1d(4, affine=True, track_running_stats=True, dtype=cr.float64).running_var.dtype == np.float64


@pytest.mark.parametrize("build, error, pattern", [
    (lambda: nn.Conv1d(3, 4, (3, 3)), ArgumentTypeError, r"Conv1d: argument 'kernel_size' must be an int or a 1-tuple"),
    (lambda: nn.Conv1d(3, 4, 0), ArgumentError, r"Conv1d: argument 'kernel_size' must be ≥ 1"),
    (lambda: nn.Conv1d(3, 4, 3, groups=2), ArgumentError, r"Conv1d: argument 'in_channels' \(3\) must be divisible"),
    (lambda: nn.Conv1d(3, 4, 3, padding_mode="mirror"), ArgumentError, r"Conv1d: argument 'padding_mode'"),
    (lambda: nn.Conv1d(3, 4, 3, stride=2, padding="same"), ArgumentError, r"Conv1d: padding='same' is not supported"),
    (lambda: nn.ConvTranspose1d(3, 4, 3, padding_mode="reflect"), ArgumentError, r'ConvTranspose1d: only "zeros"'),
    (lambda: nn.ConvTranspose1d(3, 4, 3, stride=2, output_padding=2), ArgumentError,
     r"ConvTranspose1d: output_padding"),
])
def test_conv1d_constructor_errors_are_one_line(build, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        build()
    assert "\n" not in str(info.value).split("\nsee docs")[0]


# ----- pooling ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, args, kwargs, shape", [
    ("MaxPool1d", (3,), dict(stride=2, padding=1), (2, 3, 10)),
    ("MaxPool1d", (2,), dict(dilation=2, ceil_mode=True), (3, 9)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 10)),
    ("AvgPool1d", (4,), dict(ceil_mode=True), (2, 3, 10)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveMaxPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveMaxPool2d", ((3, 4),), {}, (2, 3, 7, 10)),
    ("AdaptiveMaxPool2d", (2,), {}, (3, 6, 6)),
    ("AdaptiveMaxPool2d", ((None, 3),), {}, (2, 3, 5, 7)),
])
def test_pooling_layers_match_torch(name, args, kwargs, shape):
    layer, tlayer = both(name, *args, **kwargs)
    same_layout(layer, tlayer)
    x = np.random.default_rng(1).permutation(int(np.prod(shape))).reshape(shape).astype(np.float32)
    compare_with_torch(layer, tlayer, [x])


@pytest.mark.parametrize("name, arg, shape", [("MaxPool1d", 3, (2, 3, 10)), ("AdaptiveMaxPool1d", 4, (2, 3, 9)),
                                              ("AdaptiveMaxPool2d", (3, 2), (2, 3, 7, 5))])
def test_pooling_layers_return_indices_as_torch(name, arg, shape):
    layer = getattr(nn, name)(arg, return_indices=True)
    tlayer = getattr(torch.nn, name)(arg, return_indices=True)
    x = rand(*shape)
    (y, i), (ty, ti) = layer(cr.tensor(x)), tlayer(torch.tensor(x))
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


# ----- normalization ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, kwargs, shape", [
    ((2, 6), {}, (3, 6, 4, 5)), ((3, 6), dict(affine=False, eps=1e-3), (2, 6, 7)), ((1, 4), {}, (2, 4)),
    ((2, 4), dict(bias=False), (2, 4, 3)),
])
def test_group_norm_matches_torch(args, kwargs, shape):
    layer, tlayer = both("GroupNorm", *args, **kwargs)
    same_layout(layer, tlayer)
    compare_with_torch(layer, tlayer, [rand(*shape)])


@pytest.mark.parametrize("name, shape", [("InstanceNorm1d", (3, 4, 7)), ("InstanceNorm2d", (2, 4, 5, 6)),
                                         ("InstanceNorm1d", (4, 7)), ("InstanceNorm2d", (4, 3, 5))])
@pytest.mark.parametrize("kwargs", [{}, dict(affine=True), dict(affine=True, track_running_stats=True, momentum=0.2),
                                    dict(track_running_stats=True, momentum=None), dict(affine=True, bias=False)])
def test_instance_norm_matches_torch_in_training_and_eval(name, shape, kwargs):
    layer, tlayer = both(name, 4, **kwargs)
    same_layout(layer, tlayer)
    for step in range(3):  # training: batch statistics, and the running statistics move as torch's
        compare_with_torch(layer, tlayer, [rand(*shape, seed=step)], load=step == 0)
    for key, value in torch_state_numpy(tlayer).items():
        np.testing.assert_allclose(layer.state_dict()[key].numpy(), value, atol=1e-6, rtol=1e-5, err_msg=key)
    layer.eval()
    tlayer.eval()
    compare_with_torch(layer, tlayer, [rand(*shape, seed=9)])


@pytest.mark.parametrize("build, call, error, pattern", [
    (lambda: nn.GroupNorm(4, 6), None, ArgumentError, r"GroupNorm: num_channels \(6\) must be divisible by "
                                                      r"num_groups \(4\)"),
    (lambda: nn.GroupNorm(0, 6), None, ArgumentError, r"GroupNorm: argument 'num_groups'"),
    (lambda: nn.InstanceNorm2d(3), lambda m: m(cr.zeros(3, 4, 5)), None, None),  # 3-D: unbatched (C, H, W)
    (lambda: nn.InstanceNorm1d(3), lambda m: m(cr.zeros(2, 4, 5)), UserWarning, r"InstanceNorm1d: input's size at "
                                                                               r"dim=1 \(4\) does not match"),
    (lambda: nn.InstanceNorm2d(3), lambda m: m(cr.zeros(2, 3)), ShapeError, r"InstanceNorm2d: expected 3D "
                                                                             r"\(unbatched\) or 4D input"),
    (lambda: nn.InstanceNorm1d(3, affine=True), lambda m: m(cr.zeros(2, 4, 5)), ShapeError,
     r"InstanceNorm1d: expected input's size at dim=1 to match num_features \(3\), but got: 4"),
])
def test_norm_layer_errors_are_one_line(build, call, error, pattern):
    if call is None:
        with pytest.raises(error, match=pattern):
            build()
        return
    if error is None:
        call(build())
        return
    if error is UserWarning:
        with pytest.warns(UserWarning, match=pattern):
            call(build())
        return
    with pytest.raises(error, match=pattern) as info:
        call(build())
    assert "\n" not in str(info.value).split("\nsee docs")[0]


# ----- dropout ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, shape", [("Dropout1d", (4, 8, 5)), ("Dropout2d", (4, 8, 3, 3)),
                                         ("AlphaDropout", (4, 8))])
def test_dropout_layers_repr_train_and_eval(name, shape):
    layer, tlayer = getattr(nn, name)(0.3, generator=np.random.default_rng(0)), getattr(torch.nn, name)(0.3)
    assert repr(layer) == repr(tlayer)
    x = rand(*shape, seed=1)
    y = layer(cr.tensor(x)).numpy()
    assert not np.array_equal(y, x)
    layer.eval()
    np.testing.assert_array_equal(layer(cr.tensor(x)).numpy(), x)
    with pytest.raises(ArgumentError, match=rf"{name}: argument 'p' must lie in \[0, 1\]"):
        getattr(nn, name)(1.5)


# ----- resampling and rearranging ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, args, kwargs, shape", [
    ("Upsample", (), dict(scale_factor=2), (2, 3, 4, 5)),
    ("Upsample", (), dict(size=(7, 3), mode="bilinear"), (2, 3, 4, 5)),
    ("Upsample", (), dict(scale_factor=1.5, mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    ("Upsample", (), dict(size=9, mode="linear"), (2, 3, 4)),
    ("UpsamplingNearest2d", (), dict(scale_factor=3), (1, 2, 3, 3)),
    ("UpsamplingBilinear2d", (), dict(size=(5, 6)), (1, 2, 3, 3)),
    ("PixelShuffle", (2,), {}, (2, 8, 3, 4)),
    ("PixelUnshuffle", (2,), {}, (2, 2, 4, 6)),
    ("ChannelShuffle", (3,), {}, (2, 6, 3, 2)),
])
def test_resampling_layers_match_torch(name, args, kwargs, shape):
    layer, tlayer = both(name, *args, **kwargs)
    same_layout(layer, tlayer)
    compare_with_torch(layer, tlayer, [rand(*shape)], atol=2e-6)


# ----- padding ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, args, shape", [
    ("ZeroPad1d", (2,), (2, 3, 5)), ("ZeroPad2d", ((1, 2, 0, 3),), (2, 3, 4, 5)), ("ZeroPad2d", (1,), (3, 4, 5)),
    ("ConstantPad1d", ((1, 3), 2.5), (2, 3, 5)), ("ConstantPad2d", (2, -1.0), (2, 3, 4, 5)),
    ("ConstantPad2d", ((0, 1, 2, 3), 3), (2, 3, 4, 5)),
    ("ReflectionPad1d", ((2, 1),), (2, 3, 5)), ("ReflectionPad2d", (2,), (2, 3, 4, 5)),
    ("ReflectionPad2d", ((1, 3, 2, 0),), (3, 4, 5)),
    ("ReplicationPad1d", (3,), (2, 3, 5)), ("ReplicationPad2d", ((3, 0, 1, 4),), (2, 3, 4, 5)),
    ("CircularPad1d", (2,), (2, 3, 5)), ("CircularPad2d", ((1, 2, 2, 1),), (2, 3, 4, 5)),
])
def test_padding_layers_match_torch(name, args, shape):
    layer, tlayer = both(name, *args)
    same_layout(layer, tlayer)
    assert layer.padding == tlayer.padding
    compare_with_torch(layer, tlayer, [rand(*shape)])


@pytest.mark.parametrize("build, call, error, pattern", [
    (lambda: nn.ZeroPad2d((1, 2)), None, ArgumentError, r"ZeroPad2d: padding must be an int ≥ 0 or 4 ints"),
    (lambda: nn.ConstantPad1d(1, "a"), None, ArgumentTypeError, r"ConstantPad1d: argument 'value' must be a number"),
    (lambda: nn.ReflectionPad1d(-1), None, ArgumentError, r"ReflectionPad1d: padding must be an int ≥ 0"),
    (lambda: nn.ReflectionPad2d(3), lambda m: m(cr.zeros(1, 1, 3, 3)), ShapeError, r"pad: reflect padding of \(3, 3\)"),
])
def test_padding_layer_errors_are_one_line(build, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(build()) if call else build()


def _models(lib):
    """The same network written once against ``lib`` (torch.nn or chainrule.nn): only the import differs."""
    signal = lib.Sequential(
        lib.Conv1d(3, 8, 5, padding=2, padding_mode="reflect"), lib.GroupNorm(2, 8), lib.ReLU(),
        lib.MaxPool1d(2), lib.Dropout1d(0.2), lib.ConvTranspose1d(8, 4, 3, stride=2, padding=1, output_padding=1),
        lib.InstanceNorm1d(4, affine=True), lib.AdaptiveMaxPool1d(5), lib.Flatten(), lib.Linear(20, 3),
    )
    image = lib.Sequential(
        lib.ReflectionPad2d(1), lib.Conv2d(3, 8, 3), lib.InstanceNorm2d(8, affine=True), lib.ReLU(),
        lib.PixelUnshuffle(2), lib.ChannelShuffle(4), lib.Conv2d(32, 12, 1), lib.PixelShuffle(2),
        lib.Upsample(scale_factor=1.5, mode="bilinear"), lib.ZeroPad2d((0, 1, 1, 0)), lib.AdaptiveMaxPool2d((3, 4)),
        lib.Dropout2d(0.1), lib.Flatten(), lib.Linear(36, 2),
    )
    return signal, image


def test_a_network_written_for_torch_runs_on_chainrule_with_torch_weights():
    torch.manual_seed(0)
    for ours, theirs, shape in zip(_models(nn), _models(torch.nn), [(4, 3, 16), (2, 3, 8, 8)]):
        ours.eval()
        theirs.eval()
        same_layout(ours, theirs)
        compare_with_torch(ours, randomize(theirs), [rand(*shape, seed=3)], atol=1e-4, rtol=1e-3)
