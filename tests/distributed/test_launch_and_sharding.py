"""What runs without MPI: telling from the environment that mpiexec started this process, the command line that
starts mpiexec, the split of a batch over the processes, and dropout's masks drawn for the global batch."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from chainrule import distributed as dist
from chainrule.cli import main
from chainrule.distributed.launch import core_share, launched, local_size, mpiexec_command
from chainrule.distributed.sharding import RowShardGenerator, shard_bounds
from chainrule.ops.dropout import dropout
from chainrule.tensor import Tensor


@pytest.mark.parametrize(("env", "expected"), [
    ({}, (0, 1)),
    ({"PMI_RANK": "1", "PMI_SIZE": "3"}, (1, 3)),
    ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4"}, (2, 4)),
    ({"MV2_COMM_WORLD_RANK": "0", "MV2_COMM_WORLD_SIZE": "2"}, (0, 2)),
    ({"PMI_RANK": "3", "PMI_SIZE": "3"}, (0, 1)),  # not a rank of that size: not trusted
    ({"PMI_RANK": "x", "PMI_SIZE": "2"}, (0, 1)),
    ({"PMI_SIZE": "2"}, (0, 1)),
])
def test_launched_reads_the_launchers_environment(env, expected):
    assert launched(env) == expected


def test_local_size_and_the_cores_each_process_may_use():
    assert local_size({"PMI_RANK": "0", "PMI_SIZE": "8", "MPI_LOCALNRANKS": "2"}) == 2  # 2 on this host
    assert local_size({"PMI_RANK": "0", "PMI_SIZE": "3"}) == 3
    assert local_size({}) == 1
    cores = core_share(1)
    assert cores >= 1 and core_share(cores) == 1 and core_share(10 * cores) == 1


def test_mpiexec_command_runs_this_python_on_the_module():
    assert mpiexec_command(3, "chainrule", ["train", "--epochs", "1"], "/opt/mpi/bin/mpiexec") == [
        "/opt/mpi/bin/mpiexec", "-n", "3", sys.executable, "-m", "chainrule", "train", "--epochs", "1"]


@pytest.mark.parametrize(("total", "world", "sizes"), [(8, 3, [2, 3, 3]), (64, 3, [21, 21, 22]), (2, 3, [0, 1, 1]),
                                                       (128, 2, [64, 64])])
def test_shards_are_contiguous_cover_the_batch_and_differ_by_at_most_one(total, world, sizes):
    bounds = [shard_bounds(total, world, r) for r in range(world)]
    assert [hi - lo for lo, hi in bounds] == sizes
    assert bounds[0][0] == 0 and bounds[-1][1] == total
    assert all(bounds[r][1] == bounds[r + 1][0] for r in range(world - 1))


@pytest.mark.parametrize("world", [2, 3])
def test_dropout_masks_drawn_by_shards_are_the_rows_of_the_global_mask(world):
    x = Tensor(np.ones((7, 5), np.float32))
    whole = dropout(x, 0.4, generator=np.random.default_rng(9)).numpy()
    parts = []
    for rank in range(world):
        generator = RowShardGenerator(np.random.default_rng(9).bit_generator)
        lo, hi = shard_bounds(7, world, rank)
        generator.shard(lo, hi, 7)
        part = dropout(Tensor(x.numpy()[lo:hi]), 0.4, generator=generator).numpy()
        parts.append(part)
        assert generator.bit_generator.state == _after_one_draw(7 * 5)  # in step with one process's generator
    assert np.array_equal(np.concatenate(parts), whole)
    assert 0 < (whole == 0).sum() < whole.size  # a real mask: some dropped, some kept


def _after_one_draw(count: int) -> dict:
    rng = np.random.default_rng(9)
    rng.random(count)
    return rng.bit_generator.state


def test_a_draw_of_another_shape_is_the_plain_generators():
    generator = RowShardGenerator(np.random.default_rng(4).bit_generator)
    generator.shard(0, 2, 6)
    plain = np.random.default_rng(4)
    assert np.array_equal(generator.random((3,)), plain.random((3,)))  # 3 rows, not the shard's 2
    assert np.array_equal(generator.integers(0, 10, 5), plain.integers(0, 10, 5))


DIGITS = ["--model", "mlp", "--dataset", "digits", "--epochs", "1", "--batch-size", "32", "--limit-train", "64",
          "--limit-test", "32", "--quiet"]


@pytest.mark.parametrize("rank", ["0", "1"])
def test_started_by_mpiexec_without_mpi4py_rank_0_says_what_to_install(tmp_path, monkeypatch, capsys, rank):
    monkeypatch.setenv("PMI_RANK", rank)
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setattr(dist, "is_available", lambda: False)
    assert main(["train", *DIGITS, "--out", str(tmp_path / "run")]) == 1
    expected = ['chainrule train: error: mpiexec started 2 processes, but mpi4py is not installed — pip install '
                '"chainrule[mpi]"'] if rank == "0" else []
    assert capsys.readouterr().err.splitlines() == expected
    assert not (tmp_path / "run").exists()


def test_the_processes_started_by_nproc_parse_the_same_options_without_nproc(tmp_path):
    from chainrule.cli import build_parser
    from chainrule.cli.train import _arguments

    argv = ["train", "--model", "mlp", "--dataset", "digits", "--lr", "0.05", "--momentum", "0", "--download",
            "--limit-train", "64", "--data-dir", str(tmp_path), "--out", str(tmp_path / "a b"), "--force", "--quiet",
            "--nproc", "2"]
    parser = build_parser()
    args = parser.parse_args(argv)
    again = parser.parse_args(["train", *_arguments(args)])
    assert "--nproc" not in _arguments(args)
    assert {**vars(again), "nproc": 2} == {k: v for k, v in vars(args).items()}
