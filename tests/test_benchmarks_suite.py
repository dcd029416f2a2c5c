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
from benchmarks.suite import cli, profiling, report, scaling, smoke, timing  # noqa: E402


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
        [sys.executable, "-m", "benchmarks", "--only", "linear,scaling_conv", "--scale", "smoke", "--rounds", "1",
         "--quiet", "0",
         "--block", "0.001", "--warmup", "0", "--pause", "0", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert result.returncode == 0, result.stderr
    md = (out / "results.md").read_text()
    assert "python -m benchmarks --only linear,scaling_conv" in md
    assert "| Row | chainrule | PyTorch | Ratio | IQR / range | Target | Met |" in md
    rep = json.loads((out / "results.json").read_text())
    assert md == report.markdown(rep)
    assert [(r["key"], r["rounds"], r["size"]) for r in rep["rows"]] == [
        ("linear", 1, {"n": 4, "in": 10, "out": 6}),
        *((f"scale_conv_{side}", 1, {**cases.row(f"scale_conv_{side}").sizes["smoke"], "x": [2, 4, small, small]})
          for side, small in ((32, 4), (64, 6), (128, 8)))]
    assert all(r["gemm_share_chainrule"] > 0 for r in rep["rows"])  # the run's GEMM reference is the yardstick
    (group,) = rep["scaling"]["groups"]
    assert group["key"] == "scaling_conv" and [p["label"] for p in group["points"]] == ["32×32", "64×64", "128×128"]
    ratios = {r["key"]: r["ratio"] for r in rep["rows"]}
    assert group["drift"]["drift"] == pytest.approx(ratios["scale_conv_128"] / ratios["scale_conv_32"])
    assert "## Scaling: how cost grows with size" in md
    assert list(scratch.iterdir()) == []  # the weights both sides loaded were in a temporary folder, now gone
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.md"]


# ----- targets: the ratio, and for some rows a share of the GEMM limit too -----------------------------------------


def test_targets_follow_the_table_of_targets():
    targets = {r.key: (r.target, r.min_gemm_share) for r in cases.ROWS}
    assert targets == {
        "conv1": (1.5, None), "conv2": (1.5, None), "conv3": (1.3, 0.5), "pool_lenet": (1.0, None),
        "pool_large": (1.0, None), "linear": (1.0, None), "rnn": (1.0, None), "lstm": (1.3, None),
        "gru": (1.3, None), "node_overhead": (None, None), "lenet_epoch": (1.0, None), "compact_step": (1.3, None),
        "lenet_memory": (1.0, None), "distributed": (0.9, None)}


@pytest.mark.parametrize(("ratio", "share", "met"), [(1.2, 0.6, True), (1.2, 0.4, False), (1.4, 0.6, False),
                                                     (1.2, None, False)])
def test_met_needs_the_ratio_and_the_gemm_share_when_a_row_has_both(ratio, share, met):
    assert timing.target_met(ratio, 1.3, share, 0.5) is met


def test_met_of_a_row_without_a_gemm_share_target_is_the_ratio_alone():
    assert timing.target_met(0.9, 1.0, 0.01, None) is True
    assert timing.target_met(1.1, 1.0, 0.99, None) is False
    assert timing.target_met(5.0, None, None, None) is None


GEMM = {"chainrule": {"n": 1024, "gflops": 200.0}, "torch": {"n": 1024, "gflops": 100.0}}


def test_summarize_reports_each_side_as_a_share_of_its_own_gemm_and_checks_conv3_on_both():
    r = cases.row("conv3")
    size = r.sizes["full"]
    flops = r.flops(size)
    # chainrule at 1.2× PyTorch's time (under the 1.3× target) but at 60 GFLOP/s: 30 % of its 200 GFLOP/s GEMM
    samples = [_sample(flops / 60e9, flops / 72e9, True) for _ in range(3)]
    res = timing.summarize(r, size, samples, 3, {"chainrule": 1, "torch": 1}, None, timing.ForeignLoad([]), GEMM)
    assert res["ratio"] == pytest.approx(1.2)
    assert res["gemm_share_chainrule"] == pytest.approx(0.3) and res["gemm_share_torch"] == pytest.approx(0.72)
    assert res["min_gemm_share"] == 0.5 and res["met"] is False
    fast = [_sample(flops / 110e9, flops / 120e9, True) for _ in range(3)]  # 55 % of the GEMM, ratio 1.09
    assert timing.summarize(r, size, fast, 3, {"chainrule": 1, "torch": 1}, None, timing.ForeignLoad([]),
                            GEMM)["met"] is True


def test_summarize_of_a_row_without_a_gemm_target_is_unaffected_by_its_share():
    r = cases.row("linear")
    size = r.sizes["full"]
    samples = [_sample(0.9e-3, 1e-3, True) for _ in range(3)]
    res = timing.summarize(r, size, samples, 3, {"chainrule": 1, "torch": 1}, None, timing.ForeignLoad([]), GEMM)
    assert res["met"] is True and "min_gemm_share" not in res
    assert res["gemm_share_chainrule"] == pytest.approx(r.flops(size) / 0.9e-3 / 1e9 / 200.0)


def test_markdown_shows_the_gemm_target_and_the_shares():
    conv3 = _layer_row(key="conv3", title="conv 3×3", target=1.3, min_gemm_share=0.5, ratio=1.2, ratio_q1=1.1,
                       ratio_q3=1.25, met=False, gflops_chainrule=60.0, gflops_torch=72.0,
                       gemm_share_chainrule=0.3, gemm_share_torch=0.72)
    md = report.markdown(_report([conv3, _layer_row()])).splitlines()
    assert ("| conv 3×3 | 1.50 ms | 1.00 ms | 1.20× | 1.10–1.25 | ≤ 1.3×, ≥ 50 % of GEMM | ✗ | 60.0 (30 %) | "
            "72.0 (72 %) | 0.10 |") in md
    assert "| linear 128×400→120 | 1.50 ms | 1.00 ms | 1.50× | 1.40–1.60 | ≤ 1.0× | ✗ | 1.0 | 1.5 | 0.10 |" in md
    note = next(line for line in md if line.startswith("*Met* of"))
    assert note.startswith("*Met* of conv3 (≥ 50 %) needs both targets")
    failed = {"key": "conv3", "title": "conv 3×3", "kind": "layer", "target": 1.3, "min_gemm_share": 0.5, "error": "x"}
    assert "| conv 3×3 | failed | | | | ≤ 1.3×, ≥ 50 % of GEMM | ✗ | | | |" in report.markdown(_report([failed]))


# ----- the scaling table --------------------------------------------------------------------------------------------


def test_scaling_points_are_rows_grouped_smallest_first_and_selectable_by_group():
    groups = {g.key: [label for _, label in g.points] for g in cases.SCALING_GROUPS}
    assert groups == {"scaling_lenet": ["batch 32", "batch 128", "batch 512"],
                      "scaling_conv": ["32×32", "64×64", "128×128"],
                      "scaling_lstm_steps": ["T 25", "T 50", "T 200"],
                      "scaling_lstm_hidden": ["H 128", "H 256", "H 512"]}
    assert all(cases.row(k).kind == "scaling" for g in cases.SCALING_GROUPS for k, _ in g.points)
    assert cases.row("scale_conv_128").sizes["full"]["x"] == (cases.SCALING_CONV_BATCH, 64, 128, 128)
    assert cases.row("scale_lstm_t200_h256").sizes["full"] == {**cases.row("lstm").sizes["full"], "steps": 200}
    lenet = cases.row("scale_lenet_b512")
    assert (lenet.sizes["full"]["batch"], lenet.sizes["full"]["limit"]) == (512, 512 * cases.STEP_BATCHES)
    assert lenet.flops(lenet.sizes["full"]) == pytest.approx(  # one batch's FLOPs, not the 8 it cycles through
        cases.lenet_epoch_flops({"batch": 512, "epoch_images": 512}))
    # the point on both LSTM axes is timed once; a group stands for its points; plain keys still work
    assert len(cli.select_rows("scaling")) == 11
    assert [r.key for r in cli.select_rows("lstm,scaling_lstm_hidden,scale_lstm_t50_h256,scaling_lstm_steps")] == [
        "lstm", "scale_lstm_t50_h128", "scale_lstm_t50_h256", "scale_lstm_t50_h512", "scale_lstm_t25_h256",
        "scale_lstm_t200_h256"]
    assert [r.key for r in cli.select_rows("")] == cases.MAIN_KEYS + cases.SCALING_KEYS


def _point(key, ratio, q1, q3, **overrides):
    return _layer_row(key=key, title=key, kind="scaling", target=None, met=None, ratio=ratio, ratio_q1=q1,
                      ratio_q3=q3, **overrides)


def test_drift_is_the_largest_measured_ratio_over_the_smallest_with_its_range():
    rows = [_point("scale_conv_32", 2.0, 1.8, 2.2), _point("scale_conv_64", 2.5, 2.4, 2.6),
            _point("scale_conv_128", 3.0, 2.7, 3.3),
            _point("scale_lstm_t25_h256", 1.5, 1.4, 1.6), {"key": "scale_lstm_t200_h256", "error": "boom"},
            _point("scale_lstm_t50_h128", 2.0, 1.9, 2.1)]
    groups = {g["key"]: g for g in scaling.summarize_groups(rows, cases.SCALING_GROUPS)}
    assert set(groups) == {"scaling_conv", "scaling_lstm_steps", "scaling_lstm_hidden"}  # no LeNet point timed
    d = groups["scaling_conv"]["drift"]
    assert (d["drift"], d["smallest"], d["largest"]) == (1.5, "32×32", "128×128")
    assert (d["drift_low"], d["drift_high"]) == (pytest.approx(2.7 / 2.2), pytest.approx(3.3 / 1.8))
    # a failed point is listed but gives no ratio: one measured point, no drift
    assert [p["label"] for p in groups["scaling_lstm_steps"]["points"]] == ["T 25", "T 200"]
    assert groups["scaling_lstm_steps"]["drift"] is None and groups["scaling_lstm_hidden"]["drift"] is None


NOTES = """Numbers from a quick run.

#### LeNet-5 step (`scaling_lenet`)

*Fixed costs per node fade as the batch grows.*

The paragraph, with numbers.

#### Convolution (`scaling_conv`)
Im2col's copy grows with the image.
"""


def test_one_line_explanations_come_from_the_notes():
    assert scaling.one_liners(NOTES) == {"scaling_lenet": "Fixed costs per node fade as the batch grows.",
                                         "scaling_conv": "Im2col's copy grows with the image."}
    assert scaling.one_liners("#### Empty (`scaling_conv`)\n#### Next (`scaling_lenet`)\nline\n") == {
        "scaling_lenet": "line"}


def test_read_notes_names_the_file_and_keeps_its_text(tmp_path):
    assert scaling.read_notes(tmp_path / "absent.md") is None
    (tmp_path / "notes.md").write_text(NOTES)
    assert scaling.read_notes(tmp_path / "notes.md") == {"file": str(tmp_path / "notes.md"), "text": NOTES}


def test_markdown_renders_the_scaling_table_after_the_main_table_with_drift_and_notes():
    points = [_point("scale_conv_32", 2.0, 1.8, 2.2, chainrule_s=0.04, torch_s=0.02, gflops_chainrule=45.0,
                     gflops_torch=90.0, gemm_share_chainrule=0.2, gemm_share_torch=0.6),
              _point("scale_conv_128", 3.0, 2.7, 3.3), {"key": "scale_conv_64", "kind": "scaling", "error": "boom"}]
    rep = _report([_layer_row(), *points])
    rep["scaling"] = {"groups": scaling.summarize_groups(rep["rows"], cases.SCALING_GROUPS),
                      "notes": {"file": "benchmarks/scaling_notes.md", "text": NOTES}}
    md = report.markdown(rep)
    lines = md.splitlines()
    assert not any(line.startswith("| scale_") for line in lines)  # the points are not rows of the main table
    assert md.index("| linear 128×400→120 |") < md.index("## Scaling: how cost grows with size")
    assert ("| conv 3×3 64←64 pad 1, forward + backward (dX, dW, db) | 32×32 | 40.00 ms | 20.00 ms | 2.00× | "
            "1.80–2.20 | 45.0 (20 %) | 90.0 (60 %) | 0.10 |") in lines
    assert "|  | 64×64 | failed | | | | | | |" in lines
    assert "|  | 128×128 | 1.50 ms | 1.00 ms | 3.00× | 2.70–3.30 | 1.0 | 1.5 | 0.10 |" in lines
    assert ("| conv 3×3 64←64 pad 1, forward + backward (dX, dW, db) | batch 8, the image side grows | "
            "1.50× (128×128 ÷ 32×32) | 1.23–1.83 | Im2col's copy grows with the image. |") in lines
    notes_at = md.index(NOTES.rstrip("\n"))  # the notes verbatim, under the table, before the machine
    assert md.index("| Group | Fixed | Drift |") < notes_at < md.index("## Machine and settings")
    assert "scale_conv_32: " not in md.split("## Scaling")[0]  # no scaling point in the main FLOPs note either


def test_profile_runs_chainrule_ops_on_the_profiled_thread_and_says_so(tmp_path):
    # cProfile sees one thread: a convolution split across chainrule's threads would profile as one lock wait
    from benchmarks.suite.workers import Worker

    worker = Worker("chainrule", 2)
    try:
        res = worker.call("profile", row="scale_conv_32", scale="smoke", seed=0, reps=2, out=str(tmp_path / "p.txt"))
    finally:
        worker.close()
    assert res["note"] == "chainrule's batch splitting off (timed with up to 2 threads)"
    assert res["reps"] == 2 and (tmp_path / "p.txt").read_text().startswith("# cProfile of the chainrule side")
    assert any("conv" in e["function"] for e in res["top_cumulative"])


def test_a_lenet_step_point_trains_on_its_batches_in_turn():
    from types import SimpleNamespace

    fw = SimpleNamespace(optim=SimpleNamespace(SGD=lambda params, lr, momentum: None))
    model = SimpleNamespace(train=lambda: None, parameters=lambda: [])
    runner = cases.StepRunner(fw, model, None, None, ["b0", "b1", "b2"], warmup_batches=0)
    seen = []
    runner._train = lambda idx: seen.append(idx) or float(len(seen))
    for _ in range(4):
        runner.step()
    assert seen == ["b0", "b1", "b2", "b0"] and runner.losses == [4.0]  # one batch a step, the last step's loss


def test_gemm_reference_is_the_best_try_from_both_ends_of_the_run_and_says_if_it_was_quiet():
    from benchmarks.suite import orchestrator

    tries = {"chainrule": [{"n": 1024, "gflops": 150.0, "other_load": 0.0},
                           {"n": 1024, "gflops": 67.0, "other_load": 1.2},
                           {"n": 1024, "gflops": 348.0, "other_load": 0.1}],
             "torch": [{"n": 1024, "gflops": 140.0, "other_load": 1.0},
                       {"n": 1024, "gflops": 135.0, "other_load": 0.9}]}
    ref = orchestrator._gemm_reference(tries, quiet=0.25)
    assert ref["chainrule"] == {"n": 1024, "gflops": 348.0, "tries_gflops": [150.0, 67.0, 348.0], "quiet": True}
    assert ref["torch"]["gflops"] == 140.0 and ref["torch"]["quiet"] is False
    line = next(x for x in report.markdown({**_report([]), "gemm_reference": ref}).splitlines()
                if x.startswith("Reference"))
    assert "348 GFLOP/s in chainrule" in line and "all tries: chainrule 150/67/348, torch 140/135" in line
    assert line.endswith("**torch: no try was on a quiet moment, so the limit is underestimated and the shares "
                         "overestimated**.")


def test_apply_gemm_judges_a_timed_row_again_once_the_reference_is_final():
    conv3 = _layer_row(key="conv3", target=1.3, min_gemm_share=0.5, ratio=1.1, gflops_chainrule=120.0,
                       gflops_torch=130.0, met=None)
    assert timing.apply_gemm(conv3, {"chainrule": {"gflops": 200.0}, "torch": {"gflops": 260.0}})["met"] is True
    assert (conv3["gemm_share_chainrule"], conv3["gemm_share_torch"]) == (0.6, 0.5)
    assert timing.apply_gemm(conv3, {"chainrule": {"gflops": 300.0}, "torch": {"gflops": 260.0}})["met"] is False


def test_compile_time_section_reports_cold_warm_and_steady_steps():
    from benchmarks.suite import compile_time

    runs = {label: {"compiled": True,
                    "lenet5": {"first_s": first, "steady_s": 0.004},
                    "compact_cnn": {"first_s": first + 0.1, "steady_s": 0.07}}
            for label, first in (("cold", 0.65), ("warm", 0.3))}
    lines = "\n".join(compile_time.markdown(runs))
    assert "| lenet5 | 0.65 s | 300 ms | 4 ms | 0.65 s |" in lines
    assert "| compact_cnn | 0.75 s | 400 ms | 70 ms | 0.68 s |" in lines
    off = compile_time.markdown({"cold": {"compiled": False}, "warm": {"compiled": False}})
    assert "off in this run" in off[1] and off[0] == ""


def test_distributed_report_and_ring_allreduce_model():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_distributed", ROOT / "benchmarks" / "distributed.py")
    d = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(d)
    # 2(p − 1)α + 2(p − 1)/p · n/B: 8 ranks, 1 MB, α 1 µs, 1 GB/s → 14 µs + 1.75 ms
    assert d.ring_allreduce_s(8, 1e6, 1e-6, 1e9) == pytest.approx(14e-6 + 1.75e-3)
    r = {"one_rank": {"step_s": 0.012, "wait_s": 0.0, "source": "Fashion-MNIST"},
         "two_ranks": [{"step_s": 0.013, "wait_s": 0.0005}, {"step_s": 0.0125, "wait_s": 0.0004}],
         "allreduce": {"latency_s": 13e-6, "bandwidth_Bps": {1: 1e9, 16: 3e9}}, "steps": 100}
    text = d.markdown(r)
    assert "**0.92**" in text and "**3.8 %**" in text  # throughput ratio and wait share from the slower rank
    assert "| ResNet-50 | 400 Gb/s, α 2 µs |" in text and "1024 ranks" in text
