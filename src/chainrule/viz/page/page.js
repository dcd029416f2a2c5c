// chainrule's step-through page. Everything it shows comes from the JSON in <script id="data">, written by
// chainrule.viz.html.page_data: nodes (values "v" and ops "o"), the ops in forward order, the backward steps in
// the engine's order (upstream, and per input its local derivative and downstream gradient), module groups,
// and the convolution and recurrent views. The page lays the graph out itself so that groups can collapse.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const NODES = DATA.nodes;
  const F = DATA.forward.length;
  const B = DATA.backward.length;
  const TOTAL = F + B; // step 0 is the start; 1..F run the forward pass; F+1..F+B the backward pass
  const OUT = DATA.output;
  const BOX_W = 158, BOX_H = 50, COL_GAP = 84, ROW_GAP = 20, MARGIN = 20;
  const SVG_NS = "http://www.w3.org/2000/svg";

  // ----- numbers and arrays ---------------------------------------------------------------------------------

  // a number as the library prints it: integers whole, others with 6 significant digits
  function fmt(x) {
    if (typeof x === "string") return x; // nan, inf, -inf
    if (x === null || x === undefined) return "—";
    if (Number.isInteger(x)) return String(x);
    // Python's %.6g: an exponent below -4 or from 6 up is written in scientific form (9.85914e-05)
    const p = Number(x.toPrecision(6)), e = Math.floor(Math.log10(Math.abs(p)));
    if (e >= -4 && e < 6) return String(p);
    const [m, ex] = p.toExponential(5).split("e");
    return m.replace(/\.?0+$/, "") + "e" + ex[0] + ex.slice(1).padStart(2, "0");
  }
  function factor(x) { // a negative number inside a product gets brackets: 1 × (-4)
    const s = fmt(x);
    return s.startsWith("-") ? "(" + s + ")" : s;
  }
  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  // a name inside ∂f/∂(...): bracketed when it is an expression, as the tables write it
  function d(name) { return /[ +*\/@^·-]/.test(name) && !/^-?[\d.e]+$/.test(name) ? "(" + name + ")" : name; }
  function isScalar(a) { return a && a.x !== undefined; }
  function shapeText(s) { return "(" + s.join(", ") + (s.length === 1 ? "," : "") + ")"; }

  // short text for a box: the number, a small array inline, or the shape
  function short(a) {
    if (!a) return "—";
    if (isScalar(a)) return fmt(a.x);
    if (a.r && a.n <= 4 && !a.more) return "[" + a.r.map(row => row.map(fmt).join(", ")).join("; ") + "]";
    return shapeText(a.s);
  }

  // an array as a small table (rows = all leading dims flattened, columns = the last dim), truncated with a count
  function table(a, cls) {
    if (!a) return '<span class="num">—</span>';
    const c = cls ? " " + cls : "";
    if (isScalar(a)) return '<span class="num' + c + '">' + esc(fmt(a.x)) + "</span>";
    if (!a.r) return '<span class="num' + c + '">' + esc(a.t || "") + "</span>";
    let html = '<div class="array' + c + '"><span class="note">shape ' + esc(shapeText(a.s)) + "</span>";
    html += '<table class="arr">' + a.r.map(row => "<tr>" + row.map(v => "<td>" + esc(fmt(v)) + "</td>").join("") +
      (a.cols > row.length ? '<td class="more">…</td>' : "") + "</tr>").join("") + "</table>";
    if (a.more) html += '<div class="more">… ' + a.more + " more; " + esc(a.t || "") + "</div>";
    return html + "</div>";
  }

  // ----- what each step knows ---------------------------------------------------------------------------

  const byId = new Map(NODES.map(n => [n.id, n]));
  const forwardPos = new Map(DATA.forward.map((id, k) => [id, k + 1])); // op id → its forward step
  const contributions = new Map(); // value id → [{b, j}]: backward step b sent it the downstream of input j
  DATA.backward.forEach((st, b) => st.in.forEach((inp, j) => {
    if (inp.down === null) return;
    if (!contributions.has(inp.v)) contributions.set(inp.v, []);
    contributions.get(inp.v).push({ b: b, j: j });
  }));
  const rootId = NODES.find(n => n.k === "v" && n.role === "output");
  function valueKnown(n, step) { return n.by === null || n.by === undefined || step >= forwardPos.get(n.by); }
  function gradState(n, step) { // "done", "partial" (some consumers have sent theirs) or ""
    if (step <= F || n.role === "constant") return "";
    if (rootId && n.id === rootId.id) return "done";
    const c = contributions.get(n.id) || [];
    const seen = c.filter(x => F + 1 + x.b <= step).length;
    if (!seen) return "";
    return seen === c.length ? "done" : "partial";
  }
  const rnnOf = new Map(); // op id → its recurrent view
  DATA.rnn.forEach(view => view.ops.forEach(id => rnnOf.set(id, view)));

  // ----- groups: modules collapse into one box ----------------------------------------------------------------

  const GROUPS = DATA.groups;
  const members = new Map(); // group path → how many nodes it holds (its subgroups included)
  NODES.forEach(n => { for (const p of ancestors(n.g)) members.set(p, (members.get(p) || 0) + 1); });
  function ancestors(path) { // "a.b.c" → ["a", "a.b", "a.b.c"], outermost first
    if (!path) return [];
    const parts = path.split("."), out = [];
    for (let k = 1; k <= parts.length; k++) out.push(parts.slice(0, k).join("."));
    return out;
  }
  // a module of one op and its output (an activation, a pooling) is drawn as that op: a box of its own adds nothing
  function realGroup(p) { return GROUPS[p] && members.get(p) > 2; }
  const collapsed = new Set(Object.keys(GROUPS).filter(realGroup)); // all collapsed at first
  function unitOf(n) { // the box a node is drawn in: its outermost collapsed group, or itself
    for (const p of ancestors(n.g)) if (collapsed.has(p)) return "g:" + p;
    return "n:" + n.id;
  }

  // ----- layout: columns by longest path, rows by barycenters ---------------------------------------------------

  let units = [], unitIndex = new Map(), edges = [], pos = new Map();
  function buildUnits() {
    units = []; unitIndex = new Map(); edges = [];
    const order = [...NODES.filter(n => n.k === "v"), ...DATA.forward.map(id => byId.get(id))];
    for (const n of order) {
      const key = unitOf(n);
      if (!unitIndex.has(key)) {
        unitIndex.set(key, units.length);
        units.push(key.startsWith("g:") ? { key: key, kind: "g", path: key.slice(2) } : { key: key, kind: n.k, node: n });
      }
    }
    const seen = new Set();
    function link(a, b) {
      const ia = unitIndex.get(a), ib = unitIndex.get(b), k = ia + ">" + ib;
      if (ia === ib || seen.has(k)) return;
      seen.add(k); edges.push([ia, ib]);
    }
    for (const id of DATA.forward) {
      const op = byId.get(id), u = unitOf(op);
      op.in.forEach(v => link(unitOf(byId.get(v)), u));
      op.out.forEach(v => { if (v !== null) link(u, unitOf(byId.get(v))); });
    }
  }

  function layout() {
    const n = units.length, preds = units.map(() => []), succs = units.map(() => []);
    edges.forEach(([a, b]) => { succs[a].push(b); preds[b].push(a); });
    // columns: the longest path from the sources, in topological order; a cycle (only possible between collapsed
    // groups) puts its remaining units one column further
    const rank = new Array(n).fill(0), indeg = preds.map(p => p.length), queue = [];
    indeg.forEach((d, i) => { if (!d) queue.push(i); });
    const topo = [];
    while (queue.length) {
      const i = queue.pop(); topo.push(i);
      for (const s of succs[i]) { rank[s] = Math.max(rank[s], rank[i] + 1); if (--indeg[s] === 0) queue.push(s); }
    }
    if (topo.length < n) { const top = Math.max(0, ...rank) + 1; indeg.forEach((d, i) => { if (d > 0) rank[i] = top; }); }
    // then each box moves right, up to the column before its first consumer: a leaf sits beside the op that
    // reads it, and a step's input projection beside its step, instead of every edge spanning the picture
    for (let k = topo.length - 1; k >= 0; k--) {
      const i = topo[k];
      if (succs[i].length) rank[i] = Math.max(rank[i], Math.min(...succs[i].map(s => rank[s])) - 1);
    }
    const cols = [];
    for (let i = 0; i < n; i++) (cols[rank[i]] = cols[rank[i]] || []).push(i);
    const at = new Array(n).fill(0);
    cols.forEach(col => col && col.forEach((u, k) => { at[u] = k; }));
    // two barycenter sweeps (left to right by predecessors, right to left by successors) to untangle edges
    const sweep = (col, nb) => {
      const key = new Map(col.map(u => [u, nb[u].length ? nb[u].reduce((s, m) => s + at[m], 0) / nb[u].length : at[u]]));
      col.sort((a, b) => key.get(a) - key.get(b));
      col.forEach((u, k) => { at[u] = k; });
    };
    for (let c = 1; c < cols.length; c++) if (cols[c]) sweep(cols[c], preds);
    for (let c = cols.length - 2; c >= 0; c--) if (cols[c]) sweep(cols[c], succs);
    const tallest = Math.max(1, ...cols.map(c => (c ? c.length : 0)));
    pos = new Map();
    cols.forEach((col, c) => {
      if (!col) return;
      const offset = (tallest - col.length) * (BOX_H + ROW_GAP) / 2;
      col.forEach((u, k) => pos.set(u, { x: MARGIN + c * (BOX_W + COL_GAP), y: MARGIN + offset + k * (BOX_H + ROW_GAP) }));
    });
    return { w: 2 * MARGIN + cols.length * (BOX_W + COL_GAP), h: 2 * MARGIN + tallest * (BOX_H + ROW_GAP) };
  }

  // ----- drawing ---------------------------------------------------------------------------------------------

  const svg = document.getElementById("graph");
  const canvas = document.getElementById("canvas");
  let boxes = []; // per unit: its <g>, and the three text lines
  function clip(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + "…" : s; }
  function unitTitle(u) {
    if (u.kind === "g") { const g = GROUPS[u.path]; return g.label + (g.type ? " (" + g.type + ")" : ""); }
    const n = u.node;
    return n.k === "v" ? n.name + " " + shapeText(n.s) + " " + n.dtype : n.name + " (" + n.cls + ")" + (n.g ? " in " + n.g : "");
  }
  function draw() {
    buildUnits();
    const size = layout();
    // a small graph is shrunk to fit the pane, so the whole circuit is in sight; a large one keeps its size
    // and scrolls (the current node is scrolled into view at each step)
    const pane = document.getElementById("canvas");
    const fit = Math.min(1, (pane.clientWidth - 8) / size.w, Math.max(1, (pane.clientHeight - 8) / size.h));
    const scale = fit >= 0.5 ? fit : 1;
    svg.setAttribute("width", Math.round(size.w * scale)); svg.setAttribute("height", Math.round(size.h * scale));
    svg.setAttribute("viewBox", "0 0 " + size.w + " " + size.h);
    const parts = ['<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" ' +
      'orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280"/></marker></defs><g id="edges">'];
    // a source read by many ops (a recurrent weight shared by every step) would cross the whole picture with
    // its edges: they are drawn faint, and in full only while a step uses them
    const fanOut = new Map();
    edges.forEach(([a]) => fanOut.set(a, (fanOut.get(a) || 0) + 1));
    const hasPred = new Set(edges.map(([, b]) => b));
    edges.forEach(([a, b], k) => {
      const p = pos.get(a), q = pos.get(b);
      const faint = !hasPred.has(a) && fanOut.get(a) > 4 ? " faint" : "";
      const x1 = p.x + BOX_W, y1 = p.y + BOX_H / 2, x2 = q.x, y2 = q.y + BOX_H / 2, dx = Math.max(30, (x2 - x1) / 2);
      parts.push('<path class="e' + faint + '" id="e' + k + '" d="M' + x1 + " " + y1 + " C" + (x1 + dx) + " " + y1 + " " + (x2 - dx) +
        " " + y2 + " " + x2 + " " + y2 + '" marker-end="url(#arrow)"/>');
    });
    parts.push('</g><g id="units">');
    units.forEach((u, i) => {
      const p = pos.get(i);
      const cls = "unit " + u.kind + (u.kind === "v" ? " " + u.node.role : "");
      const ident = u.kind === "g" ? ' data-group="' + esc(u.path) + '"' : ' data-id="' + u.node.id + '" data-name="' + esc(u.node.name) + '"';
      parts.push('<g class="' + cls + '" data-u="' + i + '"' + ident + ' transform="translate(' + p.x + "," + p.y + ')"><title>' +
        esc(unitTitle(u)) + '</title><rect width="' + BOX_W + '" height="' + BOX_H + '" rx="' + (u.kind === "o" ? 14 : 4) +
        '"/><text x="' + BOX_W / 2 + '" text-anchor="middle"><tspan class="l1" x="' + BOX_W / 2 + '" y="14"></tspan>' +
        '<tspan class="l2" x="' + BOX_W / 2 + '" y="29"></tspan><tspan class="l3" x="' + BOX_W / 2 + '" y="43"></tspan></text></g>');
    });
    parts.push('</g><g id="labels"></g>');
    svg.innerHTML = parts.join("");
    boxes = Array.from(svg.querySelectorAll("g.unit")).map(g => ({ g: g, t: g.querySelectorAll("tspan") }));
    renderGroups();
  }

  // the three lines of every box at the current step
  function fillBoxes() {
    units.forEach((u, i) => {
      const t = boxes[i].t;
      let l1 = "", l2 = "", l3 = "";
      if (u.kind === "g") {
        const g = GROUPS[u.path];
        l1 = u.path; l2 = (g.type || "module") + " · " + g.ops + " op" + (g.ops === 1 ? "" : "s"); l3 = "▸ click to expand";
      } else if (u.kind === "o") {
        l1 = u.node.name; l2 = u.node.pattern || "";
      } else {
        const n = u.node;
        l1 = n.name + (n.s.length ? " " + shapeText(n.s) : "");
        l2 = valueKnown(n, current) ? "= " + short(n.val) : "";
        const state = gradState(n, current);
        l3 = state === "done" ? "grad " + short(n.grad) : state === "partial" ? "grad: Σ still arriving" : "";
      }
      t[0].textContent = clip(l1, 22); t[1].textContent = clip(l2, 22); t[2].textContent = clip(l3, 22);
    });
  }

  // ----- the current step ---------------------------------------------------------------------------------------

  let current = 0, selected = null;
  const stepBox = document.getElementById("step"), detail = document.getElementById("detail");
  const slider = document.getElementById("slider"), counter = document.getElementById("counter");
  slider.max = String(TOTAL);

  function unitOfId(id) { return unitIndex.get(unitOf(byId.get(id))); }
  function mark(i, cls) {
    if (i === undefined || !boxes[i]) return;
    boxes[i].g.classList.add(cls);
    if (cls === "current" && boxes[i].g.scrollIntoView) boxes[i].g.scrollIntoView({block: "nearest", inline: "nearest"});
  }

  function go(step) {
    current = Math.max(0, Math.min(TOTAL, step));
    slider.value = String(current);
    counter.textContent = current === 0 ? "start" : current <= F ? "forward " + current + " / " + F
      : "backward " + (current - F) + " / " + B;
    document.body.dataset.step = String(current);
    svg.querySelectorAll(".current, .input").forEach(e => e.classList.remove("current", "input"));
    svg.querySelectorAll(".e.hot").forEach(e => e.classList.remove("hot"));
    document.getElementById("labels").innerHTML = "";
    fillBoxes();
    if (current === 0) {
      stepBox.innerHTML = "<h2>Start</h2><p>The leaves and constants hold their values. Press → (or next) to run " +
        "the forward pass, op by op; then the backward pass runs in the engine's order.</p>" +
        '<p class="note">Keys: → next, ← back, Home / End. Click a box for its details; a module box expands.</p>';
      return;
    }
    if (current <= F) forwardStep(byId.get(DATA.forward[current - 1]));
    else backwardStep(current - F - 1);
  }

  function forwardStep(op) {
    const u = unitOfId(op.id);
    mark(u, "current");
    op.in.forEach(v => mark(unitOfId(v), "input"));
    const outs = op.out.filter(v => v !== null).map(v => byId.get(v));
    const args = op.in.map(v => esc(byId.get(v).name)).join(", ");
    let html = '<h2 class="step-title">Forward ' + (current) + " / " + F + ": " + esc(op.name) + "</h2>";
    html += '<p class="mono">' + outs.map(o => esc(o.name)).join(", ") + " = " + esc(op.name) + "(" + args + ")</p>";
    html += '<table class="io">';
    outs.forEach(o => {
      html += '<tr class="fwd" data-output="' + esc(o.name) + '"><th>' + esc(o.name) + "</th><td>" + table(o.val, "fwd-value") + "</td></tr>";
    });
    html += "</table><h3>from</h3><table class=\"io\">";
    op.in.forEach(v => { const n = byId.get(v); html += "<tr><th>" + esc(n.name) + "</th><td>" + table(n.val) + "</td></tr>"; });
    stepBox.innerHTML = html + "</table>";
    reveal(u);
  }

  // the gradient of value n as the sum of what each consumer sent back (shown where a value fans out)
  function fanOut(n) {
    const c = contributions.get(n.id) || [];
    if (c.length < 2) return "";
    const terms = c.map(x => {
      const st = DATA.backward[x.b];
      const down = st.in[x.j].down;
      return isScalar(down) ? '<span class="term">' + esc(factor(down.x)) + "</span>" : '<div class="term">' + table(down) + "</div>";
    });
    const from = c.map(x => esc(byId.get(DATA.backward[x.b].op).name) + " → " + esc(DATA.backward[x.b].node));
    return '<div class="sum fanout" data-value="' + esc(n.name) + '">' + esc(n.name) + " fans out to " + c.length +
      " ops, so its gradient is a sum: ∂" + esc(d(OUT)) + "/∂" + esc(d(n.name)) + " = " + terms.join(" + ") + " = " +
      table(n.grad, "sum-total") + '<div class="note">in the order the ops sent them: ' + from.join(", ") + "</div></div>";
  }

  function backwardStep(b) {
    const st = DATA.backward[b], op = byId.get(st.op), u = unitOfId(op.id);
    mark(u, "current");
    const outs = op.out.map(v => (v === null ? null : byId.get(v)));
    let html = '<h2 class="step-title">Backward ' + (b + 1) + " / " + B + ": node " + esc(st.node) + " (" + esc(op.name) +
      (op.pattern ? ", " + esc(op.pattern) : "") + ")</h2>";
    html += '<p class="note">at each node: downstream = upstream × local, for each input</p>';
    st.up.forEach((up, k) => {
      const o = outs[k], name = o ? o.name : "(unused)";
      html += '<div class="upstream-row" data-output="' + esc(name) + '">upstream ∂' + esc(d(OUT)) + "/∂" + esc(d(name)) + " = " +
        table(up, "upstream") + "</div>";
      if (o) html += fanOut(o);
    });
    html += '<table class="io"><tr><th>input</th><th>local ∂' + esc(d(st.node)) + "/∂input</th><th>upstream × local</th>" +
      "<th>downstream ∂" + esc(d(OUT)) + "/∂input</th></tr>";
    const single = st.up.length === 1 && isScalar(st.up[0]);
    st.in.forEach(inp => {
      const target = unitOfId(inp.v);
      mark(target, "input");
      let product;
      if (inp.down === null) product = "—";
      else if (inp.product) product = '<span class="formula">' + esc(inp.product) + "</span>";
      else if (single && isScalar(inp.local)) product = esc(factor(st.up[0].x) + " × " + factor(inp.local.x));
      else product = "upstream ⊙ local";
      const local = '<span class="local-formula formula">' + esc(inp.f || "—") + "</span>" +
        (inp.local && !(isScalar(inp.local) && fmt(inp.local.x) === inp.f) ? " = " + table(inp.local, "local") : "");
      const down = inp.down === null ? '<span class="downstream">— (constant: no gradient)</span>' : table(inp.down, "downstream");
      html += '<tr class="input" data-input="' + esc(inp.name) + '"><th>' + esc(inp.name) + "</th><td>" + local + "</td><td class=\"product\">" +
        product + "</td><td>" + down + "</td></tr>";
      edgeLabel(target, u, single && isScalar(inp.local) && inp.down ? factor(st.up[0].x) + " × " + factor(inp.local.x) +
        " = " + fmt(inp.down.x) : inp.down ? "grad " + short(inp.down) : "");
    });
    html += "</table>";
    if (b === B - 1) html += leafSummary();
    stepBox.innerHTML = html;
    reveal(u);
  }

  function leafSummary() {
    const leaves = NODES.filter(n => n.k === "v" && n.role === "leaf" && n.grad);
    if (!leaves.length) return "";
    return '<h3>done: the gradient of every leaf</h3><table class="io">' + leaves.map(n => '<tr class="leaf-grad" data-leaf="' +
      esc(n.name) + '"><th>∂' + esc(d(OUT)) + "/∂" + esc(d(n.name)) + "</th><td>" + table(n.grad, "leaf-value") + "</td></tr>").join("") + "</table>";
  }

  // the label "upstream × local = downstream" on the edge from an input into the current op
  function edgeLabel(from, to, text) {
    const k = edges.findIndex(([a, b]) => a === from && b === to);
    if (k < 0) return;
    document.getElementById("e" + k).classList.add("hot");
    if (!text) return;
    // above the input's box, ending at its right side: in the gap between rows, clear of the op's box
    const p = pos.get(from), w = text.length * 6.7 + 8, x = p.x + BOX_W - w, y = p.y - 4;
    const g = document.createElementNS(SVG_NS, "g");
    g.setAttribute("class", "label");
    g.innerHTML = '<rect x="' + x + '" y="' + (y - 12) + '" width="' + w + '" height="16" rx="3"/><text x="' + (x + 4) +
      '" y="' + y + '">' + esc(text) + "</text>";
    document.getElementById("labels").appendChild(g);
  }

  // scroll the graph so that unit i is in view
  function reveal(i) {
    const p = pos.get(i);
    if (!p) return;
    const left = canvas.scrollLeft, top = canvas.scrollTop, w = canvas.clientWidth, h = canvas.clientHeight;
    if (p.x < left || p.x + BOX_W > left + w) canvas.scrollLeft = p.x - w / 2 + BOX_W / 2;
    if (p.y < top || p.y + BOX_H > top + h) canvas.scrollTop = p.y - h / 2 + BOX_H / 2;
  }

  // ----- details of a clicked node -----------------------------------------------------------------------------

  function showNode(n) {
    selected = n.id;
    svg.querySelectorAll(".selected").forEach(e => e.classList.remove("selected"));
    mark(unitOfId(n.id), "selected");
    detail.innerHTML = n.k === "v" ? valueDetail(n) : opDetail(n);
    detail.querySelectorAll("[data-collapse]").forEach(el => el.addEventListener("click", () => {
      collapsed.add(el.dataset.collapse); redraw();
    }));
    if (byId.get(n.id).cls === "Conv2d" && DATA.conv[String(n.id)]) convView(n, DATA.conv[String(n.id)]);
  }

  function groupLinks(path) {
    return ancestors(path).filter(realGroup).map(p => ' <button class="link" data-collapse="' + esc(p) + '">collapse ' +
      esc(p) + "</button>").join("");
  }

  function valueDetail(n) {
    let html = '<h2 class="detail-title">' + esc(n.name) + '</h2><p class="mono">' + esc(n.role) + " · shape " +
      esc(shapeText(n.s)) + " · " + esc(n.dtype) + (n.g ? " · in " + esc(n.g) : "") + "</p>" + groupLinks(n.g);
    if (n.by !== null && n.by !== undefined) html += '<p>made by <span class="mono">' + esc(byId.get(n.by).name) + "</span></p>";
    html += "<h3>value</h3>" + table(n.val, "detail-value");
    if (n.role !== "constant") html += "<h3>gradient ∂" + esc(d(OUT)) + "/∂" + esc(d(n.name)) + "</h3>" + table(n.grad, "detail-grad") + fanOut(n);
    return html;
  }

  function opDetail(op) {
    const st = op.bwd === null || op.bwd === undefined ? null : DATA.backward[op.bwd];
    let html = '<h2 class="detail-title">' + esc(op.name) + ' <span class="note">(' + esc(op.cls) + ")</span></h2>" +
      "<p>" + (op.pattern ? "pattern: " + esc(op.pattern) + ". " : "") + (op.g ? "in module " + esc(op.g) + ". " : "") +
      "forward step " + forwardPos.get(op.id) + (st ? ", backward step " + (op.bwd + 1) : "") + "</p>" + groupLinks(op.g);
    html += '<table class="io"><tr><th>input</th><th>shape</th><th>local ∂out/∂input</th></tr>';
    op.in.forEach((v, k) => {
      const n = byId.get(v), inp = st ? st.in[k] : null;
      html += "<tr><th>" + esc(n.name) + "</th><td>" + esc(shapeText(n.s)) + '</td><td><span class="formula">' +
        esc(inp ? inp.f : "—") + "</span>" + (inp && inp.product ? "; downstream = " + esc(inp.product) : "") + "</td></tr>";
    });
    html += "</table>";
    op.out.forEach((v, k) => {
      if (v === null) return;
      const n = byId.get(v);
      html += "<h3>output " + esc(n.name) + " " + esc(shapeText(n.s)) + "</h3>" + table(n.val);
      if (st) html += "<p>upstream</p>" + table(st.up[k]);
    });
    if (st) st.in.forEach(inp => { html += "<h3>downstream to " + esc(inp.name) + "</h3>" + table(inp.down); });
    const view = rnnOf.get(op.id);
    if (view) html += rnnView(view);
    if (op.cls === "Conv2d" && DATA.conv[String(op.id)]) html += '<div id="conv"></div>';
    return html;
  }

  // ----- recurrent layers: ‖∂L/∂h_t‖ per step and each step's share of ∂L/∂W_hh ------------------------------

  function rnnView(view) {
    const max = Math.max(1e-300, ...view.steps.map(r => (typeof r.dh === "number" ? r.dh : 0)));
    const barW = Math.max(3, Math.min(16, Math.floor(400 / view.steps.length)));
    const bars = view.steps.map((r, k) => {
      const h = typeof r.dh === "number" ? 60 * r.dh / max : 0;
      return '<rect x="' + k * barW + '" y="' + (60 - h) + '" width="' + (barW - 1) + '" height="' + h + '"><title>t = ' + r.t +
        ": " + fmt(r.dh) + "</title></rect>";
    }).join("");
    let html = '<div class="rnn"><h3>' + esc(view.kind) + ": back-propagation through time</h3>" +
      '<p class="note">' + esc(view.note) + "</p><p>‖∂" + esc(d(OUT)) + "/∂h_t‖ per step t:</p>" +
      '<svg class="bars" width="' + view.steps.length * barW + '" height="62">' + bars + "</svg>" +
      '<table class="io rnn-steps"><tr><th>t</th><th>‖∂' + esc(d(OUT)) + "/∂h_t‖</th><th>‖share of ∂" + esc(d(OUT)) + "/∂" +
      esc(view.weight) + "‖</th></tr>";
    view.steps.forEach(r => {
      html += '<tr data-t="' + r.t + '"><td>' + r.t + '</td><td class="dh">' + esc(fmt(r.dh)) + '</td><td class="dw">' + esc(fmt(r.dw)) + "</td></tr>";
    });
    return html + "</table><h3>∂" + esc(d(OUT)) + "/∂" + esc(view.weight) + " = Σ_t shares</h3>" + table(view.total) + "</div>";
  }

  // ----- convolution: one (sample, in-channel, out-channel) slice element by element ---------------------------

  function convView(op, cv) {
    const box = document.getElementById("conv");
    const pick = { n: 0, c: 0, f: 0 };
    const [sh, sw] = cv.stride, [dh, dw] = cv.dilation, pt = cv.padding[0], pl = cv.padding[2];
    const cpg = cv.C / cv.groups, fpg = cv.F / cv.groups; // channels and filters per group
    const X = (n, c, r, q) => cv.x[((n * cv.c + c) * cv.H + r) * cv.W + q];
    const Wt = (f, c, u, v) => cv.w[((f * Math.min(cv.Wc, cv.c) + c) * cv.KH + u) * cv.KW + v];
    const G = (n, f, i, j) => cv.gy[((n * cv.f + f) * cv.OH + i) * cv.OW + j];
    const sym = (l, a, b) => l + (a + 1) + "," + (b + 1);

    function compute() {
      const { n, c, f } = pick;
      if (Math.floor(f / fpg) !== Math.floor(c / cpg)) return null; // this filter does not read this channel
      const wc = c % cpg, out = [], dX = new Map(), dW = new Map();
      for (let i = 0; i < cv.OH; i++) for (let j = 0; j < cv.OW; j++) {
        const terms = [];
        for (let u = 0; u < cv.KH; u++) for (let v = 0; v < cv.KW; v++) {
          const r = sh * i + dh * u - pt, q = sw * j + dw * v - pl;
          if (r < 0 || q < 0 || r >= cv.H || q >= cv.W) continue; // padding: a zero, no term
          terms.push({ r, q, u, v });
          const kx = r + "," + q, kw = u + "," + v;
          if (!dX.has(kx)) dX.set(kx, []);
          dX.get(kx).push({ i, j, u, v });
          if (!dW.has(kw)) dW.set(kw, []);
          dW.get(kw).push({ i, j, r, q });
        }
        out.push({ i, j, terms });
      }
      return { n, c: c, wc, f, out, dX, dW };
    }
    function sumLine(lhs, syms, nums, total) {
      if (!syms.length) return '<div class="conv-sum">' + esc(lhs) + " = 0 (no output used it)</div>";
      return '<div class="conv-sum" data-lhs="' + esc(lhs) + '">' + esc(lhs) + " = " + esc(syms.join(" + ")) + "<br>&nbsp;&nbsp;= " +
        esc(nums.join(" + ")) + ' = <span class="num conv-total">' + esc(fmt(total)) + "</span></div>";
    }
    function render() {
      const s = compute(), { n, c, f } = pick;
      const opts = (count, sel) => Array.from({ length: count }, (_, k) => '<option value="' + k + '"' + (k === sel ? " selected" : "") + ">" + k + "</option>").join("");
      let html = "<h3>convolution element by element</h3>" +
        '<p class="note">X (' + cv.N + ", " + cv.C + ", " + cv.H + ", " + cv.W + ") ⋆ W (" + cv.F + ", " + cv.Wc + ", " + cv.KH + ", " +
        cv.KW + "), stride " + cv.stride.join("×") + ", padding " + cv.padding.join("/") + (cv.dilation[0] > 1 || cv.dilation[1] > 1
          ? ", dilation " + cv.dilation.join("×") : "") + ". Showing one slice: sample n, in-channel c, out-channel f" +
        (cv.N * cv.C * cv.F > 1 ? " (the first one unless you pick another)" : "") + ". Of a bigger convolution, O[n, f] also sums the other" +
        " in-channels and b; ∂L/∂W[f, c] also sums the other samples; ∂L/∂X[n, c] also sums the other out-channels." +
        (cv.n < cv.N || cv.c < cv.C || cv.f < cv.F ? " (The page carries the first " + cv.n + " samples, " + cv.c + " in-channels and " + cv.f + " out-channels.)" : "") + "</p>" +
        '<label>n <select data-pick="n">' + opts(cv.n, n) + '</select></label> <label>c <select data-pick="c">' + opts(cv.c, c) +
        '</select></label> <label>f <select data-pick="f">' + opts(cv.f, f) + "</select></label>";
      if (!s) { box.innerHTML = html + "<p>This out-channel does not read this in-channel (grouped convolution).</p>"; bindPicks(); return; }
      const bias = cv.b && cv.C === 1 ? cv.b[f] : null;
      html += "<h3>forward: each output as a sum of input × weight terms</h3>";
      s.out.forEach(o => {
        const syms = o.terms.map(t => sym("x", t.r, t.q) + "·" + sym("w", t.u, t.v)), nums = o.terms.map(t => factor(X(n, c, t.r, t.q)) + "·" + factor(Wt(f, s.wc, t.u, t.v)));
        let total = o.terms.reduce((a, t) => a + X(n, c, t.r, t.q) * Wt(f, s.wc, t.u, t.v), 0);
        if (bias !== null) { syms.push("b"); nums.push(factor(bias)); total += bias; }
        html += sumLine(sym("o", o.i, o.j), syms, nums, total);
      });
      html += "<h3>backward, from G = ∂L/∂O</h3>";
      const gsum = []; let gb = 0;
      for (let i = 0; i < cv.OH; i++) for (let j = 0; j < cv.OW; j++) { gsum.push(factor(G(n, f, i, j))); gb += G(n, f, i, j); }
      html += '<div class="conv-sum" data-lhs="∂L/∂b">∂L/∂b = Σ g_ij = ' + esc(gsum.join(" + ")) + ' = <span class="num conv-total">' + esc(fmt(gb)) + "</span></div>";
      html += "<h3>∂L/∂W: each weight collects upstream × input from every position it visited</h3>";
      for (let u = 0; u < cv.KH; u++) for (let v = 0; v < cv.KW; v++) {
        const t = s.dW.get(u + "," + v) || [];
        html += sumLine("∂L/∂" + sym("w", u, v), t.map(e => sym("g", e.i, e.j) + "·" + sym("x", e.r, e.q)),
          t.map(e => factor(G(n, f, e.i, e.j)) + "·" + factor(X(n, c, e.r, e.q))), t.reduce((a, e) => a + G(n, f, e.i, e.j) * X(n, c, e.r, e.q), 0));
      }
      html += "<h3>∂L/∂X: each input collects upstream × weight from every output it fed</h3>";
      for (let r = 0; r < cv.H; r++) for (let q = 0; q < cv.W; q++) {
        const t = s.dX.get(r + "," + q) || [];
        html += sumLine("∂L/∂" + sym("x", r, q), t.map(e => sym("g", e.i, e.j) + "·" + sym("w", e.u, e.v)),
          t.map(e => factor(G(n, f, e.i, e.j)) + "·" + factor(Wt(f, s.wc, e.u, e.v))), t.reduce((a, e) => a + G(n, f, e.i, e.j) * Wt(f, s.wc, e.u, e.v), 0));
      }
      if (cv.text && n === 0 && c === 0 && f === 0) html += "<h3>as <code>chainrule explain --conv</code> prints it</h3><pre class=\"conv-text\">" + esc(cv.text) + "</pre>";
      box.innerHTML = html;
      bindPicks();
    }
    function bindPicks() {
      box.querySelectorAll("select[data-pick]").forEach(sel => sel.addEventListener("change", () => {
        pick[sel.dataset.pick] = Number(sel.value); render();
      }));
    }
    render();
  }

  // ----- the module list -----------------------------------------------------------------------------------------

  function renderGroups() {
    const box = document.getElementById("groups");
    const paths = Object.keys(GROUPS).filter(realGroup);
    if (!paths.length) { box.innerHTML = ""; return; }
    const item = p => '<li><button class="link" data-toggle="' + esc(p) + '">' + (collapsed.has(p) ? "▸ " : "▾ ") + esc(p) + "</button> " +
      '<span class="note">' + esc(GROUPS[p].type) + "</span>" + list(p) + "</li>";
    const list = parent => {
      const kids = paths.filter(p => (GROUPS[p].parent || null) === parent);
      return kids.length ? "<ul>" + kids.map(item).join("") + "</ul>" : "";
    };
    box.innerHTML = '<h3>modules</h3><button id="expand-all">expand all</button> <button id="collapse-all">collapse all</button>' + list(null);
    box.querySelectorAll("[data-toggle]").forEach(el => el.addEventListener("click", () => toggle(el.dataset.toggle)));
    document.getElementById("expand-all").addEventListener("click", () => { collapsed.clear(); redraw(); });
    document.getElementById("collapse-all").addEventListener("click", () => { paths.forEach(p => collapsed.add(p)); redraw(); });
  }
  function toggle(p) { if (collapsed.has(p)) collapsed.delete(p); else collapsed.add(p); redraw(); }
  function redraw() {
    draw(); go(current);
    if (selected !== null) mark(unitOfId(selected), "selected");
  }

  // ----- input ---------------------------------------------------------------------------------------------------

  svg.addEventListener("click", e => {
    const g = e.target.closest("g.unit");
    if (!g) return;
    const u = units[Number(g.dataset.u)];
    if (u.kind === "g") toggle(u.path); // a module box expands
    else showNode(u.node);
  });
  document.addEventListener("keydown", e => {
    const tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return; // the slider and pickers handle their keys
    if (e.key === "ArrowRight") { go(current + 1); e.preventDefault(); }
    else if (e.key === "ArrowLeft") { go(current - 1); e.preventDefault(); }
    else if (e.key === "Home") { go(0); e.preventDefault(); }
    else if (e.key === "End") { go(TOTAL); e.preventDefault(); }
  });
  slider.addEventListener("input", () => go(Number(slider.value)));
  document.getElementById("next").addEventListener("click", () => go(current + 1));
  document.getElementById("prev").addEventListener("click", () => go(current - 1));
  document.getElementById("first").addEventListener("click", () => go(0));
  document.getElementById("last").addEventListener("click", () => go(TOTAL));

  document.getElementById("title").textContent = DATA.title + " — " + OUT + " = " + short(DATA.outputValue);
  draw();
  go(0);
  // when the page became usable: read by the tests, shown to nobody
  window.chainruleReady = performance.now();
  document.body.dataset.ready = "1";
})();
