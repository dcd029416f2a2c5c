"""The scaling table: how each side's cost grows with the size of the work, and where the ratio drifts.

Its points are ordinary rows (kind "scaling" in ``cases.py``), timed by ``timing`` like every other row; this
module only groups their results (``summarize_groups``, stored in results.json) and computes each group's
*drift* (the ratio at the largest measured size ÷ the ratio at the smallest); ``report`` renders them.

Why a ratio drifts is analysis, written by hand after a run into ``benchmarks/scaling_notes.md``: the run copies
that file into results.json, and results.md shows it verbatim under the table. Its format: one section per
group, headed ``#### <anything> (`<group key>`)``; the section's first non-empty line is the group's one-line
explanation in the drift table (surrounding ``*`` or ``_`` dropped), the rest is the paragraph.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from benchmarks.suite.machine import BENCH_DIR, ROOT

NOTES = BENCH_DIR / "scaling_notes.md"
_HEADING = re.compile(r"^#+\s.*\(`([^`]+)`\)\s*$")


def drift(low: dict[str, Any], high: dict[str, Any]) -> dict[str, float]:
    """The ratio at the largest size ÷ the ratio at the smallest, and the range the two points' spreads allow
    (high's lowest ÷ low's highest to high's highest ÷ low's lowest): > 1 means chainrule falls behind as the
    work grows."""
    return {"drift": high["ratio"] / low["ratio"], "drift_low": high["ratio_q1"] / low["ratio_q3"],
            "drift_high": high["ratio_q3"] / low["ratio_q1"]}


def summarize_groups(rows: list[dict[str, Any]], groups: Any) -> list[dict[str, Any]]:
    """The groups (``cases.ScalingGroup``) that have a measured or failed point in ``rows``, each with its points
    (key and size label, smallest first) and its drift between the smallest and largest measured points (None
    with fewer than two)."""
    by_key = {r["key"]: r for r in rows}
    summary = []
    for g in groups:
        points = [{"key": key, "label": label} for key, label in g.points if key in by_key]
        if not points:
            continue
        measured = [p for p in points if "ratio" in by_key[p["key"]]]
        entry: dict[str, Any] = {"key": g.key, "title": g.title, "fixed": g.fixed, "points": points, "drift": None}
        if len(measured) >= 2:
            low, high = measured[0], measured[-1]
            entry["drift"] = {**drift(by_key[low["key"]], by_key[high["key"]]),
                              "smallest": low["label"], "largest": high["label"]}
        summary.append(entry)
    return summary


def read_notes(path: Path = NOTES) -> dict[str, str] | None:
    """The hand-written notes, for results.json (None when there is no such file)."""
    if not path.is_file():
        return None
    try:
        shown = str(path.resolve().relative_to(ROOT))
    except ValueError:
        shown = str(path)
    return {"file": shown, "text": path.read_text()}


def one_liners(text: str) -> dict[str, str]:
    """Each group's one-line explanation in the notes: the first non-empty line under its heading."""
    lines, found = text.splitlines(), {}
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if not m:
            continue
        for nxt in lines[i + 1 :]:
            if nxt.startswith("#"):  # the next heading: this section has no text
                break
            if nxt.strip():
                found[m.group(1)] = nxt.strip().strip("*_").strip()
                break
    return found
