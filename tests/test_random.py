"""Generators with PyTorch's names: ``cr.Generator``, ``manual_seed``, ``seed``, ``initial_seed``, the RNG state,
and the draws that take them (``randperm``, ``randint(high, size)``, ``bernoulli``)."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.utils.data import DataLoader, random_split


def test_generator_has_pytorchs_methods_and_is_a_numpy_generator():
    g = cr.Generator()
    assert g.initial_seed() == torch.Generator().initial_seed()  # the same default seed
    assert g.manual_seed(42) is g and g.initial_seed() == 42 and isinstance(g, np.random.Generator)
    assert g.device == cr.device("cpu")
    a = cr.randn(4, generator=g)
    g.manual_seed(42)
    np.testing.assert_array_equal(cr.randn(4, generator=g).numpy(), a.numpy())
    assert g.manual_seed(-1).initial_seed() == 2**64 - 1  # as torch: a negative seed modulo 2**64
    assert torch.Generator().manual_seed(-1).initial_seed() == 2**64 - 1


def test_state_round_trip_replays_the_draws():
    g = cr.Generator().manual_seed(3)
    g.normal()  # leave a cached half-draw in the state, too
    state = g.get_state()
    assert state.dtype == cr.uint8 and state.shape == (40,)
    first = [cr.rand(3, generator=g).numpy(), cr.randperm(7, generator=g).numpy()]
    g.set_state(state)
    again = [cr.rand(3, generator=g).numpy(), cr.randperm(7, generator=g).numpy()]
    for x, y in zip(first, again):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(cr.ChainruleError, match=r"set_state: argument 'new_state' must be the uint8 tensor of 40"):
        g.set_state(cr.zeros(40))


def test_default_generator_functions():
    assert cr.manual_seed(5) is cr.default_generator() and cr.initial_seed() == 5
    state = cr.get_rng_state()
    x = cr.randn(3)
    cr.set_rng_state(state)
    np.testing.assert_array_equal(cr.randn(3).numpy(), x.numpy())
    s = cr.seed()
    assert cr.initial_seed() == s and 0 <= s < 2**63
    cr.manual_seed(0)


def test_manual_seed_reseeds_what_worker_seeds_derive_from():
    # DataLoader workers take seeds spawned from the generator: a different seed must give different workers
    seeds = []
    for s in (1, 2, 1):
        g = cr.Generator().manual_seed(s)
        seeds.append(int(g.spawn(1)[0].integers(0, 2**62)))
    assert seeds[0] == seeds[2] != seeds[1]


def test_generators_go_wherever_pytorch_takes_one():
    split = [list(s) for s in random_split(range(10), [7, 3], generator=cr.Generator().manual_seed(42))]
    assert split == [list(s) for s in random_split(range(10), [7, 3], generator=cr.Generator().manual_seed(42))]
    assert sorted(split[0] + split[1]) == list(range(10))
    batches = [b.tolist() for b in DataLoader(list(range(8)), batch_size=4, shuffle=True,
                                               generator=cr.Generator().manual_seed(0))]
    assert sorted(sum(batches, [])) == list(range(8))
    p = cr.nn.Parameter(cr.zeros(3))
    p.data.normal_(generator=cr.Generator().manual_seed(1))
    first = p.numpy().copy()
    p.data.normal_(generator=cr.Generator().manual_seed(1))
    np.testing.assert_array_equal(p.numpy(), first)
    assert np.all(first != 0)


def test_randperm_randint_overload_and_bernoulli():
    g = cr.Generator().manual_seed(0)
    perm = cr.randperm(10, generator=g)
    assert perm.dtype == cr.int64 and sorted(perm.tolist()) == list(range(10))
    assert cr.randperm(0).shape == (0,)
    r = cr.randint(5, (1000,), generator=g)
    assert r.dtype == cr.int64 and r.shape == (1000,) and set(r.tolist()) == {0, 1, 2, 3, 4}
    b = cr.bernoulli(cr.full((20000,), 0.3, dtype=cr.float64), generator=g)
    assert b.dtype == cr.float64 and set(b.tolist()) <= {0.0, 1.0} and abs(b.numpy().mean() - 0.3) < 0.01
    assert cr.bernoulli(cr.zeros(4), 1.0).tolist() == [1.0] * 4
    x = cr.full((3,), 0.5, requires_grad=True)
    assert not cr.bernoulli(x).requires_grad
    with pytest.raises(cr.ChainruleError, match=r"bernoulli: probabilities must be in \[0, 1\], got 2.0"):
        cr.bernoulli(cr.tensor([0.5, 2.0]))
    with pytest.raises(cr.ChainruleError, match=r"randperm: argument 'n' must be ≥ 0, got -1"):
        cr.randperm(-1)
    with pytest.raises(cr.ChainruleError, match=r"argument 'generator' must be a chainrule.Generator"):
        cr.randn(2, generator=torch.Generator())
