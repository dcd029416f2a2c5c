"""Random broadcast shapes (Hypothesis): binary ops and their gradients agree with PyTorch."""

import numpy as np
import torch
from helpers import check_torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import chainrule as cr

OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    "maximum": (cr.maximum, torch.maximum),
    "where": (lambda a, b: cr.where(a.numpy() > 0, a, b), lambda a, b: torch.where(a > 0, a, b)),
}


@settings(max_examples=60, deadline=None)
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
    name=st.sampled_from(sorted(OPS)),
    seed=st.integers(0, 2**16),
)
def test_binary_ops_broadcast_like_torch(shapes, name, seed):
    r = np.random.default_rng(seed)
    a, b = (r.standard_normal(s).astype(np.float32) for s in shapes.input_shapes)
    a, b = np.asarray(a), np.asarray(b)
    fn, tfn = OPS[name]
    check_torch(fn, tfn, [a, b], seed=seed)


@settings(max_examples=30, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3), seed=st.integers(0, 99))
def test_broadcast_gradients_gradcheck(shapes, seed):
    r = np.random.default_rng(seed)
    a, b = (cr.tensor(np.asarray(r.standard_normal(s)), requires_grad=True) for s in shapes.input_shapes)
    assert cr.gradcheck(lambda a, b: a * b + a, [a, b])
