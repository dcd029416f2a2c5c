"""cr.save / cr.load with PyTorch's signatures, on chainrule's pickle-free archive: state dicts of models and
optimizers, plain nested values, file objects, map_location, and clear refusals of what is not a chainrule file."""

import io
import os
import pickle

import numpy as np
import pytest
import torch

import chainrule as cr


def _model():
    cr.manual_seed(0)
    return cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Tanh(), cr.nn.Linear(4, 2))


def _step(model, optimizer, seed):
    x = cr.tensor(np.random.default_rng(seed).standard_normal((5, 3)).astype(np.float32))
    optimizer.zero_grad()
    loss = (model(x) ** 2).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


def test_model_state_dict_round_trips_as_tensors(tmp_path):
    model = _model()
    path = tmp_path / "model.pt"
    cr.save(model.state_dict(), path)
    loaded = cr.load(path)
    assert list(loaded) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert isinstance(loaded[key], cr.Tensor) and loaded[key].dtype == value.dtype
        assert np.array_equal(loaded[key].numpy(), value.numpy())
    other = _model()
    other[0].weight.data.zero_()
    other.load_state_dict(cr.load(str(path), map_location="cpu", weights_only=True))
    x = cr.randn(2, 3)
    assert np.array_equal(other(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_optimizer_continues_identically_after_a_round_trip(tmp_path, name):
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    model = _model()
    optimizer = getattr(cr.optim, name)(model.parameters(), **kwargs)
    for seed in range(3):
        _step(model, optimizer, seed)
    path = os.path.join(tmp_path, "ckpt.pt")
    cr.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}, path)

    resumed = _model()
    resumed_optimizer = getattr(cr.optim, name)(resumed.parameters(), **kwargs)
    checkpoint = cr.load(path)
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    assert checkpoint["epoch"] == 3
    for seed in range(3, 6):
        assert _step(resumed, resumed_optimizer, seed) == _step(model, optimizer, seed)
    for a, b in zip(resumed.parameters(), model.parameters()):
        assert np.array_equal(a.numpy(), b.numpy())


def test_plain_nested_values_round_trip_through_a_file_object():
    obj = {"weights": [cr.ones(2), cr.tensor([1, 2])], "meta": {"name": "run", "lr": 0.5, "steps": 7, "done": None},
           "pair": (cr.tensor(3.0), "x")}
    buffer = io.BytesIO()
    cr.save(obj, buffer)
    buffer.seek(0)
    loaded = cr.load(buffer)
    assert loaded["meta"] == obj["meta"] and loaded["pair"][1] == "x"
    assert isinstance(loaded["pair"], tuple) and loaded["pair"][0].shape == () and loaded["pair"][0].item() == 3.0
    assert loaded["weights"][1].dtype == np.int64 and loaded["weights"][1].tolist() == [1, 2]


@pytest.mark.parametrize("map_location", [None, "cpu", cr.device("cpu"), {"cpu": "cpu"}, {"cuda:0": "cpu"},
                                          lambda storage, location: storage])
def test_map_location_forms(tmp_path, map_location):
    path = tmp_path / "w.pt"
    cr.save({"w": cr.ones(2)}, path)
    assert cr.load(path, map_location=map_location)["w"].tolist() == [1.0, 1.0]


def test_map_location_callable_may_replace_each_tensor(tmp_path):
    path = tmp_path / "w.pt"
    cr.save({"w": cr.ones(2)}, path)
    assert cr.load(path, map_location=lambda t, loc: t * 2)["w"].tolist() == [2.0, 2.0]


@pytest.mark.parametrize("map_location", ["cuda", "cuda:0", cr.device("cuda"), {"cpu": "cuda:0"}])
def test_map_location_to_cuda_is_refused(tmp_path, map_location):
    path = tmp_path / "w.pt"
    cr.save({"w": cr.ones(2)}, path)
    with pytest.raises(cr.DeviceError, match=r"^load: no CUDA device is available"):
        cr.load(path, map_location=map_location)


def test_a_torch_checkpoint_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(cr.io.CheckpointError, match=r"is a PyTorch checkpoint \(torch.save's zip of pickles\), which "
                                                    r"chainrule never unpickles; hint: convert it in PyTorch"):
        cr.load(path)


def test_a_pickle_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"w": [1.0]}))
    with pytest.raises(cr.io.CheckpointError, match=r"it looks like a pickle .* which chainrule never loads"):
        cr.load(path)
    with pytest.raises(ValueError):  # CheckpointError is a ValueError
        cr.load(io.BytesIO(pickle.dumps([1])))


def test_saving_an_object_is_refused_and_leaves_the_old_file(tmp_path):
    path = tmp_path / "model.pt"
    cr.save({"w": cr.ones(1)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"^save: cannot save obj: a Sequential is not supported .* hint: save "
                                        r"model.state_dict\(\)"):
        cr.save(_model(), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.pt"]
    with pytest.raises(TypeError, match=r"^save: chainrule never pickles, so 'pickle_module' must be None"):
        cr.save({}, path, pickle_module=pickle)
