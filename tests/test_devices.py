"""Devices with PyTorch's names: cr.device, Tensor.to/cpu/cuda, Module.to, device= in factories, and the CUDA,
MPS and accelerator queries, answered for a machine where chainrule computes on the CPU."""

import pickle

import numpy as np
import pytest
import torch

import chainrule as cr


@pytest.mark.parametrize("spec", ["cpu", "cpu:0", "cuda", "cuda:1", "mps"])
def test_device_str_repr_type_index_match_torch(spec):
    ours, theirs = cr.device(spec), torch.device(spec)
    assert (str(ours), repr(ours), ours.type, ours.index) == (str(theirs), repr(theirs), theirs.type, theirs.index)


def test_device_equality_and_hash_as_torch():
    assert cr.device("cpu") == cr.device("cpu") and hash(cr.device("cpu")) == hash(cr.device("cpu"))
    assert cr.device("cpu") != cr.device("cpu:0")  # torch too: an index is not "the current one"
    assert cr.device("cpu") != "cpu"  # torch: a device never equals a string
    assert cr.device("cuda", 1) == cr.device("cuda:1") and cr.device(cr.device("cuda:1")) == cr.device("cuda:1")
    assert {cr.device("cpu"): 1}[cr.device("cpu")] == 1
    assert pickle.loads(pickle.dumps(cr.device("cuda:2"))) == cr.device("cuda:2")


@pytest.mark.parametrize(("spec", "error", "message"), [
    ("gpu", ValueError, r"^device: invalid device string 'gpu'; expected one of cpu, cuda"),
    ("cuda:-1", ValueError, r"^device: invalid device string 'cuda:-1'"),
    ("cpu:x", ValueError, r"^device: invalid device string 'cpu:x'"),
    (3.0, TypeError, r"^device: expected a device string such as 'cpu' or 'cuda:0' \(or a device\), got float 3.0"),
])
def test_device_refusals(spec, error, message):
    with pytest.raises(error, match=message):
        cr.device(spec)


def test_queries_answer_for_the_cpu():
    assert cr.cuda.is_available() is False and cr.cuda.device_count() == 0
    assert cr.backends.mps.is_available() is False
    assert cr.accelerator.is_available() is False and cr.accelerator.current_accelerator() is None
    cr.cuda.manual_seed(0)  # accepted: nothing to seed
    with pytest.raises(cr.DeviceError, match=r"^cuda.current_device: no CUDA device is available"):
        cr.cuda.current_device()


def test_tensor_device_and_to_forms():
    x = cr.randn(2, 3)
    assert x.device == cr.device("cpu") and x.device.type == "cpu" and not x.is_cuda
    assert x.to("cpu") is x and x.to(cr.device("cpu")) is x and x.cpu() is x and x.to(cr.float32) is x
    assert x.to("cpu", non_blocking=True) is x
    y = x.to("cpu", copy=True)
    assert y is not x and np.array_equal(y.numpy(), x.numpy()) and not np.shares_memory(y.numpy(), x.numpy())
    assert x.to(cr.float64).dtype == np.float64 and x.to("cpu", cr.float16).dtype == np.float16
    assert x.to(device="cpu", dtype=cr.double).dtype == np.float64
    assert x.to(cr.tensor([1], dtype=cr.int64)).dtype == np.int64  # another tensor's dtype (and device)
    assert x.to(cr.float64, False, True).dtype == np.float64  # non_blocking and copy, positionally


def test_to_a_dtype_is_differentiable():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x.to("cpu", cr.float64) * 3).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("call", [
    lambda x: x.cuda(), lambda x: x.to("cuda"), lambda x: x.to("cuda:0", cr.float64), lambda x: x.to(cr.device("cuda")),
    lambda x: cr.nn.Linear(2, 2).cuda(), lambda x: cr.nn.Linear(2, 2).to("cuda"),
])
def test_cuda_refused_with_a_way_out(call):
    with pytest.raises(cr.DeviceError, match=r"no CUDA device is available \(cr.cuda.is_available\(\) is False\).*"
                                             r"hint: pick the device with device = 'cuda' if cr.cuda.is_available\(\) "
                                             r"else 'cpu'"):
        call(cr.ones(2))
    with pytest.raises(RuntimeError):  # as PyTorch's error type without a GPU build
        call(cr.ones(2))


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda x: x.to("cpu", cr.float32, True, False, 1), TypeError, r"^to: too many positional arguments"),
    (lambda x: x.to(cr.float32, non_blocking="yes"), TypeError, r"^to: argument 'non_blocking' must be True or "
                                                                r"False"),
    (lambda x: x.to(cr.float32, stream=1), TypeError, r"^to: got an unexpected keyword argument 'stream'"),
    (lambda x: x.to("tpu"), TypeError, r"^cast: argument 'dtype' must be a dtype"),
])
def test_to_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call(cr.ones(2))


def test_module_to_device_and_dtype_keep_parameters():
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.ReLU(), cr.nn.Linear(4, 2))
    weight = model[0].weight
    assert model.to("cpu") is model and model.cpu() is model and model.to(cr.device("cpu")) is model
    assert model.to("cpu", cr.float64) is model and model[0].weight is weight and weight.dtype == np.float64
    model.to(cr.zeros(1))  # another tensor's dtype: float32
    assert weight.dtype == np.float32 and model.half()[2].bias.dtype == np.float16
    with pytest.raises(TypeError, match=r"Module.to only accepts floating point dtypes, got int64"):
        model.to(cr.long)


FACTORIES = {
    "tensor": lambda d: cr.tensor([1.0, 2.0], device=d),
    "zeros": lambda d: cr.zeros(2, 3, device=d),
    "ones": lambda d: cr.ones(2, device=d),
    "empty": lambda d: cr.empty(2, device=d),
    "full": lambda d: cr.full((2,), 1.5, device=d),
    "eye": lambda d: cr.eye(2, device=d),
    "arange": lambda d: cr.arange(3, device=d),
    "linspace": lambda d: cr.linspace(0, 1, 3, device=d),
    "rand": lambda d: cr.rand(2, device=d),
    "randn": lambda d: cr.randn(2, device=d),
    "randint": lambda d: cr.randint(0, 3, (2,), device=d),
    "zeros_like": lambda d: cr.zeros_like(cr.ones(2), device=d),
    "ones_like": lambda d: cr.ones_like(cr.ones(2), device=d),
    "full_like": lambda d: cr.full_like(cr.ones(2), 2.0, device=d),
    "empty_like": lambda d: cr.empty_like(cr.ones(2), device=d),
    "rand_like": lambda d: cr.rand_like(cr.ones(2), device=d),
    "randn_like": lambda d: cr.randn_like(cr.ones(2), device=d),
    "new_zeros": lambda d: cr.ones(1).new_zeros(2, device=d),
    "new_tensor": lambda d: cr.ones(1).new_tensor([1.0], device=d),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_factories_take_device(name):
    for device in (None, "cpu", "cpu:0", cr.device("cpu")):
        assert FACTORIES[name](device).device == cr.device("cpu")
    with pytest.raises(cr.DeviceError, match=rf"^{name}: no CUDA device is available"):
        FACTORIES[name]("cuda")
    with pytest.raises(cr.DeviceError, match=rf"^{name}: there is one CPU device"):
        FACTORIES[name]("cpu:1")
    with pytest.raises(ValueError, match=rf"^{name}: device: invalid device string 'gpu'"):
        FACTORIES[name]("gpu")


def test_the_device_idiom_of_pytorch_programs_runs():
    device = cr.device("cuda" if cr.cuda.is_available() else "cpu")
    model = cr.nn.Linear(3, 1).to(device)
    x = cr.randn(4, 3).to(device)
    assert model(x).device == device == cr.device("cpu")


def test_an_int_is_a_cuda_index_as_in_pytorch():
    assert cr.device(0) == cr.device("cuda:0") and repr(cr.device(1)) == "device(type='cuda', index=1)"
    with pytest.raises(cr.DeviceError, match=r"^to: no CUDA device is available .* cuda:0"):
        cr.ones(2).to(0)
    with pytest.raises(cr.DeviceError, match=r"^Module.to: no CUDA device is available .* cuda:1"):
        cr.nn.Linear(2, 2).to(1)
    assert cr.ones(2).to(cr.float64).dtype == cr.float64  # a dtype is still a dtype
    with pytest.raises(cr.DeviceError, match=r"no CUDA device is available"):
        cr.nn.Linear(2, 2, device="cuda")
    assert cr.nn.Linear(2, 2, device="cpu").weight.device == cr.device("cpu")
