"""chainrule.distributed in one process, without MPI started: what it refuses, and that importing chainrule
leaves mpi4py unloaded."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn
from chainrule.errors import ArgumentError
from chainrule.nn.parallel import DistributedDataParallel


def test_import_does_not_load_mpi4py():
    code = "import sys, chainrule, chainrule.distributed, chainrule.nn.parallel; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("backend", ["nccl", "gloo", 3])
def test_other_backends_are_refused(backend):
    with pytest.raises(ArgumentError, match="chainrule runs on MPI only"):
        dist.init_process_group(backend)


def test_calls_before_init_are_refused():
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier,
                 lambda: dist.all_reduce(cr.ones(2)), lambda: DistributedDataParallel(nn.Linear(2, 2))):
        with pytest.raises(dist.DistError, match="Default process group has not been initialized"):
            call()


def test_mpiexec_is_found_beside_this_python_and_reduce_ops_are_torchs():
    path = dist.mpiexec_path()
    if dist.is_available():
        assert path is not None and path.endswith("mpiexec")
    assert [op.name for op in dist.ReduceOp] == ["SUM", "AVG", "PRODUCT", "MIN", "MAX"]


def test_buckets_take_parameters_in_reverse_order_split_by_dtype_and_size():
    from chainrule.nn.parallel import _make_buckets

    params = [nn.Parameter(cr.zeros(n, dtype=dt)) for n, dt in
              [(4, cr.float32), (4, cr.float32), (2, cr.float64), (8, cr.float32), (1, cr.float32)]]
    buckets = _make_buckets(list(reversed(params)), cap_bytes=16)
    position = {id(p): i for i, p in enumerate(params)}
    assert [[position[id(p)] for p in b.params] for b in buckets] == [[4, 3], [2], [1], [0]]
    assert [b.buffer.dtype for b in buckets] == [np.float32, np.float64, np.float32, np.float32]
    assert [b.offsets for b in buckets][0] == [(0, 1), (1, 9)]


@pytest.mark.parametrize("timeout", [5, timedelta(seconds=0)])
def test_timeout_must_be_a_positive_timedelta(timeout):
    with pytest.raises(ArgumentError, match="timeout must be a positive datetime.timedelta"):
        dist.init_process_group("mpi", timeout=timeout)
    assert not dist.is_initialized()
