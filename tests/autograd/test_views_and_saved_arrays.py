"""No silently wrong gradient through a view or a raw array: views share their base's version counter, arrays a
graph saved are read-only until its backward has run, anomaly mode checks summed gradients, and threads that
backpropagate into one leaf lose no gradient."""

import gc
import sys
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import saved
from chainrule.autograd.anomaly import AnomalyError

MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace operation"


def _saved_square():
    """y (a non-leaf of shape (2, 3)) and z = sum(y²), whose Mul saved y."""
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = x * 2
    return x, y, (y * y).sum()


VIEWS = {
    "slice": lambda t: t[0:1],
    "slice_of_detach": lambda t: t.detach()[1:2],
    "detach": lambda t: t.detach(),
    "reshape": lambda t: t.reshape(3, 2),
    "view": lambda t: t.view(6),
    "transpose": lambda t: t.transpose(0, 1),
    "T": lambda t: t.T,
    "unsqueeze": lambda t: t.unsqueeze(0),
    "flatten": lambda t: t.flatten(),
    "split": lambda t: t.split(1)[1],
    "unbind": lambda t: cr.unbind(t, 1)[2],
}


def test_untouched_graph_gives_the_right_gradient():
    x, y, z = _saved_square()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.numpy())


@pytest.mark.parametrize("make_view", VIEWS.values(), ids=VIEWS.keys())
def test_inplace_write_through_a_view_of_a_saved_tensor_makes_backward_raise(make_view):
    x, y, z = _saved_square()
    with cr.no_grad():
        v = make_view(y)
        assert v.version == y.version == 0
        v.mul_(0)
    assert y.version == v.version == 1  # one counter for the base and its views
    assert float(np.abs(y.numpy()).min()) == 0.0  # the write went through to y's memory
    with pytest.raises(cr.BackwardError) as info:
        z.backward()
    assert MODIFIED in str(info.value)
    assert "input 0 of Mul" in str(info.value) and "is at version 1; expected version 0" in str(info.value)


def test_setitem_on_a_slice_of_a_saved_tensor_makes_backward_raise():
    x, y, z = _saved_square()
    with cr.no_grad():
        y[0:1][0, 1:3] = 7.0
    with pytest.raises(cr.BackwardError, match=MODIFIED):
        z.backward()


@pytest.mark.parametrize("make_view", [lambda t: t.reshape(3, 2), lambda t: t.T, lambda t: t[1],
                                       lambda t: t.expand(4, 2, 3)], ids=["reshape", "T", "index", "expand"])
def test_writing_into_the_base_after_a_view_was_saved_makes_backward_raise(make_view):
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = x * 2
    v = make_view(y)
    z = (v * v).sum()  # Mul saved the view
    with cr.no_grad():
        y.add_(1)
    with pytest.raises(cr.BackwardError, match=MODIFIED):
        z.backward()


def test_writing_into_an_expanded_tensor_is_refused_with_a_clear_error():
    y = cr.tensor([1.0, 2.0, 3.0])
    e = y.expand(2, 3)
    with pytest.raises(cr.BackwardError, match="more than one element of the written-to tensor"):
        e.mul_(2)
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0, 3.0])


def test_a_reshape_that_copies_keeps_its_own_counter():
    x, y, z = _saved_square()
    copied = y.T.reshape(6)  # y.T is not contiguous: reshape must copy
    assert not np.shares_memory(copied.numpy(), y.numpy())
    with cr.no_grad():
        copied.mul_(0)
    assert y.version == 0 and copied.version == 1
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.numpy())


def test_advanced_indexing_copies_and_keeps_its_own_counter():
    x, y, z = _saved_square()
    picked = y[[0, 1], [2, 0]]
    with cr.no_grad():
        picked.zero_()
    assert y.version == 0
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.numpy())


# ----- arrays a graph saved are read-only until its backward ---------------------------------------------------


def test_raw_write_into_a_saved_array_raises_at_the_write():
    x, y, z = _saved_square()
    with pytest.raises(ValueError, match="read-only"):
        y.numpy()[0, 0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        y.numpy()[1:][0, 0] = 0.0  # through a NumPy view taken after the forward pass
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.numpy())  # the values backward read were intact


def test_saved_arrays_become_writable_after_backward():
    x, y, z = _saved_square()
    assert not y.numpy().flags.writeable
    z.backward()
    assert y.numpy().flags.writeable
    y.numpy()[0, 0] = 5.0
    assert y.numpy()[0, 0] == 5.0


def test_saved_arrays_stay_read_only_with_retain_graph_until_the_graph_is_freed():
    x, y, z = _saved_square()
    z.backward(retain_graph=True)
    assert not y.numpy().flags.writeable
    del z
    gc.collect()
    assert y.numpy().flags.writeable


def test_a_graph_freed_without_backward_releases_its_arrays():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([3.0, 4.0])
    z = (x * w).sum()
    assert not w.numpy().flags.writeable and not x.numpy().flags.writeable
    del z
    gc.collect()
    assert w.numpy().flags.writeable and x.numpy().flags.writeable


def test_an_array_saved_by_two_graphs_is_released_when_both_are_done():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([3.0, 4.0])
    z1 = (x * w).sum()
    z2 = (x * w * w).sum()
    z1.backward()
    assert not w.numpy().flags.writeable  # z2 still holds it
    z2.backward()
    assert w.numpy().flags.writeable
    np.testing.assert_allclose(x.grad.numpy(), [3.0 + 9.0, 4.0 + 16.0])


def test_a_saved_view_locks_the_memory_it_views():
    x = cr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x * 1
    v = y[0:2]
    z = (v * v).sum()
    with pytest.raises(ValueError, match="read-only"):
        y.numpy()[0] = 0.0  # the base: a write there changes v
    with pytest.raises(ValueError, match="read-only"):
        v.numpy()[0] = 0.0
    z.backward()
    assert y.numpy().flags.writeable and v.numpy().flags.writeable
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 0.0, 0.0])


def test_an_array_read_only_before_is_never_made_writable():
    a = np.array([1.0, 2.0], dtype=np.float32)
    a.flags.writeable = False
    w = cr.Tensor(a)
    x = cr.tensor([1.0, 1.0], requires_grad=True)
    (x * w).sum().backward()
    assert not a.flags.writeable
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])
    with pytest.raises(cr.BackwardError, match="read-only array"):
        w.mul_(2)


def test_inplace_methods_on_a_held_tensor_still_work_and_are_caught_at_backward():
    x, y, z = _saved_square()
    with cr.no_grad():
        y.mul_(0.5)
    np.testing.assert_allclose(y.numpy(), x.numpy())
    assert not y.numpy().flags.writeable  # still held by the graph
    with pytest.raises(cr.BackwardError, match=MODIFIED):
        z.backward()


def test_view_made_while_held_is_writable_again_after_release():
    x, y, z = _saved_square()
    v = y.detach()[0]  # taken while y's memory is held: NumPy makes it read-only
    assert not v.numpy().flags.writeable
    z.backward()
    assert v.numpy().flags.writeable
    v.numpy()[0] = 9.0
    assert y.numpy()[0, 0] == 9.0


def test_the_index_array_of_an_embedding_is_held_until_backward():
    w = cr.nn.Parameter(cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    idx = cr.tensor([2, 0, 2])
    out = cr.nn.functional.embedding(idx, w).sum()
    with pytest.raises(ValueError, match="read-only"):
        idx.numpy()[0] = 1
    out.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]])
    assert idx.numpy().flags.writeable


def test_optimizer_updates_a_parameter_that_a_live_graph_saved():
    model = cr.nn.Linear(3, 2)
    opt = cr.optim.Adam(model.parameters(), lr=0.1)
    x = cr.tensor(np.ones((4, 3), dtype=np.float32))
    model(x).sum().backward()
    before = model.weight.numpy().copy()
    pending = model(x).sum()  # saves the weight: read-only while this graph lives
    assert not model.weight.numpy().flags.writeable
    opt.step()  # legal: the update lifts the lock and bumps the version
    assert not np.array_equal(model.weight.numpy(), before)
    assert not model.weight.numpy().flags.writeable
    with pytest.raises(cr.BackwardError, match=MODIFIED):
        pending.backward()


def test_batch_norm_updates_running_statistics_that_a_graph_saved():
    bn = cr.nn.BatchNorm1d(2)
    x = cr.tensor([[1.0, 2.0]], requires_grad=True)
    pending = (x * bn.running_mean).sum()  # Mul saved the running mean
    bn(cr.tensor([[1.0, 2.0], [3.0, 6.0]]))
    np.testing.assert_allclose(bn.running_mean.numpy(), [0.2, 0.4])
    with pytest.raises(cr.BackwardError, match=MODIFIED):
        pending.backward()


def test_load_state_dict_into_a_module_that_a_graph_saved():
    model = cr.nn.Linear(2, 1)
    state = {k: np.full(v.shape, 0.5, dtype=np.float32) for k, v in model.state_dict().items()}
    pending = model(cr.tensor([[1.0, 2.0]])).sum()
    model.load_state_dict(state)
    np.testing.assert_array_equal(model.weight.numpy(), [[0.5, 0.5]])
    with pytest.raises(cr.BackwardError, match=MODIFIED):
        pending.backward()


def test_init_rewrites_a_parameter_that_a_graph_saved():
    layer = cr.nn.Linear(2, 2)
    pending = layer(cr.tensor([[1.0, 2.0]])).sum()
    cr.nn.init.constant_(layer.weight, 0.25)
    np.testing.assert_array_equal(layer.weight.numpy(), np.full((2, 2), 0.25, dtype=np.float32))
    with pytest.raises(cr.BackwardError, match=MODIFIED):
        pending.backward()


def test_training_steps_with_a_conv_net_keep_working_while_graphs_are_alive():
    rng = np.random.default_rng(0)
    net = cr.nn.Sequential(cr.nn.Conv2d(1, 2, 3, padding=1), cr.nn.BatchNorm2d(2), cr.nn.ReLU(),
                           cr.nn.MaxPool2d(2), cr.nn.Flatten(), cr.nn.Linear(2 * 2 * 2, 3))
    opt = cr.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = cr.tensor(rng.standard_normal((4, 1, 4, 4)).astype(np.float32))
    losses = []
    for _ in range(3):
        loss = cr.nn.functional.cross_entropy(net(x), cr.tensor([0, 1, 2, 0]))
        held_eval = net(x).sum()  # a second graph left alive across the update
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        del held_eval
    assert losses[2] < losses[0]
    assert all(p.numpy().flags.writeable for p in net.parameters())


def test_nothing_stays_held_after_backward():
    gc.collect()  # graphs other code left to the collector
    before = len(saved._counts)
    x, y, z = _saved_square()
    w = cr.tensor([1.0, 2.0, 3.0])
    out = ((y * w).exp() * cr.sigmoid(y)).sum() + z
    out.backward()
    assert len(saved._counts) == before


def test_clone_gives_a_writable_copy_and_passes_gradcheck():
    x, y, z = _saved_square()
    c = y.detach().clone()
    c.numpy()[0, 0] = 100.0  # writable although y is held
    with cr.no_grad():
        c.mul_(2)
    assert y.numpy()[0, 0] == 2.0 and y.version == 0 and c.version == 1
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.numpy())
    t = cr.tensor(np.linspace(-1.0, 2.0, 6).reshape(2, 3), dtype=cr.float64, requires_grad=True)
    assert cr.gradcheck(lambda u: u.clone() * u, [t])
    assert cr.gradgradcheck(lambda u: u.clone() * u, [t])


def test_views_of_memory_held_without_a_break_do_not_pile_up():
    w = cr.tensor(np.ones((3, 3), dtype=np.float32), requires_grad=True)
    x = cr.tensor(np.ones((3, 3), dtype=np.float32))
    graph = (w * x).sum()
    for _ in range(1000):  # each graph saves a new view of w before the previous one is freed
        graph = (w.T * x).sum()
    views = saved._views[id(w.numpy())][0]
    assert len(views) < 200
    del graph
    assert w.numpy().flags.writeable


# ----- anomaly mode: sums of gradients ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_anomaly_mode_catches_an_overflow_when_fan_out_gradients_are_summed():
    x = cr.tensor([1.0], requires_grad=True)
    big = cr.tensor([3e38])
    with cr.detect_anomaly():
        h = x * 1e-30
        out = (h * big).sum() + (h * big).sum()  # each gradient reaching h is 3e38: their sum is inf in float32
        with pytest.raises(AnomalyError) as info:
            out.backward()
    message = str(info.value)
    assert "summing the gradients that reach output 0 of Mul gave 0 NaN and 1 Inf" in message
    assert "their sum overflowed" in message and "h = x * 1e-30" in message


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_anomaly_mode_catches_an_overflow_when_a_leafs_gradients_are_summed():
    x = cr.tensor([1e-30], requires_grad=True)
    big = cr.tensor([3e38])
    with cr.detect_anomaly():
        out = (x * big).sum() + (x * big).sum()
        with pytest.raises(AnomalyError, match=r"summing the gradients that reach the leaf tensor of shape \(1,\)"):
            out.backward()


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_without_anomaly_mode_the_overflowing_sum_passes_through():
    x = cr.tensor([1e-30], requires_grad=True)
    big = cr.tensor([3e38])
    ((x * big).sum() + (x * big).sum()).backward()
    assert np.isinf(x.grad.numpy()[0])


# ----- threads ----------------------------------------------------------------------------------------------------


def test_threads_backpropagating_into_one_leaf_lose_no_gradient():
    size = 1 << 14  # NumPy lets go of the GIL while adding arrays this large: threads really overlap
    w = cr.zeros(2, size, dtype=cr.float64, requires_grad=True)
    threads_n, passes = 8, 100
    start = threading.Barrier(threads_n)

    def work(k: int) -> None:
        c = cr.tensor(np.stack([np.ones(size), np.full(size, float(k))]), dtype=cr.float64)
        start.wait()
        for _ in range(passes):
            (w * c).sum().backward()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so an unguarded += would lose updates
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [threads_n * passes, passes * sum(range(threads_n))])
    np.testing.assert_array_equal(w.grad.numpy(), w.grad.numpy()[:, :1].repeat(size, axis=1))


def test_an_array_unpickled_from_bytes_is_used_and_stays_writable():
    """NumPy marks an array unpickled from bytes writable although its memory is a read-only bytes object, so it
    could never be made writable again once locked: such an array is not locked (and backward works)."""
    import pickle

    a = pickle.loads(pickle.dumps(np.arange(6000, dtype=np.float64).reshape(2000, 3), protocol=4))
    assert isinstance(a.base, bytes) and a.flags.writeable  # large arrays keep the pickle's bytes
    x = cr.Tensor(a)
    w = cr.tensor(np.ones((3, 2)), requires_grad=True)
    (x @ w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.tile(a.sum(0)[:, None], (1, 2)))
    assert a.flags.writeable


def test_memory_owned_by_another_library_is_left_writable_and_released_cleanly():
    import gc
    import warnings

    import torch

    array = torch.ones(3, dtype=torch.float64).numpy()  # its owner is a torch tensor, not a buffer NumPy can ask
    x = cr.Tensor(array, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exception in a __del__ shows as a warning under pytest
        y = (x * x).sum()
        del y
        gc.collect()
    assert array.flags.writeable
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
