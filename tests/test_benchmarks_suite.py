"""The benchmark suite's own parts (benchmarks/suite/): the report, the medians, the options, the comparison of
the smoke mode, and one timed run end to end through ``python -m benchmarks``. Never a timing assertion."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import cases  # noqa: E402 - the repository root is on the path only from here
from benchmarks.suite import cli, profiling, report, smoke, timing  # noqa: E402


def test_committed_results_md_is_the_markdown_of_committed_results_json():
    # results.md is written from the same report as results.json: rendering the JSON again must give the
    # committed table to the character (rows, columns, memory, FLOPs, machine, profiles)
    rep = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    assert report.markdown(rep) == (ROOT / "benchmarks" / "results.md").read_text()


def _layer_row(**overrides):
    row = {"key": "linear", "title": "linear 128×400→120", "kind": "layer", "target": 1.0, "met": False,
           "chainrule_s": 1.5e-3, "torch_s": 1e-3, "ratio": 1.5, "ratio_q1": 1.4, "ratio_q3": 1.6,
           "gflops_chainrule": 1.0, "gflops_torch": 1.5, "foreign_load_cores": 0.1, "rounds": 3,
           "rounds_discarded": 2, "noisy": False, "reps": {"chainrule": 4, "torch": 6}, "flops": 3.6e7,
           "flops_note": "forward 2·N·In·Out + 2× for dX and dW", "data_source": None}
    return {**row, **overrides}


def _report(rows):
    return {"command": "python benchmarks/run.py", "date": "2026-01-01T00:00:00+00:00", "scale": "full",
            "duration_s": 12.0, "machine": {"flags": []}, "settings": {
                "threads": 2, "pause_s": 0.2, "block_s": 0.3, "warmup_s": 0.5, "quiet_cores": 0.25},
            "rows": rows}


def test_markdown_table_row_and_failed_row():
    failed = {"key": "conv3", "title": "conv 3×3", "kind": "layer", "target": 2.0, "error": "boom"}
    md = report.markdown(_report([_layer_row(), failed])).splitlines()
    assert "| linear 128×400→120 | 1.50 ms | 1.00 ms | 1.50× | 1.40–1.60 | ≤ 1.0× | ✗ | 1.0 | 1.5 | 0.10 |" in md
    assert "| conv 3×3 | failed | | | | ≤ 2.0× | ✗ | | | |" in md
    note = next(line for line in md if line.startswith("Rounds counted"))
    assert note.endswith("during them: linear 3 × 4/6 (+2 busy).")


@pytest.mark.parametrize(("seconds", "text"), [(2.345, "2.35 s"), (0.0123, "12.30 ms"), (4.5e-5, "45 µs"),
                                               (None, "–")])
def test_fmt_time(seconds, text):
    assert report.fmt_time(seconds) == text


def test_command_line_names_the_script_or_the_module():
    assert report.command_line([str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", "/tmp/a b"]) == (
        "python benchmarks/run.py --quick --out '/tmp/a b'")
    assert report.command_line([str(ROOT / "benchmarks" / "__main__.py"), "--smoke"]) == (
        "python -m benchmarks --smoke")


def test_write_whole_leaves_no_temporary_file(tmp_path):
    report.write_whole(tmp_path / "results.md", "one\n")
    report.write_whole(tmp_path / "results.md", "two\n")
    assert [p.name for p in tmp_path.iterdir()] == ["results.md"]
    assert (tmp_path / "results.md").read_text() == "two\n"


def _sample(cr, pt, quiet, load=0.0):
    return {"chainrule": cr, "torch": pt, "quiet": quiet, "other_load": load}


def test_summarize_takes_medians_over_the_quiet_rounds_only():
    r = cases.row("linear")
    size = r.sizes["full"]
    samples = [_sample(2.0, 1.0, True, 0.1), _sample(9.0, 1.0, False, 1.5), _sample(3.0, 2.0, True, 0.2),
               _sample(4.0, 1.0, True, 0.3)]
    res = timing.summarize(r, size, samples, 3, {"chainrule": 1, "torch": 1}, None, timing.ForeignLoad([]))
    assert res["ratios"] == [2.0, 1.5, 4.0]
    assert res["ratio"] == 2.0 and res["chainrule_s"] == 3.0 and res["torch_s"] == 1.0
    assert (res["rounds"], res["rounds_discarded"], res["noisy"]) == (3, 1, False)
    assert res["foreign_load_cores"] == pytest.approx(0.2)
    assert res["gflops_chainrule"] == pytest.approx(r.flops(size) / 3.0 / 1e9)
    assert res["met"] is False  # 2.0× against a 1.0× target


def test_summarize_uses_every_round_when_too_few_were_quiet():
    r = cases.row("conv1")
    samples = [_sample(2.0, 1.0, False), _sample(1.0, 1.0, True), _sample(3.0, 1.0, False)]
    res = timing.summarize(r, r.sizes["full"], samples, 3, {"chainrule": 1, "torch": 1}, None, timing.ForeignLoad([]))
    assert res["noisy"] is True and res["rounds"] == 3 and res["ratio"] == 2.0
    assert (res["ratio_q1"], res["ratio_q3"]) == (1.0, 3.0)  # fewer than 4 rounds: the range


def test_quartiles():
    assert timing.quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (1.5, 4.5)
    assert timing.quartiles([2.0, 1.0]) == (1.0, 2.0)


def test_profile_plan_steps_and_the_epoch_subset():
    quick = cli.parse(["--quick"])
    # the epoch is profiled on 60 batches: its timed step is scaled from the 40 batches of the quick epoch
    assert profiling._plan("lenet_epoch", quick, {"lenet_epoch": 4.0}) == (1, {"epoch_images": 60 * 128}, 6.0)
    assert profiling._plan("linear", quick, {"linear": 0.01}) == (50, None, 0.01)  # about 1 s, at most 50 steps
    assert profiling._plan("conv3", quick, {"conv3": 0.5}) == (3, None, 0.5)  # at least 3 steps


def test_parse_defaults_follow_the_mode():
    full, quick, only_smoke = cli.parse([]), cli.parse(["--quick"]), cli.parse(["--smoke"])
    assert (full.scale, full.block, full.rounds, full.threads, full.out_given) == ("full", 0.3, 0, 2, False)
    assert Path(full.out) == ROOT / "benchmarks"
    assert (quick.scale, quick.block) == ("quick", 0.15)
    assert only_smoke.scale == "smoke"


@pytest.mark.parametrize(("argv", "message"), [
    (["--threads", "0"], "argument --threads: expected a whole number ≥ 1, got 0"),
    (["--rounds", "-1"], "argument --rounds: expected a whole number ≥ 0, got -1"),
    (["--block", "0"], "argument --block: expected a number > 0, got 0"),
    (["--pause", "nan"], "argument --pause: expected a number ≥ 0, got nan"),
    (["--quiet", "x"], "argument --quiet: expected a number ≥ 0, got 'x'"),
])
def test_parse_refuses_numbers_that_cannot_run(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.parse(argv)
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)


def test_unknown_row_is_one_line(capsys):
    assert cli.main(["--only", "conv1,nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("benchmarks: --only: unknown row 'nope'; rows: conv1, ") and "\n" not in err


def test_compare_agreement_and_each_kind_of_disagreement():
    a = {"output": [1.0, 2.0], "grad.x": [0.5]}
    assert smoke.compare(a, dict(a))[0] is True
    ok, worst, which = smoke.compare({**a, "output": [1.0, 2.1]}, a)
    assert not ok and which == "output" and worst > 1
    assert smoke.compare({**a, "grad.x": None}, a)[:2] == (False, float("inf"))
    assert smoke.compare({**a, "grad.x": [0.5, 0.5]}, a)[2] == "grad.x: shape (2,) vs (1,)"
    assert smoke.compare({"output": a["output"]}, a)[2] == "keys differ: ['grad.x']"


def test_timed_run_end_to_end_writes_the_report_and_cleans_up(tmp_path):
    pytest.importorskip("torch")
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    scratch.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "linear", "--scale", "smoke", "--rounds", "1", "--quiet", "0",
         "--block", "0.001", "--warmup", "0", "--pause", "0", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert result.returncode == 0, result.stderr
    md = (out / "results.md").read_text()
    assert "python -m benchmarks --only linear" in md
    assert "| Row | chainrule | PyTorch | Ratio | IQR / range | Target | Met |" in md
    assert md == report.markdown(json.loads((out / "results.json").read_text()))
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["key"], r["rounds"], r["size"]) for r in rows] == [("linear", 1, {"n": 4, "in": 10, "out": 6})]
    assert list(scratch.iterdir()) == []  # the weights both sides loaded were in a temporary folder, now gone
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.md"]
