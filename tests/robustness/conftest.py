"""Report how many generated cases the fuzz suite ran, and how they ended, at the end of pytest's output."""

import fuzz_helpers


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    cases = sum(fuzz_helpers.CASES.values())
    if not cases:
        return
    write = terminalreporter.write_line
    terminalreporter.section("chainrule robustness fuzzing")
    write(f"Hypothesis cases run: {cases} over {len(fuzz_helpers.CASES)} ops, "
          f"{fuzz_helpers.CLOCK['seconds']:.1f} s inside the calls")
    for outcome, n in sorted(fuzz_helpers.OUTCOMES.items()):
        write(f"  {outcome}: {n}")
    for reason, n in sorted(fuzz_helpers.PERMISSIVE.items()):
        write(f"  permissive, documented: {reason}: {n}")
    if config.getoption("verbose") > 0:
        write("  per op: " + ", ".join(f"{op} {n}" for op, n in sorted(fuzz_helpers.CASES.items())))
