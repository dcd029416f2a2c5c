"""Report how many generated cases the fuzz suite ran, how long it took and how the cases ended, at the end of
pytest's output (the terminal summary)."""

import fuzz_helpers

_DURATION = {"seconds": 0.0}


def pytest_runtest_logreport(report):
    if "test_fuzz_ops.py" in report.nodeid:
        _DURATION["seconds"] += report.duration  # setup, call and teardown: Hypothesis's generation included


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    cases = sum(fuzz_helpers.CASES.values())
    if not cases:
        return
    write = terminalreporter.write_line
    terminalreporter.section("chainrule robustness fuzzing")
    write(f"Hypothesis cases run: {cases} over {len(fuzz_helpers.CASES)} ops in {_DURATION['seconds']:.1f} s "
          f"({fuzz_helpers.CLOCK['seconds']:.1f} s inside the calls, the rest generating them)")
    for outcome, n in sorted(fuzz_helpers.OUTCOMES.items()):
        write(f"  {outcome}: {n}")
    for reason, n in sorted(fuzz_helpers.PERMISSIVE.items()):
        write(f"  permissive, documented: {reason}: {n}")
    if config.getoption("verbose") > 0:
        write("  per op: " + ", ".join(f"{op} {n}" for op, n in sorted(fuzz_helpers.CASES.items())))
