"""LeNet-5 end to end: a chainrule model loaded with a PyTorch model's weights gives PyTorch's logits,
cross-entropy loss and every parameter gradient, to float32 tolerance, on a batch of 8 random 28×28 images.

The model is written once against an ``nn`` namespace and built with both ``chainrule.nn`` and ``torch.nn``,
so its state_dict keys ('features.0.weight', ..., 'classifier.4.bias') are PyTorch's by construction.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from nn_helpers import torch_state_numpy

import chainrule as cr
from chainrule import nn

ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU"}
POOLS = {"max": "MaxPool2d", "avg": "AvgPool2d"}


def lenet(nn_, activation: str = "tanh", pool: str = "max"):
    """Conv(1→6, 5×5, pad 2) → act → pool 2 → Conv(6→16, 5×5) → act → pool 2 → Flatten → 400→120→84→10."""
    act = getattr(nn_, ACTIVATIONS[activation])
    pool_ = getattr(nn_, POOLS[pool])

    class LeNet5(nn_.Module):
        def __init__(self):
            super().__init__()
            self.features = nn_.Sequential(
                nn_.Conv2d(1, 6, 5, padding=2), act(), pool_(2),
                nn_.Conv2d(6, 16, 5), act(), pool_(2),
            )
            self.flatten = nn_.Flatten()
            self.classifier = nn_.Sequential(
                nn_.Linear(400, 120), act(), nn_.Linear(120, 84), act(), nn_.Linear(84, 10),
            )

        def forward(self, x):
            return self.classifier(self.flatten(self.features(x)))

    return LeNet5()


EXPECTED_KEYS = [
    "features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
    "classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias",
    "classifier.4.weight", "classifier.4.bias",
]


def test_lenet_structure_matches_torch():
    model, tmodel = lenet(nn), lenet(torch.nn)
    assert list(model.state_dict()) == list(tmodel.state_dict()) == EXPECTED_KEYS
    assert [p.shape for p in model.parameters()] == [tuple(p.shape) for p in tmodel.parameters()]
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in tmodel.parameters()) == 61706
    assert repr(model) == repr(tmodel)


@pytest.mark.parametrize("activation,pool", [("tanh", "max"), ("relu", "max"), ("tanh", "avg"), ("relu", "avg")])
def test_lenet_logits_loss_and_gradients_equal_torch(activation, pool):
    torch.manual_seed(0)
    tmodel = lenet(torch.nn, activation, pool)
    model = lenet(nn, activation, pool)
    result = model.load_state_dict(torch_state_numpy(tmodel))
    assert result.missing_keys == [] and result.unexpected_keys == []

    r = np.random.default_rng(0)
    images = r.random((8, 1, 28, 28), dtype=np.float32)
    labels = r.integers(0, 10, 8).astype(np.int64)

    logits = model(cr.Tensor(images))
    loss = nn.CrossEntropyLoss()(logits, cr.Tensor(labels))
    loss.backward()
    tlogits = tmodel(torch.tensor(images))
    tloss = torch.nn.CrossEntropyLoss()(tlogits, torch.tensor(labels))
    tloss.backward()

    assert logits.shape == (8, 10) and logits.dtype == np.float32
    np.testing.assert_allclose(logits.numpy(), tlogits.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert loss.shape == () and loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5, atol=1e-6)
    tparams = dict(tmodel.named_parameters())
    assert [name for name, _ in model.named_parameters()] == list(tparams)
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.dtype == np.float32 and p.grad.shape == p.shape, name
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=f"gradient of {name}")


def test_lenet_weights_load_back_into_torch():
    """The other direction: a chainrule LeNet's state dict loads into torch and gives the same logits."""
    model, tmodel = lenet(nn, "relu", "max"), lenet(torch.nn, "relu", "max")
    tmodel.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    images = np.random.default_rng(1).random((8, 1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(model(cr.Tensor(images)).numpy(), tmodel(torch.tensor(images)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_lenet_trains_like_torch_for_a_few_steps():
    """Three plain SGD steps (p ← p − 0.1·grad) keep the two models' weights together."""
    torch.manual_seed(1)
    tmodel = lenet(torch.nn, "tanh", "avg")
    model = lenet(nn, "tanh", "avg")
    model.load_state_dict(torch_state_numpy(tmodel))
    r = np.random.default_rng(2)
    for _ in range(3):
        images = r.random((8, 1, 28, 28), dtype=np.float32)
        labels = r.integers(0, 10, 8).astype(np.int64)
        model.zero_grad()
        tmodel.zero_grad()
        nn.CrossEntropyLoss()(model(cr.Tensor(images)), cr.Tensor(labels)).backward()
        torch.nn.CrossEntropyLoss()(tmodel(torch.tensor(images)), torch.tensor(labels)).backward()
        for p in model.parameters():
            p.numpy()[...] -= np.float32(0.1) * p.grad.numpy()
        with torch.no_grad():
            for p in tmodel.parameters():
                p -= 0.1 * p.grad
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v.numpy(), tmodel.state_dict()[k].numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
