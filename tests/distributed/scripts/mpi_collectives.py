"""Run under mpiexec: each collective against a NumPy reference computed from every rank's known values.
Any mismatch raises, which aborts the job; rank 0 prints ``OK`` at the end."""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule.distributed import ReduceOp


def values(rank: int, dtype, shape=(2, 3)) -> np.ndarray:
    return (np.arange(np.prod(shape)).reshape(shape) * (rank + 1) - 2 * rank + 0.5 * (dtype != np.int64)).astype(
        dtype)


def main() -> None:
    assert not dist.is_initialized()
    dist.init_process_group("mpi")
    assert dist.is_initialized()
    rank, world = dist.get_rank(), dist.get_world_size()
    everyone = {dt: np.stack([values(r, dt) for r in range(world)]) for dt in (np.float32, np.float64, np.int64)}
    refs = {ReduceOp.SUM: np.sum, ReduceOp.MAX: np.max, ReduceOp.MIN: np.min, ReduceOp.PRODUCT: np.prod}
    for dt, stacked in everyone.items():
        for op, ref in refs.items():
            t = cr.tensor(values(rank, dt))
            dist.all_reduce(t, op=op)
            assert t.dtype == dt, (op, t.dtype)
            np.testing.assert_array_equal(t.numpy(), ref(stacked, axis=0).astype(dt), err_msg=f"{op} {dt}")
    t = cr.tensor(values(rank, np.float32))
    dist.all_reduce(t, op=ReduceOp.AVG)
    np.testing.assert_allclose(t.numpy(), everyone[np.float32].mean(axis=0), rtol=1e-6)
    assert t.dtype == np.float32

    # asynchronous, and on a non-contiguous view (written back into the tensor)
    t = cr.tensor(values(rank, np.float64).T)
    work = dist.all_reduce(t, async_op=True)
    work.wait()
    assert work.is_completed()
    np.testing.assert_array_equal(t.numpy(), everyone[np.float64].sum(axis=0).T)

    # broadcast from the last rank
    t = cr.tensor(values(rank, np.float32))
    version = t.version
    dist.broadcast(t, src=world - 1)
    np.testing.assert_array_equal(t.numpy(), values(world - 1, np.float32))
    assert t.version > version

    # all_gather
    out = [cr.zeros(2, 3, dtype=cr.float64) for _ in range(world)]
    dist.all_gather(out, cr.tensor(values(rank, np.float64)))
    for r in range(world):
        np.testing.assert_array_equal(out[r].numpy(), values(r, np.float64))

    dist.barrier()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    if rank == 0:
        print("OK", world, flush=True)


if __name__ == "__main__":
    main()
