"""Module machinery: Parameter, registration, traversal order, train/eval, state_dict, containers, repr.

Models are written once against an ``nn`` namespace and built with both ``chainrule.nn`` and ``torch.nn``, so
every name, order and key is checked against PyTorch's own answer.
"""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from nn_helpers import compare_with_torch, torch_state_numpy

import chainrule as cr
from chainrule import nn
from chainrule.errors import ChainruleError, DTypeError

LIBS = {
    "chainrule": (nn, lambda *s: cr.ones(*s), lambda *s: cr.zeros(*s)),
    "torch": (torch.nn, lambda *s: torch.ones(*s), lambda *s: torch.zeros(*s)),
}


def make_net(lib: str):
    """The same model in either library: own parameters, buffers (one non-persistent), nested containers,
    a module registered twice, a parameter shared by two layers, an absent (None) bias."""
    nn_, ones, zeros = LIBS[lib]

    class Block(nn_.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", zeros(1))
            self.lin = nn_.Linear(3, 3)
            self.scale = nn_.Parameter(ones(3))
            self.register_buffer("cache", zeros(3), persistent=False)

        def forward(self, x):
            return self.lin(x) * self.scale

    class Net(nn_.Module):
        def __init__(self):
            super().__init__()
            self.features = nn_.Sequential(nn_.Linear(4, 3), nn_.ReLU(), Block())
            self.alpha = nn_.Parameter(zeros(2))
            self.heads = nn_.ModuleList([nn_.Linear(3, 2), nn_.Linear(3, 1, bias=False)])
            self.norm = nn_.BatchNorm1d(3)
            self.table = nn_.ModuleDict({"b": nn_.Identity(), "a": nn_.Linear(2, 2)})
            self.shared = self.heads[0]
            self.tied = nn_.Linear(4, 3)
            self.tied.weight = self.features[0].weight

        def forward(self, x):
            h = self.norm(self.features(x))
            return self.heads[0](h) + self.alpha

    return Net()


@pytest.fixture
def nets():
    return make_net("chainrule"), make_net("torch")


# ----- Parameter -------------------------------------------------------------------------------------------


def test_parameter_defaults_and_repr():
    p = nn.Parameter(cr.ones(2, 3))
    assert isinstance(p, cr.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert "requires_grad=True" in repr(p)
    assert not nn.Parameter(cr.ones(2), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)


def test_parameter_shares_memory_and_ops_return_tensors():
    t = cr.zeros(3)
    p = nn.Parameter(t)
    p.data[0] = 5.0
    assert t.numpy()[0] == 5.0
    y = p * 2
    assert type(y) is cr.Tensor
    assert type(p.detach()) is cr.Tensor


def test_parameter_refuses_integer_data():
    with pytest.raises(DTypeError):
        nn.Parameter(cr.tensor([1, 2]))


# ----- registration and traversal, against torch ----------------------------------------------------------


def test_traversal_names_and_order_match_torch(nets):
    net, tnet = nets
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in tnet.named_parameters()]
    assert [n for n, _ in net.named_parameters(remove_duplicate=False)] == [
        n for n, _ in tnet.named_parameters(remove_duplicate=False)
    ]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["alpha"]
    assert [n for n, _ in net.named_buffers()] == [n for n, _ in tnet.named_buffers()]
    assert [n for n, _ in net.named_modules()] == [n for n, _ in tnet.named_modules()]
    assert [n for n, _ in net.named_children()] == [n for n, _ in tnet.named_children()]
    assert [type(m).__name__ for m in net.modules()] == [type(m).__name__ for m in tnet.modules()]
    assert [type(m).__name__ for m in net.children()] == [type(m).__name__ for m in tnet.children()]
    assert [p.shape for p in net.parameters()] == [tuple(p.shape) for p in tnet.parameters()]
    assert [b.shape for b in net.buffers()] == [tuple(b.shape) for b in tnet.buffers()]
    assert [n for n, _ in net.named_parameters(prefix="model")] == [n for n, _ in tnet.named_parameters("model")]


def test_state_dict_keys_match_torch(nets):
    net, tnet = nets
    sd = net.state_dict()
    assert list(sd) == list(tnet.state_dict())
    assert "features.2.cache" not in sd  # non-persistent
    assert "shared.weight" in sd and "heads.0.weight" in sd  # a module registered twice appears twice
    assert "heads.1.bias" not in sd  # bias=False registers None
    assert all(type(v) is cr.Tensor for v in sd.values())
    assert sd["norm.num_batches_tracked"].dtype == np.int64 and sd["norm.num_batches_tracked"].shape == ()
    assert list(net.state_dict(prefix="m.")) == list(tnet.state_dict(prefix="m."))


def test_shared_parameter_is_one_object(nets):
    net, _ = nets
    assert net.tied.weight is net.features[0].weight
    assert net.shared is net.heads[0]
    assert sum(1 for p in net.parameters() if p is net.tied.weight) == 1


def test_state_dict_shares_memory_and_keep_vars():
    lin = nn.Linear(2, 2)
    sd = lin.state_dict()
    assert not isinstance(sd["weight"], nn.Parameter) and not sd["weight"].requires_grad
    lin.weight.data[0, 0] = 42.0
    assert sd["weight"].numpy()[0, 0] == 42.0  # as PyTorch: the values are views
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight


def test_apply_visits_children_first_like_torch(nets):
    net, tnet = nets
    seen, tseen = [], []
    net.apply(lambda m: seen.append(type(m).__name__))
    tnet.apply(lambda m: tseen.append(type(m).__name__))
    assert seen == tseen
    assert net.apply(lambda m: None) is net


def test_setattr_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(cr.ones(2))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("buf", cr.zeros(2))
    m.plain = cr.zeros(1)  # a plain Tensor attribute is neither parameter nor buffer
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"] and list(m._buffers) == ["buf"]
    assert "plain" not in dict(m.named_buffers())
    with pytest.raises(TypeError):
        m.w = cr.ones(2)  # a plain Tensor may not replace a parameter
    m.w = None
    assert m.w is None and "w" not in dict(m.named_parameters())
    m.buf = cr.ones(2)  # assigning to a buffer name replaces the buffer
    assert m.buf.numpy()[0] == 1.0 and list(m._buffers) == ["buf"]
    with pytest.raises(TypeError):
        m.buf = 3
    m.sub = nn.Parameter(cr.ones(1))  # a name moves between registries
    assert "sub" in m._parameters and "sub" not in m._modules
    del m.sub
    assert "sub" not in m._parameters
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        _ = m.missing
    with pytest.raises(KeyError):
        m.register_buffer("a.b", cr.zeros(1))
    with pytest.raises(KeyError):
        m.register_parameter("forward", nn.Parameter(cr.ones(1)))
    with pytest.raises(TypeError):
        m.register_parameter("x", cr.ones(1))
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("x", _non_leaf_parameter())


def _non_leaf_parameter():
    p = nn.Parameter(cr.ones(2))
    q = nn.Parameter(cr.ones(2))
    q.creator = (p * 2).creator  # a Parameter that is the output of an op
    return q


def test_assigning_before_init_raises():
    class Broken(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()


def test_forward_missing_raises():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_get_submodule(nets):
    net, _ = nets
    assert net.get_submodule("features.2.lin") is net.features[2].lin
    assert net.get_submodule("") is net
    with pytest.raises(AttributeError):
        net.get_submodule("features.9")


# ----- train / eval, gradients ---------------------------------------------------------------------------


def test_train_eval_propagates(nets):
    net, tnet = nets
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.features.train()
    tnet.eval()
    tnet.features.train()
    assert [m.training for m in net.modules()] == [m.training for m in tnet.modules()]
    with pytest.raises(ValueError):
        net.train("yes")


def test_zero_grad_and_requires_grad(nets):
    net, _ = nets
    net.eval()
    y = net(cr.randn(5, 4))
    y.sum().backward()
    assert all(p.grad is not None for p in net.heads[0].parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is None or not np.any(p.grad.numpy()) for p in net.parameters())
    assert net.heads[0].weight.grad is not None
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_double_keeps_parameter_objects(nets):
    net, _ = nets
    w = net.features[0].weight
    net.double()
    assert net.features[0].weight is w and w.dtype == np.float64
    assert net.norm.running_mean.dtype == np.float64
    assert net.norm.num_batches_tracked.dtype == np.int64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())


# ----- load_state_dict -----------------------------------------------------------------------------------


def _snapshot(module):
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


def _assert_unchanged(module, before):
    after = _snapshot(module)
    assert list(after) == list(before)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)


def test_round_trip_between_chainrule_models(nets):
    net, _ = nets
    other = make_net("chainrule")
    result = other.load_state_dict({k: v.numpy() for k, v in net.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    _assert_unchanged(other, _snapshot(net))
    x = cr.randn(5, 4)
    net.eval()
    other.eval()
    np.testing.assert_array_equal(net(x).numpy(), other(x).numpy())
    third = make_net("chainrule")
    third.load_state_dict(net.state_dict())  # Tensors load too
    _assert_unchanged(third, _snapshot(net))


def test_round_trip_with_torch(nets):
    net, tnet = nets
    net.load_state_dict(torch_state_numpy(tnet))
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), tnet.state_dict()[k].numpy(), err_msg=k)
    back = make_net("torch")
    back.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()})
    for k, v in back.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), tnet.state_dict()[k].numpy(), err_msg=k)
    net.load_state_dict(tnet.state_dict())  # torch tensors themselves convert through NumPy
    compare_with_torch(net.eval(), tnet.eval(), [np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)])


def test_load_casts_in_place_and_keeps_identity():
    lin = nn.Linear(3, 2)
    w = lin.weight
    data = w.numpy()
    new = {"weight": np.arange(6, dtype=np.float64).reshape(2, 3), "bias": [1, 2]}
    lin.load_state_dict(new)
    assert lin.weight is w and lin.weight.numpy() is data and w.dtype == np.float32
    np.testing.assert_array_equal(w.numpy(), new["weight"])
    np.testing.assert_array_equal(lin.bias.numpy(), [1.0, 2.0])
    new["weight"][0, 0] = 99.0  # a copy was taken
    assert w.numpy()[0, 0] == 0.0


def test_strict_load_lists_every_problem_and_changes_nothing(nets):
    net, _ = nets
    before = _snapshot(net)
    bad = {k: v * 0 + 7 for k, v in before.items()}
    del bad["alpha"], bad["norm.running_var"]
    bad["extra.weight"] = np.zeros(2, np.float32)
    bad["features.0.weight"] = np.zeros((4, 3), np.float32)
    bad["heads.1.weight"] = np.zeros((1, 3, 1), np.float32)
    with pytest.raises(nn.StateDictError) as info:
        net.load_state_dict(bad)
    err = info.value
    assert isinstance(err, ChainruleError) and isinstance(err, RuntimeError)
    msg = str(err)
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    for key in ("alpha", "norm.running_var", "extra.weight", "features.0.weight", "heads.1.weight"):
        assert f"{key}" in msg
    assert 'Missing key(s) in state_dict: "alpha", "norm.running_var".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    assert "size mismatch for features.0.weight: copying a param with shape (4, 3) from checkpoint, the shape " \
           "in current model is (3, 4)." in msg
    assert err.missing_keys == ["alpha", "norm.running_var"]
    assert err.unexpected_keys == ["extra.weight"]
    assert [m[0] for m in err.mismatched] == ["features.0.weight", "heads.1.weight"]
    _assert_unchanged(net, before)


def test_missing_and_unexpected_message_equals_torchs():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    tmodel = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    sd = torch_state_numpy(tmodel)
    del sd["1.bias"]
    sd["2.weight"] = sd["1.weight"]
    with pytest.raises(RuntimeError) as theirs:
        tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    with pytest.raises(nn.StateDictError) as ours:
        model.load_state_dict(sd)
    assert str(ours.value) == str(theirs.value)


def test_non_strict_load_returns_keys_and_loads_the_rest(nets):
    net, tnet = nets
    sd = torch_state_numpy(tnet)
    del sd["alpha"]
    sd["unknown"] = np.zeros(1)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["alpha"] and result.unexpected_keys == ["unknown"]
    assert result == (["alpha"], ["unknown"])
    np.testing.assert_array_equal(net.heads[0].weight.numpy(), sd["heads.0.weight"])
    assert "missing_keys=['alpha']" in repr(result)


def test_non_strict_load_still_refuses_wrong_shapes(nets):
    net, _ = nets
    before = _snapshot(net)
    sd = {k: v + 1 for k, v in before.items()}
    sd["heads.0.bias"] = np.zeros(5, np.float32)
    with pytest.raises(nn.StateDictError, match="size mismatch for heads.0.bias"):
        net.load_state_dict(sd, strict=False)
    _assert_unchanged(net, before)


def test_load_refuses_values_that_are_not_arrays():
    lin = nn.Linear(2, 2)
    before = _snapshot(lin)
    with pytest.raises(nn.StateDictError, match="weight"):
        lin.load_state_dict({"weight": "not an array", "bias": np.zeros(2)})
    _assert_unchanged(lin, before)
    with pytest.raises(TypeError):
        lin.load_state_dict([("weight", np.zeros((2, 2)))])


def test_deepcopy_and_pickle(nets):
    net, _ = nets
    clone = copy.deepcopy(net)
    _assert_unchanged(clone, _snapshot(net))
    assert clone.features[0].weight is not net.features[0].weight
    assert clone.tied.weight is clone.features[0].weight
    seq = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.ReLU())
    _assert_unchanged(pickle.loads(pickle.dumps(seq)), _snapshot(seq))


# ----- containers ----------------------------------------------------------------------------------------


def test_sequential_indexing_like_torch():
    def build(nn_):
        return nn_.Sequential(nn_.Linear(2, 3), nn_.ReLU(), nn_.Linear(3, 4), nn_.Tanh())

    seq, tseq = build(nn), build(torch.nn)
    assert len(seq) == 4
    assert type(seq[-1]).__name__ == "Tanh" and seq[0] is list(seq)[0]
    sliced = seq[1:3]
    assert isinstance(sliced, nn.Sequential) and list(sliced._modules) == list(tseq[1:3]._modules)
    with pytest.raises(IndexError):
        seq[4]
    seq[1] = nn.Sigmoid()
    assert type(seq[1]).__name__ == "Sigmoid"
    del seq[1]
    del tseq[1]
    assert list(seq._modules) == list(tseq._modules) == ["0", "1", "2"]
    seq.append(nn.Identity())
    seq.insert(0, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "Linear", "Linear", "Tanh", "Identity"]
    named = nn.Sequential(OrderedDict(conv=nn.Identity(), act=nn.ReLU()))
    assert list(named._modules) == ["conv", "act"] and named.act is named[1]
    assert len(seq + named) == 7


def test_sequential_forward_chains():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    tseq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    compare_with_torch(seq, tseq, [np.random.default_rng(1).standard_normal((4, 2)).astype(np.float32)])


def test_module_list_like_torch():
    layers = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    layers.append(nn.Tanh())
    layers.extend([nn.Sigmoid()])
    layers += [nn.Identity()]
    layers.insert(1, nn.ELU())
    assert [type(m).__name__ for m in layers] == ["Linear", "ELU", "ReLU", "Tanh", "Sigmoid", "Identity"]
    assert list(layers._modules) == [str(i) for i in range(6)]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    assert type(layers[-1]).__name__ == "Identity"
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(5)] and type(layers[0]).__name__ == "ELU"
    with pytest.raises(NotImplementedError):
        layers(cr.ones(1))
    with pytest.raises(TypeError):
        layers.extend(3)


def test_module_dict_like_torch():
    d = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()})
    d["c"] = nn.Linear(1, 1)
    d.update([("e", nn.Identity())])
    assert list(d) == list(d.keys()) == ["b", "a", "c", "e"]
    assert "c" in d and len(d) == 4
    assert [n for n, _ in d.named_parameters()] == ["c.weight", "c.bias"]
    assert isinstance(d.pop("b"), nn.ReLU) and "b" not in d
    assert [k for k, _ in d.items()] == ["a", "c", "e"]
    d.clear()
    assert len(d) == 0


# ----- repr ----------------------------------------------------------------------------------------------


def _repr_model(nn_):
    return nn_.Sequential(
        nn_.Conv2d(1, 6, 5, padding=2),
        nn_.Conv2d(6, 6, (3, 1), stride=2, dilation=2, groups=3, bias=False, padding_mode="reflect", padding=1),
        nn_.ConvTranspose2d(6, 4, 3, stride=2, output_padding=1),
        nn_.MaxPool2d(2),
        nn_.AvgPool2d(3, stride=1, padding=1),
        nn_.LPPool2d(2, 3),
        nn_.AdaptiveAvgPool2d((1, 1)),
        nn_.Flatten(),
        nn_.Unflatten(1, (2, 2)),
        nn_.Dropout(0.25),
        nn_.BatchNorm1d(4),
        nn_.BatchNorm2d(4, momentum=None, affine=False),
        nn_.LayerNorm([4, 2]),
        nn_.Embedding(10, 3, padding_idx=0),
        nn_.Identity(),
        nn_.ModuleList([nn_.Linear(2, 2) for _ in range(3)] + [nn_.Linear(2, 1, bias=False)]),
        nn_.ModuleDict({"act": nn_.ReLU()}),
        nn_.LeakyReLU(0.2), nn_.ELU(), nn_.GELU(approximate="tanh"), nn_.Sigmoid(), nn_.Tanh(),
        nn_.Softplus(beta=2.0), nn_.Softmax(dim=1), nn_.LogSoftmax(dim=-1),
        nn_.CrossEntropyLoss(), nn_.NLLLoss(), nn_.BCELoss(), nn_.BCEWithLogitsLoss(), nn_.MSELoss(),
        nn_.L1Loss(), nn_.SmoothL1Loss(), nn_.GaussianNLLLoss(),
    )


def test_repr_equals_torchs():
    assert repr(_repr_model(nn)) == repr(_repr_model(torch.nn))
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


def test_extra_repr_is_used_by_custom_modules():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(1, 1)

        def extra_repr(self):
            return "factor=2"

    assert repr(Scale()) == "Scale(\n  factor=2\n  (inner): Linear(in_features=1, out_features=1, bias=True)\n)"
