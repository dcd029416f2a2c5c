"""The device layer on the NumPy-backed CuPy stand-in (tests/fakecupy): factories, moves, gradients across
devices, modules, optimizers and checkpoints on "cuda", and the error for tensors of one op on two devices."""

from __future__ import annotations

import fakecupy
import numpy as np
import pytest

import chainrule as cr
from chainrule import backend
from chainrule.io import load_checkpoint, save_checkpoint


@pytest.fixture
def cuda():
    with fakecupy.installed() as module:
        yield module


def on_device(t: cr.Tensor, where: str = "cuda:0") -> bool:
    return t.device == cr.device(where) and isinstance(t._data, fakecupy.ndarray)


# ----- NumPy users see nothing of it --------------------------------------------------------------------------
def test_without_a_device_module_everything_is_numpy():
    if backend.device_module() is not None:
        pytest.skip("a real device module (CuPy) is installed")
    assert not backend.devices_in_use and not cr.cuda.is_available() and cr.cuda.device_count() == 0
    assert cr.accelerator.current_accelerator() is None
    assert backend.get_array_module(np.zeros(2)) is np
    with pytest.raises(cr.DeviceError, match=r"^to: no CUDA device is available"):
        cr.zeros(2).to("cuda")
    with pytest.raises(cr.DeviceError, match=r"^Module.to: no CUDA device is available"):
        cr.nn.Linear(2, 2).cuda()


# ----- the stand-in keeps CuPy's boundary ------------------------------------------------------------------
def test_the_stand_in_refuses_to_be_seen_as_numpy(cuda):
    a = cuda.asarray(np.arange(3.0))
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError):
        np.exp(a)
    with pytest.raises(TypeError, match="Unsupported type"):
        a + np.ones(3)
    assert type(a.sum()) is fakecupy.ndarray and a.sum().ndim == 0  # reductions stay on the device
    np.testing.assert_array_equal(cuda.asnumpy(a * 2), [0.0, 2.0, 4.0])


# ----- queries and factories -----------------------------------------------------------------------------
def test_cuda_queries_answer_from_the_device_module(cuda):
    assert cr.cuda.is_available() and cr.cuda.device_count() == 2 and cr.cuda.current_device() == 0
    assert cr.accelerator.is_available() and cr.accelerator.current_accelerator() == cr.device("cuda")
    cr.cuda.synchronize()


@pytest.mark.parametrize("make", [
    lambda d: cr.zeros(2, 3, device=d), lambda d: cr.ones(2, 3, dtype=cr.float64, device=d),
    lambda d: cr.full((2, 3), 1.5, device=d), lambda d: cr.eye(3, device=d), lambda d: cr.arange(5, device=d),
    lambda d: cr.linspace(0, 1, 4, device=d), lambda d: cr.tensor([[1.0, 2.0]], device=d),
    lambda d: cr.randn(2, 3, generator=np.random.default_rng(1), device=d),
    lambda d: cr.rand(4, generator=np.random.default_rng(1), device=d),
    lambda d: cr.randint(0, 9, (5,), generator=np.random.default_rng(1), device=d),
    lambda d: cr.empty(3, device=d),
], ids=["zeros", "ones", "full", "eye", "arange", "linspace", "tensor", "randn", "rand", "randint", "empty"])
def test_factories_make_the_same_values_on_the_device(cuda, make):
    host, dev = make("cpu"), make("cuda")
    assert on_device(dev) and dev.dtype == host.dtype
    np.testing.assert_array_equal(dev.numpy(), host.numpy())


def test_factories_like_a_device_tensor_stay_on_its_device(cuda):
    x = cr.ones(2, 3, device="cuda:1")
    assert on_device(x, "cuda:1")
    for t in (cr.zeros_like(x), cr.full_like(x, 2.0), cr.randn_like(x), x.new_zeros(4), x.new_tensor([1.0]),
              x.new_full((2,), 3.0)):
        assert on_device(t, "cuda:1")
    assert cr.zeros_like(x, device="cpu").device == cr.device("cpu")
    with pytest.raises(cr.DeviceError, match=r"^zeros: there is no CUDA device 2: this machine has 2"):
        cr.zeros(2, device="cuda:2")


# ----- moving tensors --------------------------------------------------------------------------------------
def test_to_cuda_and_back_keeps_values_and_dtype(cuda):
    x = cr.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    y = x.to("cuda")
    assert on_device(y) and y.dtype == cr.float32
    assert y.to("cuda") is y and y.cuda() is y and x.cpu() is x
    assert y.to("cuda", copy=True) is not y
    back = y.cpu()
    assert back.device == cr.device("cpu") and type(back._data) is np.ndarray
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    z = x.to("cuda:1", cr.float64)
    assert on_device(z, "cuda:1") and z.dtype == cr.float64
    assert on_device(z.cuda(0)) and on_device(y.to(z), "cuda:1")
    assert x.is_cuda is False and y.is_cuda is True


def test_gradients_flow_back_across_devices(cuda):
    x = cr.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = x.cuda()
    (y * y).sum().backward()
    assert x.grad.device == cr.device("cpu")
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -2.0, 4.0])
    w = cr.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    (w.cpu() * 3).sum().backward()
    assert on_device(w.grad)
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])


def test_the_copy_between_devices_passes_gradcheck_and_gradgradcheck(cuda):
    x = cr.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    assert cr.gradcheck(lambda t: (t.cuda() ** 2).cpu(), [x])
    assert cr.gradgradcheck(lambda t: (t.cuda() ** 3).cpu(), [x])
    g, = cr.autograd.grad((x.cuda() ** 3).sum(), [x], create_graph=True)  # d²/dx² of Σx³ is 6x
    gg, = cr.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy())


def test_in_place_methods_write_on_the_device(cuda):
    x = cr.zeros(2, 3, device="cuda")
    cr.manual_seed(5)
    x.normal_()
    cr.manual_seed(5)
    np.testing.assert_array_equal(x.numpy(), cr.zeros(2, 3).normal_().numpy())  # the same draw on either device
    x.copy_(cr.ones(2, 3))  # from the CPU, as PyTorch's copy_ allows
    x.add_(cr.ones(2, 3, device="cuda"), alpha=2)
    x[0, 1] = 7.0
    assert on_device(x)
    np.testing.assert_array_equal(x.numpy(), [[3.0, 7.0, 3.0], [3.0, 3.0, 3.0]])
    assert repr(cr.ones(2, dtype=cr.float64, device="cuda")) == "tensor([1., 1.], device='cuda:0', dtype=float64)"


def test_compiled_kernels_take_only_host_arrays(cuda):
    from chainrule import compiled

    assert not compiled.available(cuda.zeros(3))
    assert not compiled.available(np.zeros(3), cuda.zeros(3))


def test_moves_differentiate_as_in_pytorch(cuda):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)
    w = np.random.default_rng(4).standard_normal((2, 3)).astype(np.float32)
    x = cr.tensor(a, requires_grad=True)
    y = (x.to("cuda", cr.float64) ** 2 * cr.tensor(w, dtype=cr.float64, device="cuda")).cpu().float()
    y.sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    # torch has no GPU here: the same chain on the CPU (a move is the identity for values and gradients)
    yt = (xt.to(torch.float64) ** 2 * torch.tensor(w, dtype=torch.float64)).float()
    yt.sum().backward()
    assert y.dtype == cr.float32 and x.grad.dtype == cr.float32 and x.grad.device == cr.device("cpu")
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6)
    assert on_device(cr.tensor(y.cuda()))  # a tensor made from a device tensor stays there, as torch.tensor
    with pytest.raises(cr.DeviceError, match=r"^to: there is no CUDA device 5"):
        x.to("cuda:5")


# ----- two devices in one op -------------------------------------------------------------------------------
def test_an_op_on_two_devices_names_both(cuda):
    a, b = cr.ones(2, 2), cr.ones(2, 2, device="cuda")
    with pytest.raises(cr.DeviceError, match=r"expected all tensors to be on the same device, but found at least "
                                             r"two devices, cpu and cuda:0"):
        a + b
    with pytest.raises(cr.DeviceError, match=r"cuda:0 and cuda:1"):
        cr.matmul(b, cr.ones(2, 2, device="cuda:1"))
    np.testing.assert_array_equal((b * 2 + 1).numpy(), np.full((2, 2), 3.0))  # numbers go where the tensor is


# ----- modules and optimizers ------------------------------------------------------------------------------
def _model() -> cr.nn.Module:
    cr.manual_seed(0)
    return cr.nn.Sequential(cr.nn.Conv2d(1, 2, 3, bias=False), cr.nn.BatchNorm2d(2), cr.nn.ReLU(), cr.nn.Flatten(),
                            cr.nn.Linear(8, 3))


def _train(model: cr.nn.Module, opt: cr.optim.Optimizer, device: str, steps: int = 3) -> float:
    rng = np.random.default_rng(1)
    loss = None
    for _ in range(steps):
        x = cr.tensor(rng.standard_normal((4, 1, 4, 4)).astype(np.float32), device=device)
        y = cr.tensor(rng.integers(0, 3, 4), device=device)
        opt.zero_grad()
        loss = cr.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return loss.item()


def test_module_to_moves_parameters_buffers_and_gradients(cuda):
    model = _model()
    params = list(model.parameters())
    model(cr.randn(2, 1, 4, 4)).sum().backward()
    assert model.cuda() is model
    assert list(model.parameters()) == params  # the same Parameter objects
    for t in list(model.parameters()) + list(model.buffers()):
        assert on_device(t), t.shape
    assert all(on_device(p.grad) for p in params)
    model.to("cuda:1", cr.float64)
    assert all(on_device(p, "cuda:1") and p.dtype == cr.float64 for p in params)
    assert model[1].num_batches_tracked.dtype == cr.int64 and on_device(model[1].num_batches_tracked, "cuda:1")
    model.cpu()
    assert all(type(p._data) is not fakecupy.ndarray and p.device == cr.device("cpu") for p in params)


@pytest.mark.parametrize("make_opt", [lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9),
                                      lambda ps: cr.optim.Adam(ps, lr=0.01)], ids=["sgd-momentum", "adam"])
def test_training_on_the_device_equals_training_on_the_cpu(cuda, make_opt):
    host = _model()
    host_loss = _train(host, make_opt(host.parameters()), "cpu")
    dev = _model().cuda()
    dev_loss = _train(dev, make_opt(dev.parameters()), "cuda")
    np.testing.assert_allclose(dev_loss, host_loss, rtol=1e-6)
    for (name, h), d in zip(host.state_dict().items(), dev.state_dict().values()):
        assert on_device(d), name
        np.testing.assert_allclose(d.numpy(), h.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_optimizer_state_follows_the_model_between_devices(cuda):
    host = _model()
    reference = _model()
    opt, ref_opt = cr.optim.Adam(host.parameters(), lr=0.01), cr.optim.Adam(reference.parameters(), lr=0.01)
    _train(host, opt, "cpu", steps=2)
    _train(reference, ref_opt, "cpu", steps=2)
    host.cuda()
    _train(host, opt, "cuda", steps=1)  # the Adam moments were made on the CPU: they follow to the GPU
    assert all(backend.device_of(v) == "cuda:0" for s in opt.state.values() for v in s.values()
               if backend.is_array(v))
    host.cpu()
    _train(host, opt, "cpu", steps=1)
    _train(reference, ref_opt, "cpu", steps=1)
    _train(reference, ref_opt, "cpu", steps=1)  # the same batches as the moved model's
    assert all(type(v) is np.ndarray for s in opt.state.values() for v in s.values() if backend.is_array(v))
    for h, r in zip(host.parameters(), reference.parameters()):
        np.testing.assert_allclose(h.numpy(), r.numpy(), rtol=1e-5, atol=1e-6)


def test_lbfgs_on_the_device_equals_the_cpu(cuda):
    results = []
    for device in ("cpu", "cuda"):
        cr.manual_seed(2)
        model = cr.nn.Linear(3, 1).to(device)
        x = cr.tensor(np.random.default_rng(0).standard_normal((8, 3)), dtype=cr.float32, device=device)
        opt = cr.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")

        def closure(model=model, x=x, opt=opt):
            opt.zero_grad()
            loss = ((model(x) - 1) ** 2).mean()
            loss.backward()
            return loss

        opt.step(closure)
        assert all(on_device(p) for p in model.parameters()) == (device == "cuda")
        assert type(opt.state_dict()["state"][0]["d"]) is np.ndarray  # the state dict is NumPy from any device
        results.append(model.weight.numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-6)


def test_lbfgs_history_saved_on_the_cpu_resumes_on_the_device(cuda):
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    runs = []
    for device in ("cpu", "cuda"):
        cr.manual_seed(2)
        model = cr.nn.Linear(3, 1)
        opt = cr.optim.LBFGS(model.parameters(), max_iter=3)
        data = [cr.tensor(x)]

        def closure(model=model, data=data, opt=opt):
            opt.zero_grad()
            loss = ((model(data[0]) - 1) ** 2).mean()
            loss.backward()
            return loss

        opt.step(closure)
        saved = opt.state_dict()
        model.to(device)
        data[0] = data[0].to(device)
        resumed = cr.optim.LBFGS(model.parameters(), max_iter=3)
        resumed.load_state_dict(saved)
        resumed.step(closure)
        runs.append(model.weight.numpy())
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-5, atol=1e-6)


def test_layers_that_make_their_own_tensors_make_them_on_the_device(cuda):
    cr.manual_seed(0)
    attention = cr.nn.MultiheadAttention(4, 2, batch_first=True).cuda()
    x = cr.randn(2, 3, 4, device="cuda")
    padding = cr.tensor([[False, False, True], [False, True, True]], device="cuda")
    out, _ = attention(x, x, x, key_padding_mask=padding, attn_mask=cr.ones(3, 3, device="cuda").triu(1).bool())
    assert on_device(out)
    mask = cr.nn.Transformer.generate_square_subsequent_mask(3, device="cuda")
    assert on_device(mask) and mask.numpy()[0, 1] == -np.inf
    out.sum().backward()
    norm = cr.nn.utils.clip_grad_norm_(attention.parameters(), 0.1)
    assert on_device(norm) and norm.item() > 0.1
    h = cr.nn.LSTM(4, 3)(cr.randn(5, 2, 4).cuda().cpu())[1][0]  # the zero initial state is made where x is
    assert h.device == cr.device("cpu")
    assert on_device(cr.nn.GRU(4, 3).cuda()(x)[1])


def test_gradcheck_runs_on_device_inputs(cuda):
    x = cr.tensor(np.random.default_rng(1).standard_normal((2, 3)), device="cuda", requires_grad=True)
    assert cr.gradcheck(lambda t: (t ** 2).tanh(), [x])
    assert cr.gradgradcheck(lambda t: (t ** 2).tanh(), [x])
    with pytest.raises(cr.GradcheckError):
        cr.gradcheck(lambda t: _wrong_square(t), [x])


class _WrongSquare(cr.autograd.Function):
    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * 3 * self.inputs[0]  # should be 2x


def _wrong_square(t: cr.Tensor) -> cr.Tensor:
    return _WrongSquare()(t)


# ----- checkpoints ------------------------------------------------------------------------------------------
def test_save_from_the_device_and_load_to_either(cuda, tmp_path):
    model = _model().cuda()
    path = tmp_path / "w.pt"
    cr.save({"model": model.state_dict(), "step": 3}, path)
    on_cpu = cr.load(path)
    assert on_cpu["step"] == 3 and all(t.device == cr.device("cpu") for t in on_cpu["model"].values())
    for where in ("cuda", "cuda:1", cr.device("cuda", 1), {"cpu": "cuda:1"}):
        loaded = cr.load(path, map_location=where)
        expected = "cuda:0" if where == "cuda" else "cuda:1"
        assert all(on_device(t, expected) for t in loaded["model"].values()), where
    for key, t in cr.load(path, map_location="cuda")["model"].items():
        np.testing.assert_array_equal(t.numpy(), model.state_dict()[key].numpy())
    fresh = _model()
    fresh.load_state_dict(cr.load(path, map_location="cuda")["model"])  # device values into a CPU model
    assert all(p.device == cr.device("cpu") for p in fresh.parameters())
    with pytest.raises(cr.DeviceError, match=r"^load: there is no CUDA device 5"):
        cr.load(path, map_location="cuda:5")


def test_checkpoint_from_the_device_resumes_on_the_cpu_and_back(cuda, tmp_path):
    model = _model().cuda()
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    _train(model, opt, "cuda", steps=2)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model=model, optimizer=opt, step=2)
    host = _model()
    host_opt = cr.optim.SGD(host.parameters(), lr=0.1, momentum=0.9)
    load_checkpoint(path, model=host, optimizer=host_opt)
    assert all(type(v) is np.ndarray for s in host_opt.state.values() for v in s.values() if backend.is_array(v))
    again = _model().to("cuda:1")
    again_opt = cr.optim.SGD(again.parameters(), lr=0.1, momentum=0.9)
    load_checkpoint(path, model=again, optimizer=again_opt)
    assert all(on_device(p, "cuda:1") for p in again.parameters())
    assert all(backend.device_of(v) == "cuda:1" for s in again_opt.state.values() for v in s.values()
               if backend.is_array(v))
    losses = [_train(m, o, d, steps=1) for m, o, d in ((model, opt, "cuda"), (host, host_opt, "cpu"))]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    for a, b in zip(model.parameters(), host.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda d: cr.nn.Linear(3, 2, device=d), lambda d: cr.nn.Conv2d(1, 2, 3, device=d),
    lambda d: cr.nn.BatchNorm2d(2, device=d), lambda d: cr.nn.LayerNorm(4, device=d),
    lambda d: cr.nn.Embedding(5, 3, device=d), lambda d: cr.nn.LSTM(3, 4, device=d),
    lambda d: cr.nn.GRUCell(3, 4, device=d), lambda d: cr.nn.MultiheadAttention(4, 2, device=d),
    lambda d: cr.nn.TransformerEncoderLayer(4, 2, 8, device=d),
], ids=["Linear", "Conv2d", "BatchNorm2d", "LayerNorm", "Embedding", "LSTM", "GRUCell", "MultiheadAttention",
        "TransformerEncoderLayer"])
def test_layers_take_pytorchs_device_keyword(cuda, make):
    cr.manual_seed(0)
    host = make(None)
    cr.manual_seed(0)
    layer = make("cuda:1")
    for (name, p), (_, q) in zip(layer.state_dict().items(), host.state_dict().items()):
        assert on_device(p, "cuda:1"), name
        np.testing.assert_array_equal(p.cpu().numpy(), q.numpy(), err_msg=name)  # the same initial values
