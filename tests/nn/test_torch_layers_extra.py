"""The activation, distance, bilinear and loss modules and ParameterList/ParameterDict against torch.nn: the same
outputs and gradients, state_dict keys and layouts (a torch state_dict converted to NumPy loads and gives equal
outputs), constructor defaults, repr, the device/dtype factory keywords and the refusals."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.errors import ChainruleError

torch.set_num_threads(1)


def rand(*shape, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 3).astype(np.float32)


# name → (constructor arguments, input shapes)
ACTIVATION_LAYERS = {
    "ReLU6": ((), [(4, 5)]),
    "Hardtanh": ((-2.0, 0.5), [(4, 5)]),
    "Hardswish": ((), [(4, 5)]),
    "Hardsigmoid": ((), [(4, 5)]),
    "Threshold": ((0.1, 20.0), [(4, 5)]),
    "SELU": ((), [(4, 5)]),
    "SiLU": ((), [(4, 5)]),
    "Mish": ((), [(4, 5)]),
    "LogSigmoid": ((), [(4, 5)]),
    "Softmin": ((1,), [(4, 5)]),
    "GLU": ((), [(4, 6)]),
    "PReLU": ((3,), [(2, 3, 4)]),
    "CosineSimilarity": ((), [(4, 5), (4, 5)]),
    "PairwiseDistance": ((3.0,), [(4, 5), (4, 5)]),
    "Bilinear": ((3, 4, 2), [(5, 3), (5, 4)]),
}


def build_pair(name, args):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args)
    ours = getattr(nn, name)(*args)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in ours.state_dict().items():
        assert value.shape == tuple(theirs.state_dict()[key].shape)
    return ours, theirs


@pytest.mark.parametrize("name", ACTIVATION_LAYERS)
def test_layer_matches_torch_after_loading_its_state_dict(name):
    args, shapes = ACTIVATION_LAYERS[name]
    ours, theirs = build_pair(name, args)
    assert repr(ours) == repr(theirs)
    arrays = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    xs = [cr.Tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = ours(*xs), theirs(*ts)
    assert y.shape == tuple(yt.shape) and y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = np.random.default_rng(9).standard_normal(y.shape).astype(np.float32)
    y.backward(cr.Tensor(g))
    yt.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (key, p), (tkey, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert key == tkey
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_reprs_of_the_options_match_torch():
    for name, args, kwargs in [("ReLU6", (), {"inplace": True}), ("Hardtanh", (), {}), ("SiLU", (True,), {}),
                               ("Threshold", (0.5, -1.0, True), {}), ("PReLU", (), {}), ("GLU", (0,), {}),
                               ("Softmin", (), {}), ("Bilinear", (2, 3, 4, False), {}),
                               ("PairwiseDistance", (), {"keepdim": True}), ("HuberLoss", (), {"delta": 0.5}),
                               ("KLDivLoss", (), {"reduction": "batchmean", "log_target": True}),
                               ("TripletMarginLoss", (), {"swap": True}), ("MarginRankingLoss", (0.5,), {}),
                               ("CosineEmbeddingLoss", (), {"reduction": "sum"})]:
        assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs)), name


def test_defaults_and_attributes_match_torch():
    for name in ("PReLU", "HuberLoss", "KLDivLoss", "TripletMarginLoss", "MarginRankingLoss", "CosineEmbeddingLoss",
                 "CosineSimilarity", "PairwiseDistance", "Softmin", "GLU", "Hardtanh"):
        ours, theirs = getattr(nn, name)(), getattr(torch.nn, name)()
        for attr in ("num_parameters", "reduction", "delta", "log_target", "margin", "p", "eps", "swap", "dim",
                     "norm", "keepdim", "min_val", "max_val", "inplace"):
            if hasattr(theirs, attr):
                assert getattr(ours, attr) == getattr(theirs, attr), (name, attr)
    assert np.all(nn.PReLU(4, init=0.1).weight.numpy() == np.float32(0.1))


def test_factory_keywords_device_and_dtype():
    for layer in (nn.PReLU(3, dtype=cr.float64, device="cpu"), nn.Bilinear(2, 3, 4, dtype=cr.float64, device="cpu")):
        assert all(p.dtype == np.float64 for p in layer.parameters())
    assert nn.Bilinear(2, 3, 4).weight.dtype == np.float32
    y = nn.Bilinear(2, 3, 4, dtype=cr.float64)(cr.randn(5, 2, dtype=cr.float64), cr.randn(5, 3, dtype=cr.float64))
    assert y.dtype == np.float64 and y.shape == (5, 4)


def test_bilinear_initialisation_bounds():
    layer = nn.Bilinear(16, 3, 200)
    bound = 1 / np.sqrt(16)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    assert nn.Bilinear(2, 3, 4, bias=False).bias is None


LOSSES = {
    "HuberLoss": ({"delta": 0.7}, 2),
    "KLDivLoss": ({"reduction": "batchmean"}, 2),
    "KLDivLoss log_target": ({"reduction": "sum", "log_target": True}, 2),
    "MarginRankingLoss": ({"margin": 0.2}, 3),
    "CosineEmbeddingLoss": ({"margin": 0.1, "reduction": "none"}, 3),
    "TripletMarginLoss": ({"margin": 0.5, "swap": True}, 3),
}


@pytest.mark.parametrize("case", LOSSES)
def test_loss_modules_match_torch(case):
    kwargs, n = LOSSES[case]
    name = case.split()[0]
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    if name in ("MarginRankingLoss", "CosineEmbeddingLoss"):
        shape = (6,) if name == "MarginRankingLoss" else (6, 4)
        arrays = [rand(*shape, seed=1), rand(*shape, seed=2), np.array([1, -1, 1, 1, -1, -1], dtype=np.float32)]
    else:
        arrays = [rand(5, 4, seed=i) for i in range(n)]
        if name == "KLDivLoss":  # log-probabilities, and probabilities (or their logs with log_target)
            arrays = [np.log(np.abs(a) / np.abs(a).sum(1, keepdims=True)) for a in arrays]
            arrays[1] = arrays[1] if kwargs.get("log_target") else np.exp(arrays[1])
    y = ours(*[cr.Tensor(a) for a in arrays])
    yt = theirs(*[torch.tensor(a) for a in arrays])
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-5, atol=1e-6)


def test_legacy_size_average_and_reduce_map_to_reduction_with_a_warning():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        loss = nn.MarginRankingLoss(size_average=False)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        theirs = torch.nn.MarginRankingLoss(size_average=False)
    assert loss.reduction == "sum" == theirs.reduction


# ----- ParameterList / ParameterDict ------------------------------------------------------------------------
def holder(lib, zeros):
    """The same model in either library: a ParameterList and a ParameterDict inside a module."""
    class Holder(lib.Module):
        def __init__(self):
            super().__init__()
            self.plist = lib.ParameterList([lib.Parameter(zeros(2, 3)), lib.Parameter(zeros(4))])
            self.pdict = lib.ParameterDict({"scale": lib.Parameter(zeros(3)), "shift": lib.Parameter(zeros(1))})
    return Holder()


def test_parameter_containers_have_torchs_state_dict_keys_and_load_torchs_values():
    ours, theirs = holder(nn, cr.zeros), holder(torch.nn, torch.zeros)
    for p in theirs.parameters():
        torch.nn.init.normal_(p)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["plist.0", "plist.1", "pdict.scale", "pdict.shift"]
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours.pdict["scale"].numpy(), theirs.pdict["scale"].detach().numpy())
    np.testing.assert_array_equal(ours.plist[-1].numpy(), theirs.plist[-1].detach().numpy())
    assert len(list(ours.parameters())) == 4


def test_parameter_list_behaves_as_a_list():
    plist = nn.ParameterList()
    plist.append(cr.ones(2))  # a Tensor becomes a Parameter
    plist.extend([nn.Parameter(cr.zeros(3))])
    plist += [nn.Parameter(cr.zeros(1))]
    assert len(plist) == 3 and isinstance(plist[0], nn.Parameter) and plist[0].requires_grad
    assert [p.shape for p in plist] == [(2,), (3,), (1,)]
    assert [p.shape for p in plist[1:]] == [(3,), (1,)]
    plist[1] = nn.Parameter(cr.ones(5))
    assert plist[1].shape == (5,) and [k for k, _ in plist.named_parameters()] == ["0", "1", "2"]
    assert repr(plist).splitlines()[:2] == ["ParameterList(", "  (0): Parameter containing: [float32 of size 2]"]
    with pytest.raises(IndexError):
        plist[3]


def test_parameter_dict_behaves_as_a_dict():
    pdict = nn.ParameterDict([("a", nn.Parameter(cr.ones(2))), ("b", cr.zeros(3))])
    assert list(pdict) == ["a", "b"] and "a" in pdict and len(pdict) == 2
    assert isinstance(pdict["b"], nn.Parameter)
    pdict.update({"c": nn.Parameter(cr.ones(1))})
    assert list(pdict.keys()) == ["a", "b", "c"]
    assert pdict.pop("b").shape == (3,) and list(pdict) == ["a", "c"]
    assert [k for k, _ in pdict.named_parameters()] == ["a", "c"]
    assert pdict.get("missing") is None and pdict.setdefault("d", cr.ones(4)).shape == (4,)
    with pytest.raises(KeyError):
        pdict["missing"]
    with pytest.raises(TypeError) as e:
        pdict()
    one_line(e, "ParameterDict should not be called")


def one_line(error, *fragments):
    text = str(error.value)
    assert isinstance(error.value, ChainruleError) and "\n" not in text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_constructor_refusals_are_one_line():
    with pytest.raises(ValueError) as e:
        nn.PReLU(0)
    one_line(e, "PReLU", "num_parameters")
    with pytest.raises(TypeError) as e:
        nn.Bilinear(2.5, 3, 4)
    one_line(e, "Bilinear", "in1_features")
    with pytest.raises(ValueError) as e:
        nn.Hardtanh(1.0, -1.0)
    one_line(e, "Hardtanh", "'min_val' (1.0) must not exceed 'max_val' (-1.0)")
    with pytest.raises(ValueError) as e:
        nn.HuberLoss(delta=-1.0)
    one_line(e, "HuberLoss", "'delta' must be > 0")
    with pytest.raises(ValueError) as e:
        nn.TripletMarginLoss(margin=0.0)
    one_line(e, "TripletMarginLoss", "expected margin to be greater than 0, got 0.0 instead")
    with pytest.raises(ValueError) as e:
        nn.KLDivLoss(reduction="avg")
    one_line(e, "KLDivLoss", "'avg' is not a valid value for argument 'reduction'")
    with pytest.raises(ValueError) as e:
        nn.PReLU(3)(cr.randn(2, 4))
    one_line(e, "prelu", "weight has 3 elements")
