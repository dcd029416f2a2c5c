"""SVG written by chainrule itself: a layered layout (columns by generation), no Graphviz needed.

Nodes are ordered within their column by a few barycenter sweeps (to reduce crossings) and moved towards the
average height of their neighbours; edges are cubic curves from the right side of a box to the left side of
the next, labelled in the gap before their target. Text widths are estimated for a monospace font.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from chainrule.viz.graph import Edge, Graph, Node

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
FONT_SIZE, LABEL_SIZE = 12, 11
CHAR_W, LABEL_CHAR_W = 7.3, 6.7  # average advance of a monospace glyph at those sizes
LINE_H, LABEL_LINE_H = 16, 14
PAD_X, PAD_Y = 10, 7
V_GAP, MIN_GAP, MARGIN, TITLE_H = 26, 56, 20, 30

_STYLE = """
.value rect { stroke: #374151; stroke-width: 1.2; }
.leaf rect { fill: #dbeafe; } .constant rect { fill: #f3f4f6; stroke-dasharray: 4 3; }
.inner rect { fill: #ffffff; } .output rect { fill: #dcfce7; stroke-width: 2; }
.op rect { fill: #ffedd5; stroke: #9a3412; stroke-width: 1.2; }
.distributes rect { fill: #e0f2fe; stroke: #0369a1; } .swaps rect { fill: #f3e8ff; stroke: #7e22ce; }
.routes rect { fill: #dcfce7; stroke: #15803d; } .moves rect { fill: #fef9c3; stroke: #a16207; }
.edge path { fill: none; stroke: #6b7280; stroke-width: 1.3; } .edge.constant path { stroke-dasharray: 5 4; }
.edge text { fill: #b91c1c; } .edge rect { fill: #ffffff; fill-opacity: 0.85; }
.name { font-weight: bold; } .title { font-size: 13px; }
"""


@dataclass
class _Box:
    node: Node
    w: float
    h: float
    x: float = 0.0
    y: float = 0.0  # top

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _text_w(lines: list[str], char_w: float) -> float:
    return max((len(s) for s in lines), default=0) * char_w


def layout(g: Graph) -> tuple[dict[str, _Box], float, float, dict[int, float]]:
    """Positions of every box; the picture's width and height; the left edge of every column's gap."""
    columns = sorted({n.column for n in g.nodes})
    index = {c: k for k, c in enumerate(columns)}
    boxes = {
        n.id: _Box(n, _text_w(n.lines, CHAR_W) + 2 * PAD_X, len(n.lines) * LINE_H + 2 * PAD_Y) for n in g.nodes
    }
    cols: list[list[str]] = [[] for _ in columns]
    for n in g.nodes:
        cols[index[n.column]].append(n.id)
    preds: dict[str, list[str]] = {n.id: [] for n in g.nodes}
    succs: dict[str, list[str]] = {n.id: [] for n in g.nodes}
    for e in g.edges:
        preds[e.target].append(e.source)
        succs[e.source].append(e.target)
    # heights follow the main path: constants hang beside it rather than pulling it towards them
    role = {n.id: n.role for n in g.nodes}
    main_preds = {k: [m for m in v if role[m] != "constant"] or v for k, v in preds.items()}

    # order within columns: barycenter sweeps, left to right then right to left
    pos = {nid: i for col in cols for i, nid in enumerate(col)}
    for _ in range(4):
        for sweep, neighbours in ((range(1, len(cols)), preds), (range(len(cols) - 2, -1, -1), succs)):
            for c in sweep:
                def key(nid: str, nb: dict[str, list[str]] = neighbours) -> float:
                    near = nb[nid]
                    return sum(pos[m] for m in near) / len(near) if near else pos[nid]

                cols[c].sort(key=key)
                pos.update({nid: i for i, nid in enumerate(cols[c])})

    # x: column widths, and a gap before each column wide enough for the labels of the edges entering it
    label_w = [0.0] * len(cols)
    for e in g.edges:
        if e.label:
            k = index[boxes[e.target].node.column]
            label_w[k] = max(label_w[k], _text_w(e.label, LABEL_CHAR_W))
    x = MARGIN
    gap_left: dict[int, float] = {}
    for k, col in enumerate(cols):
        if k:
            gap_left[k] = x
            x += max(MIN_GAP, label_w[k] + 70)
        width = max(boxes[nid].w for nid in col)
        for nid in col:
            boxes[nid].x = x + (width - boxes[nid].w) / 2
        x += width
    total_w = x + MARGIN

    # y: stack each column, then pull boxes towards their neighbours' height without overlapping
    tallest = max(sum(boxes[n].h for n in col) + V_GAP * (len(col) - 1) for col in cols)
    for col in cols:
        height = sum(boxes[n].h for n in col) + V_GAP * (len(col) - 1)
        y = (tallest - height) / 2
        for nid in col:
            boxes[nid].y = y
            y += boxes[nid].h + V_GAP
    for _ in range(3):
        for order, neighbours in ((range(len(cols)), main_preds), (range(len(cols) - 1, -1, -1), succs)):
            for c in order:
                _settle(cols[c], boxes, neighbours, role)
    top = min(b.y for b in boxes.values())
    for b in boxes.values():
        b.y += MARGIN + TITLE_H - top
    total_h = max(b.y + b.h for b in boxes.values()) + MARGIN
    return boxes, total_w, total_h, gap_left


def _settle(col: list[str], boxes: dict[str, _Box], neighbours: dict[str, list[str]], role: dict[str, str]) -> None:
    """Move each box of a column to the mean height of its neighbours, keeping the order and the gaps.

    Constants are placed last, in the free space nearest to their consumer, so that they never push the main
    path of the computation around.
    """

    def desired(nid: str) -> float:
        near = neighbours[nid]
        b = boxes[nid]
        return sum(boxes[m].cy for m in near) / len(near) - b.h / 2 if near else b.y

    placed: list[_Box] = []
    y_min = float("-inf")
    for nid in col:
        if role[nid] == "constant":
            continue
        b = boxes[nid]
        b.y = max(desired(nid), y_min)
        y_min = b.y + b.h + V_GAP
        placed.append(b)
    for nid in col:
        if role[nid] != "constant":
            continue
        b, want = boxes[nid], desired(nid)
        candidates = [want] + [p.y - V_GAP - b.h for p in placed] + [p.y + p.h + V_GAP for p in placed]
        free = [y for y in candidates if all(y + b.h + V_GAP <= p.y or y >= p.y + p.h + V_GAP for p in placed)]
        b.y = min(free, key=lambda y: abs(y - want))
        placed.append(b)


def _text(x: float, y: float, lines: list[str], size: int, line_h: int, css: list[str] | None = None) -> str:
    """Lines centred on x, the first baseline at y."""
    parts = []
    for k, line in enumerate(lines):
        cls = f" class={quoteattr(css[k])}" if css and css[k] else ""
        parts.append(f'<tspan x="{x:.1f}" y="{y + k * line_h:.1f}"{cls}>{escape(line)}</tspan>')
    return f'<text text-anchor="middle" font-size="{size}">{"".join(parts)}</text>'


def _edge(e: Edge, boxes: dict[str, _Box], gap: tuple[float, float], shift: float, widest: float) -> str:
    """A labelled edge: straight out of the source through the gap before the target (the label sits on this
    straight part, at the source's height, so labels of edges into one op never meet), then a curve."""
    s, t = boxes[e.source], boxes[e.target]
    sx, sy = s.x + s.w, s.cy
    tx, ty = t.x, t.cy
    g0 = max(sx, gap[0])
    w = _text_w(e.label, LABEL_CHAR_W) + 6 if e.label else 0.0
    # every edge into one target bends at the same x, after the widest label: curves never cross labels
    bend = g0 + widest + 18 if widest else g0
    bend = min(bend, tx - 12)
    d = f"M {sx:.1f} {sy:.1f} "
    if bend > sx + 1:
        d += f"L {bend:.1f} {sy:.1f} "
    dx = (tx - bend) / 2
    d += f"C {bend + dx:.1f} {sy:.1f} {tx - dx:.1f} {ty:.1f} {tx:.1f} {ty:.1f}"
    cls = "edge constant" if e.constant else "edge"
    out = [f'<g class={quoteattr(cls)} data-source="{e.source}" data-target="{e.target}">',
           f'<path d="{d}" marker-end="url(#arrow)"/>']
    if e.label:
        h = len(e.label) * LABEL_LINE_H + 2
        lx = g0 + 8 + w / 2
        top = sy - h / 2 + shift
        out.append(f'<rect x="{lx - w / 2:.1f}" y="{top:.1f}" width="{w:.1f}" height="{h:.1f}" rx="3"/>')
        out.append(_text(lx, top + LABEL_LINE_H - 2, e.label, LABEL_SIZE, LABEL_LINE_H))
    out.append("</g>")
    return "".join(out)


def render_svg(g: Graph) -> str:
    """The graph as a standalone SVG document (valid XML, no scripts, no external resources)."""
    boxes, width, height, gap_left = layout(g)
    column_of = {c: k for k, c in enumerate(sorted({n.column for n in g.nodes}))}
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family={quoteattr(FONT)} font-size="{FONT_SIZE}">',
        f"<title>{escape(g.title)}</title>",
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280"/></marker>',
        "</defs>",
        f"<style>{_STYLE}</style>",
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
        f'<text class="title" x="{MARGIN}" y="{MARGIN + 4}">{escape(g.title)}</text>',
        '<g class="edges">',
    ]
    stacked: dict[tuple[str, int], float] = {}  # labels of edges from one source into one column stack down
    widest: dict[str, float] = {}
    for e in g.edges:
        if e.label:
            widest[e.target] = max(widest.get(e.target, 0.0), _text_w(e.label, LABEL_CHAR_W) + 6)
    for e in g.edges:
        k = column_of[boxes[e.target].node.column]
        gap = (gap_left.get(k, 0.0), boxes[e.target].x)
        shift = stacked.get((e.source, k), 0.0)
        if e.label:
            stacked[(e.source, k)] = shift + len(e.label) * LABEL_LINE_H + 6
        out.append(_edge(e, boxes, gap, shift, widest.get(e.target, 0.0)))
    out.append("</g>")
    out.append('<g class="nodes">')
    for b in boxes.values():
        n = b.node
        cls = f"node {n.kind} {n.role}"
        rx = 14 if n.kind == "op" else 4
        css = ["name"] + [""] * (len(n.lines) - 1)
        out.append(
            f"<g id={quoteattr(n.id)} class={quoteattr(cls)} data-name={quoteattr(n.lines[0])}>"
            f"<title>{escape(n.title)}</title>"
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="{rx}"/>'
            + _text(b.x + b.w / 2, b.y + PAD_Y + LINE_H - 4, n.lines, FONT_SIZE, LINE_H, css)
            + "</g>"
        )
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
