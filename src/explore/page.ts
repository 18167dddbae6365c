/**
 * The explorer's page: one self-contained HTML file (inline CSS and script, the run's data inline as JSON;
 * nothing fetched, no fonts) that steps through a recorded run. At each step: every thread's column of the
 * interleaving with the line it is on, the address space drawn to scale (each page a column, holes between
 * mappings shown as one labelled gap, as procmap draws /proc/PID/maps) with the VMA records above their
 * pages and the PTEs below them, the locks with who holds and waits for each (mmap_lock, PTE locks, VMA
 * locks), RCU's and SRCU's readers by thread and what waits for a grace period, the frames; and the
 * violation where it happened.
 */
import { esc } from '../report/html.js';
import { stepControls, stepPage, writeStepPage } from './draw.js';
import type { ExploreRun } from './explore.js';

/** Writes DIR/index.html (DIR made and checked writable first); returns its path. */
export function writeExplorePage(run: ExploreRun, dir: string): string {
  return writeStepPage(dir, renderExplorePage(run));
}

export function renderExplorePage(run: ExploreRun): string {
  const v = run.violation;
  const body = `<header>
<h1>${esc(run.design)} <span class="dim">/</span> ${esc(run.scenario)}</h1>
<p class="dim">${esc(run.summary)} — ${esc(run.description)}</p>
<p>Schedule: ${esc(run.origin)}. Replay: <code>${esc(run.checkCommand)}</code></p>
${run.programText !== undefined ? `<pre class="program">${esc(run.programText)}</pre>` : ''}
${v ? `<p class="verdict bad">VIOLATION: ${esc(v.message)} <span class="dim">(${esc(v.where)})</span></p>` : '<p class="verdict ok">No violation in this schedule.</p>'}
</header>
${stepControls(run.steps.length - 1, 'run', v ? '<button id="to-violation" title="the violation (v)">⚠ violation</button>' : '')}
<p id="now" class="now"></p>
<div id="violation" class="violation" role="alert" hidden></div>
<main>
<section id="threads-panel"><h2>Threads <span class="dim">(the interleaving, in the checker's words)</span></h2>
<div id="trace-scroll"><table id="trace"><colgroup><col class="n">${'<col>'.repeat(run.threads)}</colgroup><thead><tr><th>step</th>${Array.from({ length: run.threads }, (_, t) => `<th>T${t} <span class="sched" id="sched-${t}"></span></th>`).join('')}</tr></thead><tbody id="trace-body"></tbody></table></div>
</section>
<section id="state-panel">
<h2>Address space <span class="dim">(pages to scale; holes folded)</span></h2>
<div id="aspace-scroll"><div id="aspace"></div></div>
<p class="dim legend">VMA records above their pages (lane 1: in the tree; below: detached or not yet inserted), PTEs below: pfn, RW/RO, the first byte of the frame. <span class="key changed">changed since the start</span> <span class="key touched">changed at this step</span> <span class="key bad">the violation's PTE</span> <b>ptl</b>: its PTE lock held.</p>
<h2>Maple tree <span class="dim">(its nodes as they stand in the arena: a leaf's slots hold VMA records, an internal node's its children)</span></h2>
<div id="tree"></div>
<div class="cols">
<div><h2>Locks</h2><div id="locks"></div></div>
<div><h2>RCU and SRCU <span class="dim">(readers by thread; what waits for a grace period)</span></h2><div id="rcu"></div></div>
<div><h2>Frames</h2><div id="frames"></div></div>
</div>
</section>
</main>
<footer class="dim">The state at a step is the address space as the scheduler hands over there: the thread named has run up to that
yield point (an Atomics operation, a cpu_relax(), a schedPoint), whose operation has not run yet. Keys: ← → step, shift+← → to the previous
or next change of state, Home/End, v the violation. Drawn from what the scheduler recorded while it replayed this schedule
(${run.steps.length} steps, ${run.states.length} distinct states).</footer>`;
  return stepPage({ title: `mmsplit explore — ${run.design} / ${run.scenario}`, css: CSS, body, data: run, script: SCRIPT });
}

const CSS = `
#trace{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
pre.program{background:#f6f6f6;padding:6px;margin:4px 0}
#to-violation{color:#b00020}
.violation{border:2px solid #b00020;background:#fde8ec;padding:6px 8px;margin:6px 0;font-weight:600}
.violation.past{border-style:dashed;background:#fff;font-weight:normal}
main{display:grid;grid-template-columns:minmax(420px,1fr) minmax(480px,1.3fr);gap:16px}
#trace-scroll{height:70vh;overflow:auto;border:1px solid #ddd}
#trace{border-collapse:collapse;width:100%;table-layout:fixed}
#trace col.n{width:48px}
#trace th{position:sticky;top:0;background:#f3f3f3;text-align:left;padding:2px 6px;border-bottom:1px solid #ccc}
#trace td{padding:0 6px;vertical-align:top;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#trace td.n{color:#999;text-align:right}
#trace td .c{color:#999}
#trace tr.note td.w{color:#0b5394}
#trace td.pos{background:#e8f0fe;outline:1px solid #9bb8f0;outline-offset:-1px}
#trace td.cur{background:#ffe08a;outline:2px solid #d4a000;outline-offset:-2px}
#trace td.bad{color:#b00020;font-weight:600}
.sched{font-weight:normal;color:#555;font-size:11px}
.vma.hold{box-shadow:0 0 0 3px #b00020}
.col{position:absolute;box-sizing:border-box;text-align:center;font-size:11px;color:#666}
.pte{position:absolute;box-sizing:border-box;height:52px;border:1px solid #bbb;border-radius:2px;background:#fff;text-align:center;font-size:11px;padding-top:2px}
.pte.none{border-style:dotted;color:#bbb}
.pte.w{background:#e3f5e6}.pte.ro{background:#eef}
.pte.touched{box-shadow:0 0 0 3px #f0a500}
.pte.bad{background:#fde8ec;border:2px solid #b00020;box-shadow:0 0 0 3px #b00020}
.pte.ptl::after{content:"ptl";position:absolute;right:2px;top:0;color:#b00020;font-weight:700;font-size:9px}
.mrow{display:flex;gap:8px;margin:4px 0;flex-wrap:wrap}.mnode{border:1px solid #3a6ea5;border-radius:3px;padding:2px 4px;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:11px;background:#f5f8fc}
.mnode.touched{box-shadow:0 0 0 3px #f0a500}.slot{display:inline-block;border:1px solid #ccd;margin:1px;padding:0 3px;background:#fff}.slot.null{color:#aaa}
.cols{display:grid;grid-template-columns:1fr 1fr 1fr;gap:12px}
.kv{margin:0;padding:0;list-style:none}.kv li{margin:1px 0}
.held{color:#b00020;font-weight:600}.free{color:#1b7f3b}.waiting{color:#8a5a00}.tid{font-weight:700}
.key.bad{background:#fde8ec;border:1px solid #b00020}
`;

// The page's script, after draw.ts's helpers: plain ES5-style code in a string (no template literals or ${…} in it).
const SCRIPT = String.raw`
  var N = D.steps.length, T = D.threads;
  var PW = 84, GW = 64, LANE = 62, PTE_H = 52;
  var V = D.violation;

  // The interleaving: one row per trace line, the line in its thread's column.
  var byThread = [];
  for (var t = 0; t < T; t++) byThread.push([]);
  var html = [];
  D.trace.forEach(function (e, i) {
    byThread[e.thread].push(i);
    var k = e.what.indexOf('  (');
    var w = k < 0 ? h(e.what) : h(e.what.slice(0, k)) + ' <span class="c">' + h(e.what.slice(k + 2)) + '</span>';
    var cells = '';
    for (var c = 0; c < T; c++) cells += c === e.thread ? '<td title="' + h(e.what) + '" class="w' + (e.what.charAt(0) === '✗' ? ' bad' : '') + '">' + w + '</td>' : '<td></td>';
    html.push('<tr class="' + (e.point ? 'pt' : 'note') + '"><td class="n">' + e.step + '</td>' + cells + '</tr>');
  });
  var body = document.getElementById('trace-body');
  body.innerHTML = html.join('');
  var rows = body.children;
  // Where thread t stands at step s: its last line before the point s (the point itself if it is its own).
  function position(t, s) {
    var list = byThread[t], lo = 0, hi = list.length - 1, best = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1, e = D.trace[list[mid]];
      if (e.step < s || (e.step === s && e.point)) { best = list[mid]; lo = mid + 1; } else hi = mid - 1;
    }
    return best;
  }

  // The address axis: every page any VMA or PTE of the run covers, in order; holes folded into one gap each.
  var pages = {};
  D.states.forEach(function (st) {
    st.vmas.forEach(function (v) { for (var a = v.start, n = 0; a < v.end && n < 256; a += PAGE, n++) pages[a] = 1; });
    st.ptes.forEach(function (p) { pages[p.addr] = 1; });
  });
  var axis = foldAxis(Object.keys(pages).map(function (a) { return [Number(a), Number(a) + PAGE]; }), function () { return PW; }, GW);
  var cols = axis.parts, WIDTH = axis.width;
  var first = D.states[D.steps.length ? D.steps[0].state : 0];
  function recKey(v) { return v.start + '-' + v.end + '-' + v.flags; }
  var firstRec = {};
  if (first) first.vmas.forEach(function (v) { firstRec[v.rec] = recKey(v); });
  function xOf(a) { return pages[a] ? axis.x(a) : null; }
  function words(v) { return Object.keys(v.words).map(function (k) { return k + '=' + v.words[k]; }).join(' '); }

  function drawSpace(st, prev, i) {
    // VMAs in the tree share lane 0 (they never overlap); records out of it (detached, not yet inserted) below.
    var lanes = [[]], out = [];
    st.vmas.forEach(function (v) {
      var live = !v.detached && v.inTree !== false;
      var lane = laneFor(lanes, v.start, v.end, live);
      var prevV = prev && prev.vmas.filter(function (o) { return o.rec === v.rec; })[0];
      var cls = 'vma' + (live ? '' : ' detached') + (firstRec[v.rec] !== recKey(v) ? ' changed' : '') + (prev && JSON.stringify(prevV) !== JSON.stringify(v) ? ' touched' : '');
      var x0 = xOf(v.start), lastPage = v.end - PAGE, x1 = xOf(lastPage);
      if (x0 === null) return;
      if (x1 === null) x1 = x0;
      out.push(vmaBox(cls, 'data-rec="' + v.rec + '" data-perms="' + h(v.perms) + '" data-start="' + hex(v.start) + '" data-end="' + hex(v.end) + '"', x0, x1 + PW - x0 - 2, 18 + lane * LANE, v.line,
        '<span class="perms">' + h(v.perms) + '</span> #' + v.rec + (live ? '' : v.detached ? ' detached' : ' not in tree') + '<br>' + hex(v.start) + '–' + hex(v.end) + '<br>' + h(words(v))));
    });
    var top = 18 + lanes.length * LANE + 6;
    var live = st.vmas.filter(function (v) { return !v.detached && v.inTree !== false; });
    cols.forEach(function (c) {
      if (c.gap) {
        out.push(gapBox(c.x, GW, top + PTE_H, c.to - c.from));
        return;
      }
      out.push('<div class="col" style="left:' + c.x + 'px;top:0;width:' + PW + 'px">' + hex(c.from) + '</div>');
      var p = st.ptes.filter(function (q) { return q.addr === c.from; })[0];
      if (!p) { out.push('<div class="pte none" style="left:' + (c.x + 2) + 'px;top:' + top + 'px;width:' + (PW - 4) + 'px">no PTE</div>'); return; }
      var pp = prev && prev.ptes.filter(function (q) { return q.addr === c.from; })[0];
      var owner = live.filter(function (v) { return v.start <= c.from && c.from < v.end; })[0];
      var fr = st.frames.filter(function (f) { return f.pfn === p.pfn; })[0];
      var bad = V && V.addr === c.from && i >= V.at;
      var cls = 'pte ' + (p.writable ? 'w' : 'ro') + (p.ptl ? ' ptl' : '') + (prev && JSON.stringify(pp) !== JSON.stringify(p) ? ' touched' : '') + (bad ? ' bad' : '');
      out.push('<div class="' + cls + '" data-addr="' + hex(c.from) + '" data-pfn="' + p.pfn + '" data-writable="' + p.writable + '" data-vma="' + (owner ? owner.rec : '') + '" style="left:' + (c.x + 2) + 'px;top:' + top + 'px;width:' + (PW - 4) + 'px" title="PTE for ' + hex(c.from) + (owner ? ' in VMA #' + owner.rec : ' outside every VMA') + '">' +
        'pfn ' + p.pfn + '<br>' + (p.present ? (p.writable ? 'RW' : 'RO') : 'PROT_NONE') + (p.dirty ? ' D' : '') + '<br>' + (fr ? 'byte ' + hex(fr.byte0) : '') + '</div>');
    });
    var el = document.getElementById('aspace');
    el.style.width = WIDTH + 'px';
    el.style.height = (top + PTE_H + 4) + 'px';
    el.innerHTML = out.join('');
  }

  function li(k, v) { return '<li><b>' + k + '</b> ' + v + '</li>'; }
  // Threads by name, those the scheduler has asleep on the word marked.
  function names(list, asleep) { return list.map(function (t) { return '<span class="tid" data-tid="' + t + '">T' + t + (asleep && asleep.indexOf(t) >= 0 ? ' (asleep)' : '') + '</span>'; }).join(', '); }
  // Who holds and waits for a lock other than the mmap_lock, as the recorder followed its word.
  function owners(o, kind) {
    var p = [];
    if (o.writer.length) p.push('<span class="held">' + (kind === 'ptl' ? 'held by ' : kind === 'seq' ? 'write section open by ' : kind === 'seqlock' ? 'write-locked by ' : 'held for write by ') + names(o.writer, o.asleep) + '</span>');
    if (o.readers.length) p.push('<span class="held">' + (kind === 'ref' ? 'referenced by ' : 'read by ') + names(o.readers, o.asleep) + '</span>');
    if (o.writersWaiting.length) p.push('<span class="waiting">' + (kind === 'ref' ? 'writer excluding readers, waiting: ' : 'waiting: ') + names(o.writersWaiting, o.asleep) + '</span>');
    if (o.readersWaiting.length) p.push('<span class="waiting">readers waiting: ' + names(o.readersWaiting, o.asleep) + '</span>');
    return p.length ? p.join(', ') : '<span class="free">free</span>';
  }
  var VMA_LOCKS = { vmLock: ['vm_lock', 'rw'], vmRefcnt: ['vm_refcnt', 'ref'], vmRefcount: ['vm_refcount', 'ref'], vmSequence: ['vm_sequence', 'seq'], vmLockSeq: ['vm_lock_seq', 'seqlock'] };
  function drawLocks(st, s) {
    var m = st.mmapLock, l = [], w = m.who;
    // Thread names where the recorder could follow them (as many as the word counts), else the count alone.
    function by(list, n) { return w && list.length === n ? ': ' + names(list, w.asleep) : ''; }
    var held = m.writer ? '<span class="held" id="mmap-lock-holders">held for write' + (w ? by(w.writer, 1).replace(': ', ' by ') : '') + '</span>' : m.readers ? '<span class="held" id="mmap-lock-holders">held by ' + m.readers + ' reader' + (m.readers > 1 ? 's' : '') + (w ? by(w.readers, m.readers) : '') + '</span>' : '<span class="free">free</span>';
    l.push(li('mmap_lock', held + (m.writersWaiting ? ', <span class="waiting">' + m.writersWaiting + ' writer(s) waiting' + (w ? by(w.writersWaiting, m.writersWaiting) : '') + '</span>' : '') + (m.readersWaiting ? ', <span class="waiting">' + m.readersWaiting + ' reader(s) waiting' + (w ? by(w.readersWaiting, m.readersWaiting) : '') + '</span>' : '') + ' <span class="dim">(word ' + hex(m.word >>> 0) + ')</span>'));
    Object.keys(st.mmWords).forEach(function (k) { l.push(li(k, st.mmWords[k])); });
    st.ptls.forEach(function (p) {
      l.push('<li class="ptl-lock" data-base="' + hex(p.base) + '" data-word="' + p.word + '"><b>PTE lock</b> of the table at ' + hex(p.base) + ': ' + (p.who ? owners(p.who, 'ptl') : p.word ? '<span class="held">held</span>' : '<span class="free">free</span>') + ' <span class="dim">(word ' + p.word + ')</span></li>');
    });
    if (!st.ptls.length) l.push(li('PTE locks', '<span class="dim">no PTE table yet</span>'));
    st.vmas.forEach(function (v) {
      var locks = v.locks || {}, parts = [];
      Object.keys(VMA_LOCKS).forEach(function (k) {
        if (!(k in v.words)) return;
        var o = locks[k];
        if (k === 'vmLockSeq') { if (o) parts.push('<span class="vma-lock" data-lock="' + k + '">' + owners(o, 'seqlock') + '</span>'); return; }
        parts.push('<span class="vma-lock" data-lock="' + k + '">' + VMA_LOCKS[k][0] + ' ' + (o ? owners(o, VMA_LOCKS[k][1]) : '') + '</span>');
      });
      l.push('<li data-rec="' + v.rec + '"><b>VMA #' + v.rec + '</b> ' + (parts.length ? parts.join('; ') + ' ' : '') + '<span class="dim">' + (h(words(v)) || '—') + '</span></li>');
    });
    D.steps[s].sched.forEach(function (state, t) { document.getElementById('sched-' + t).textContent = state; });
    document.getElementById('locks').innerHTML = '<ul class="kv">' + l.join('') + '</ul>';
    var r = st.rcu, q = st.srcu, rl = [];
    function slotName(kind, k, threads) { var t = threads ? threads[k] : -1; return kind + ' slot ' + k + (t >= 0 ? ' <span class="tid" data-tid="' + t + '">T' + t + '</span>' : kind === 'RCU' && k === 0 ? ' (controller)' : ''); }
    rl.push(li('RCU grace period', r.gp + (r.waiters ? ', ' + r.waiters + ' synchronizer(s) asleep' : '')));
    r.slots.forEach(function (c, k) {
      rl.push('<li class="rcu-slot" data-slot="' + k + '"><b>' + slotName('RCU', k, r.threads) + '</b> ' + (c === 0 ? 'offline' : c === r.gp ? 'online, quiescent since ' + c : '<span class="held">online, last quiescent at ' + c + ': may be in a read section, holds up grace period ' + r.gp + '</span>') + '</li>');
    });
    rl.push(li('SRCU', 'idx ' + q.idx + ', grace period ' + q.gp + ' ' + ['idle', 'scanning the inactive index', 'flipped, scanning the old index'][q.gpState] + ', ' + (q.readers ? '<span class="held">' + q.readers + ' reader(s) inside</span>' : 'no readers')));
    q.slots.forEach(function (n, k) {
      rl.push('<li class="srcu-slot" data-slot="' + k + '"><b>' + slotName('SRCU', k, q.threads) + '</b> ' + (n ? '<span class="held">inside ' + n + ' read section' + (n > 1 ? 's' : '') + '</span>' : 'outside') + '</li>');
    });
    // What waits for a grace period: the shared deferred-free ring, the tree's replaced nodes, the detached VMAs.
    var P = st.pending, d = P.deferred;
    rl.push('<li id="pending-deferred" data-frames="' + d.frames + '" data-tables="' + d.tables + '"><b>deferred frees</b> ' + (d.count ? '<span class="waiting">' + d.frames + ' page(s), ' + d.tables + ' page table(s) waiting for grace period' + (d.oldestCookie !== d.newestCookie ? 's ' + d.oldestCookie + '–' + d.newestCookie : ' ' + d.oldestCookie) + '</span>' : 'none') + (d.locked ? ' <span class="dim">(ring locked: a push or a drain under way)</span>' : '') + '</li>');
    rl.push('<li id="pending-maple" data-count="' + P.mapleNodes.length + '"><b>maple nodes replaced</b> ' + (P.mapleNodes.length ? '<span class="waiting">' + P.mapleNodes.length + ' waiting for a grace period (' + P.mapleNodes.join(', ') + ')</span>' : 'none') + '</li>');
    rl.push('<li id="pending-vmas" data-count="' + P.vmas.length + '"><b>VMA frees</b> ' + (P.vmas.length ? '<span class="waiting">' + P.vmas.map(function (v) { return '#' + v; }).join(', ') + ' detached, waiting for their deferred free</span>' : 'none') + '</li>');
    document.getElementById('rcu').innerHTML = '<ul class="kv">' + rl.join('') + '</ul>';
    var fl = [li('frames in use', st.framesInUse), li('page-table pages', st.tables)];
    st.frames.forEach(function (f) { fl.push(li('pfn ' + f.pfn, (f.anon ? 'anon' : 'file') + ', refcount ' + f.refcount + ', byte 0 = ' + hex(f.byte0))); });
    document.getElementById('frames').innerHTML = '<ul class="kv">' + fl.join('') + '</ul>';
  }

  // The maple tree: a row per depth, a box per node with its slots (the range each covers, what it holds).
  function drawTree(st, prev) {
    var el = document.getElementById('tree');
    if (!st.tree) { el.innerHTML = '<p class="dim">Not read at this step: ' + (st.mmapLock.writer ? 'the mmap_lock is held for write and this design’s tree is not in RCU mode, so a writer may be changing its nodes in place.' : 'this design keeps its VMAs in an rbtree.') + '</p>'; return; }
    var was = {};
    if (prev && prev.tree) prev.tree.forEach(function (n) { was[n.node] = JSON.stringify(n); });
    var rows = [];
    st.tree.forEach(function (n) {
      if (!rows[n.depth]) rows[n.depth] = [];
      var a = n.min, leaf = n.type === 'leaf_64';
      var cells = n.slots.map(function (x) {
        var c = '<span class="slot' + (leaf && x.to === 0 ? ' null' : '') + '" title="[' + hex(a) + ', ' + hex(x.last) + ']' + (x.gap !== undefined ? ', largest gap below ' + size(x.gap * 1) : '') + '">' + (x.last >= 9007199254740991 ? '…max' : '≤' + hex(x.last)) + ' ' + (leaf ? (x.to === 0 ? '∅' : '#' + x.to) : '→ ' + x.to) + '</span>';
        a = x.last + 1;
        return c;
      }).join('');
      rows[n.depth].push('<div class="mnode' + (prev && prev.tree && was[n.node] !== JSON.stringify(n) ? ' touched' : '') + '" data-node="' + n.node + '" data-type="' + n.type + '"><b>' + n.type + ' ' + n.node + '</b><br>' + cells + '</div>');
    });
    el.innerHTML = rows.map(function (r) { return '<div class="mrow">' + r.join('') + '</div>'; }).join('');
  }

  var marked = [];
  var scroll = document.getElementById('trace-scroll');
  function draw(i) {
    var rec = D.steps[i], st = D.states[rec.state], prev = i > 0 ? D.states[D.steps[i - 1].state] : null;
    document.getElementById('step-label').textContent = rec.thread < 0 ? 'end of run (' + (i + 1) + ' / ' + N + ')' : 'step ' + rec.step + ' (' + (i + 1) + ' / ' + N + ')';
    marked.forEach(function (m) { m.className = m.className.replace(/ (cur|pos)\b/g, ''); });
    marked = [];
    var focus = null;
    for (var t = 0; t < T; t++) {
      var r = position(t, rec.thread < 0 ? Infinity : rec.step);
      if (r < 0) continue;
      var cell = rows[r].children[1 + t];
      cell.className += t === rec.thread ? ' cur' : ' pos';
      marked.push(cell);
      if (t === rec.thread) focus = rows[r];
    }
    if (rec.thread < 0) scroll.scrollTop = scroll.scrollHeight; // the end: the last lines
    else if (focus) scroll.scrollTop = focus.offsetTop - scroll.clientHeight / 2;
    var now = document.getElementById('now');
    if (rec.thread < 0) now.textContent = 'End of the run: every thread is done (or stopped at its failure). The invariants judge this state, then unmap the scenario\'s ranges and look for what is left over (the teardown).';
    else {
      var e = D.trace[position(rec.thread, rec.step)];
      var did = null, list = byThread[rec.thread];
      for (var k = list.length - 1; k >= 0; k--) { var d = D.trace[list[k]]; if (d.point && d.step < rec.step) { did = d; break; } }
      now.textContent = 'T' + rec.thread + (did ? ' did ' + did.what.split('  (')[0] + ' (step ' + did.step + ') and ran on to this point; next:' : ' starts; next:') + ' ' + (e ? e.what : '?');
    }
    drawSpace(st, prev, i);
    drawTree(st, prev);
    drawLocks(st, i);
    var box = document.getElementById('violation');
    if (V) {
      box.hidden = false;
      box.className = 'violation' + (i === V.at ? ' active' : ' past');
      box.textContent = (i === V.at ? '✗ Here: ' : i < V.at ? 'Ahead, at step ' + D.steps[V.at].step + ' (press v): ' : 'Happened at step ' + D.steps[V.at].step + ' (press v): ') + V.message + ' — ' + V.where;
    }
  }
  function change(dir) {
    var s = D.steps[S.cur].state;
    for (var i = S.cur + dir; i >= 0 && i < N; i += dir) if (D.steps[i].state !== s) return S.go(i);
    S.go(dir > 0 ? N - 1 : 0);
  }
  var S = stepper(N, draw, change, V ? { v: function () { S.go(V.at); }, V: function () { S.go(V.at); } } : {});
  var tv = document.getElementById('to-violation');
  if (tv) tv.onclick = function () { S.go(V.at); };
  S.go(0);
`;
