/**
 * `mmsplit replay --html`'s page: the address space of a replayed strace log over time, one step per call
 * replayed — the trace line, our result against the kernel's, the layout after it drawn to scale with its
 * holes folded (draw.ts, as the explorer draws it) and as /proc/PID/maps prints it, what the call changed
 * marked (appeared, split, merged, grown, shrunk, changed, moved, removed), and at the end whether the
 * layout is the AFTER snapshot. Self-contained as the explorer's page: opens from disk, fetches nothing.
 */
import { esc } from '../report/html.js';
import type { ReplayTimeline } from '../trace/timeline.js';
import { stepControls, stepPage, writeStepPage } from './draw.js';

/** Writes DIR/index.html (DIR made and checked writable first); returns its path. */
export function writeReplayPage(t: ReplayTimeline, dir: string): string {
  return writeStepPage(dir, renderReplayPage(t));
}

export function renderReplayPage(t: ReplayTimeline): string {
  const replayed = t.steps.length;
  const verdict = t.layoutMatches === null
    ? '<p class="verdict dim">No AFTER snapshot given (--expect): the final layout is not compared.</p>'
    : t.layoutMatches
      ? `<p class="verdict ok">The final layout matches /proc/PID/maps (${esc(t.expect ?? '')}), dev and inode aside.</p>`
      : `<p class="verdict bad">The final layout differs from /proc/PID/maps (${esc(t.expect ?? '')}):</p><pre class="diff">${esc(t.layoutDiff.join('\n'))}</pre>`;
  const calls = `${t.calls} calls: ${replayed} replayed, ${t.matched} with the kernel's result` +
    (t.divergences ? `, <span class="bad">${t.divergences} diverged</span>` : '') + (t.skipped ? `, ${t.skipped} skipped (result unknown or not modelled)` : '');
  const body = `<header>
<h1>mmsplit replay <span class="dim">—</span> ${esc(t.trace)}</h1>
<p>From <code>${esc(t.maps)}</code>; ${calls}.</p>
${t.divergences ? '<p class="verdict bad">Some results differ from the kernel\'s (d: the first).</p>' : `<p class="verdict ok">Every replayed call returned what the kernel returned.</p>`}
${verdict}
</header>
${stepControls(replayed, 'replayed calls', t.divergences ? '<button id="to-divergence" title="the first divergence (d)">✗ divergence</button>' : '')}
<div id="call" class="call"><p id="call-line" class="now"></p><p id="call-result" class="now"></p><p id="call-changes" class="now"></p></div>
<h2>Address space <span class="dim">(each mapping as wide as the log of its size; the holes between them folded)</span> <span id="vma-count" class="dim"></span></h2>
<div id="aspace-scroll"><div id="aspace"></div></div>
<p class="dim legend">Lane 1: the mappings after the call; below, dashed: those it removed. <span class="key appeared">appeared</span><span class="key split">split</span><span class="key merged">merged / grown</span><span class="key shrunk">shrunk</span><span class="key changed">changed in place</span><span class="key moved">moved</span><span class="key removed">removed</span> <span class="key touched">changed by this call</span></p>
<h2>/proc/PID/maps <span class="dim">(after the call; removed lines struck through)</span></h2>
<div id="maps-scroll"><table id="maps"><tbody id="maps-body"></tbody></table></div>
<p id="final" class="verdict" hidden></p>
<footer class="dim">Step 0 is the layout before the first call (${esc(t.maps)} as the replay loaded it); step k the layout after the k-th call replayed.
Keys: ← → step, shift+← → to the previous or next call that changed the layout, Home/End${t.divergences ? ', d the first divergence' : ''}.</footer>`;
  return stepPage({ title: `mmsplit replay — ${t.trace}`, css: CSS, body, data: t, script: SCRIPT });
}

const CSS = `
.call{border:1px solid #ddd;background:#fafafa;padding:2px 8px;margin:6px 0}.call .now{margin:3px 0;white-space:pre-wrap;word-break:break-all}
.bad,.ko{color:#b00020;font-weight:600}.ok{color:#1b7f3b}
pre.diff{background:#fde8ec;padding:6px;margin:4px 0;max-height:12em;overflow:auto}
#aspace .vma{height:50px;font-size:11px;padding:1px 3px}
.vma.appeared,.key.appeared{background:#d9f2dd}.vma.split,.key.split{background:#fff0c2}.vma.merged,.vma.grown,.key.merged{background:#e3d9f5}
.vma.shrunk,.key.shrunk{background:#fbe3cf}.vma.changed,.key.changed{background:#fff4d6}.vma.moved,.key.moved{background:#d6eef8}
.vma.removed,.key.removed{background:#fde8ec;border-style:dashed;border-color:#b00020;color:#b00020}.vma.detached.moved{border-color:#0b6e99}
#maps-scroll{max-height:45vh;overflow:auto;border:1px solid #ddd}
#maps{border-collapse:collapse;font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;white-space:pre}
#maps td{padding:0 6px}#maps td.k{color:#555;font-family:system-ui,sans-serif;font-size:11px}
#maps tr.gone td.l{text-decoration:line-through;color:#b00020}
#maps tr.appeared{background:#d9f2dd}#maps tr.split{background:#fff0c2}#maps tr.merged,#maps tr.grown{background:#e3d9f5}#maps tr.shrunk{background:#fbe3cf}#maps tr.changed{background:#fff4d6}#maps tr.moved{background:#d6eef8}
`;

// The page's script, after draw.ts's helpers: plain ES5-style code in a string (no template literals or ${…} in it).
const SCRIPT = String.raw`
  var N = D.steps.length, GW = 54, LANE = 56, CK = 64;
  // A mapping: [start, end, perms, offset, dev, inode, name], as maps prints it.
  function line(v) {
    var head = pad(v[0]) + '-' + pad(v[1]) + ' ' + v[2] + ' ' + pad(v[3]) + ' ' + v[4] + ' ' + v[5] + ' ';
    return v[6] ? head + ' '.repeat(Math.max(0, 72 - head.length)) + ' ' + v[6] : head;
  }
  function pad(n) { var s = n.toString(16); return s.length < 8 ? '00000000'.slice(s.length) + s : s; }
  function key(v) { return v[0] + '-' + v[1]; }
  // The layout after a call: the one before less what it removed, with what it added, in address order.
  function apply(list, s) {
    if (!s.del.length && !s.add.length) return list;
    var del = {};
    s.del.forEach(function (i) { del[i] = 1; });
    return list.filter(function (_, i) { return !del[i]; }).concat(s.add).sort(function (a, b) { return a[0] - b[0]; });
  }
  // Layouts every CK calls, made as they are first needed; the rest from the one before.
  var ck = [D.before], memo = {};
  function layout(k) {
    // Stepping asks for k and k - 1 over and over: the last two layouts are kept.
    if (memo[k]) return memo[k];
    var st = memo[k - 1] ? apply(memo[k - 1], D.steps[k - 1]) : build(k), keep = {};
    keep[k] = st;
    if (memo[k - 1]) keep[k - 1] = memo[k - 1];
    memo = keep;
    return st;
  }
  function build(k) {
    var c = Math.floor(k / CK);
    while (ck.length <= c) {
      var j = ck.length - 1, st = ck[j];
      for (var q = j * CK; q < (j + 1) * CK && q < N; q++) st = apply(st, D.steps[q]);
      ck.push(st);
    }
    var st2 = ck[c];
    for (var r = c * CK; r < k; r++) st2 = apply(st2, D.steps[r]);
    return st2;
  }

  // The axis: every mapping of every step on it, so that a mapping stays where it is while the calls go by.
  var ranges = D.before.map(function (v) { return [v[0], v[1]]; });
  D.steps.forEach(function (s) { s.add.forEach(function (v) { ranges.push([v[0], v[1]]); }); });
  var axis = foldAxis(ranges, function (from, to) { return Math.round(12 + 6 * Math.log2((to - from) / PAGE)); }, GW);

  function box(v, cls, lane) {
    var x0 = axis.x(v[0]), x1 = axis.x(v[1]);
    var name = v[6] ? v[6].slice(v[6].lastIndexOf('/') + 1) : '';
    return vmaBox(cls, 'data-start="' + hex(v[0]) + '" data-end="' + hex(v[1]) + '" data-perms="' + v[2] + '"', x0, Math.max(2, x1 - x0 - 1), 18 + lane * LANE, line(v) + '  (' + size(v[1] - v[0]) + ')',
      '<span class="perms">' + v[2] + '</span> ' + (v[4] !== '00:00' || v[3] ? hex(v[3]) : '') + '<br>' + h(name) + '<br>' + size(v[1] - v[0]));
  }
  function draw(k) {
    var st = layout(k), s = k > 0 ? D.steps[k - 1] : null, before = s ? layout(k - 1) : null;
    var kind = {}, out = [], lanes = [[]], first = null, rows = [];
    if (s) s.add.forEach(function (v, j) { kind[key(v)] = s.kinds[j]; });
    st.forEach(function (v) {
      var kd = kind[key(v)];
      laneFor(lanes, v[0], v[1], true);
      out.push(box(v, 'vma' + (kd ? ' ' + kd + ' touched' : ''), 0));
      if (kd && first === null) first = axis.x(v[0]);
    });
    var gone = {};
    if (s) s.del.forEach(function (i, j) {
      var v = before[i], g = s.gone[j];
      gone[key(v)] = g || 'replaced';
      out.push(box(v, 'vma detached ' + (g || 'replaced'), laneFor(lanes, v[0], v[1], false)));
      if (first === null) first = axis.x(v[0]);
    });
    var height = 18 + lanes.length * LANE;
    axis.parts.forEach(function (p) { if (p.gap) out.push(gapBox(p.x, GW, height, p.to - p.from)); });
    var el = document.getElementById('aspace');
    el.style.width = axis.width + 'px';
    el.style.height = height + 'px';
    el.innerHTML = out.join('');
    var sc = document.getElementById('aspace-scroll');
    if (first !== null) sc.scrollLeft = first - sc.clientWidth / 3;
    document.getElementById('vma-count').textContent = st.length + ' mappings' + (before ? ' (' + (st.length >= before.length ? '+' : '') + (st.length - before.length) + ')' : '');

    // The maps text: the lines after the call, with the removed ones where they were, struck through.
    var all = st.map(function (v) { return [v, kind[key(v)] || '']; });
    if (s) s.del.forEach(function (i) { all.push([before[i], 'gone']); });
    all.sort(function (a, b) { return a[0][0] - b[0][0] || (a[1] === 'gone' ? -1 : 1); });
    all.forEach(function (e) {
      var v = e[0], c = e[1], label = c === 'gone' ? gone[key(v)] : c;
      rows.push('<tr class="' + c + '" data-start="' + hex(v[0]) + '"><td class="k">' + label + '</td><td class="l">' + h(line(v)) + '</td></tr>');
    });
    document.getElementById('maps-body').innerHTML = rows.join('');
    var mark = document.querySelector('#maps tr:not([class=""])'), ms = document.getElementById('maps-scroll');
    if (mark) ms.scrollTop = mark.offsetTop - ms.clientHeight / 3;

    document.getElementById('step-label').textContent = k === 0 ? 'before the first call (0 / ' + N + ')' : 'call ' + k + ' / ' + N;
    var cl = document.getElementById('call-line'), cr = document.getElementById('call-result'), cc = document.getElementById('call-changes');
    if (!s) {
      cl.textContent = 'Before the first call: ' + D.maps + ', ' + st.length + ' mappings.';
      cr.textContent = '';
      cc.textContent = '';
    } else {
      cl.textContent = D.trace + ':' + s.line + '  ' + s.text;
      cr.innerHTML = s.matched ? '<span class="ok">✓ ours: ' + h(s.actual) + ', as the kernel\'s</span> <span class="dim">(' + h(s.call) + ')</span>'
        : '<span class="ko">✗ the kernel returned ' + h(s.expected) + ', ours ' + h(s.actual) + '</span> <span class="dim">(' + h(s.call) + ')</span>';
      var said = [];
      s.add.forEach(function (v, j) { said.push(s.kinds[j] + ' ' + hex(v[0]) + '–' + hex(v[1]) + ' ' + v[2]); });
      s.del.forEach(function (i, j) { if (s.gone[j]) said.push((s.gone[j] === 'moved' ? 'moved away from ' : 'removed ') + hex(before[i][0]) + '–' + hex(before[i][1])); });
      cc.textContent = said.length ? said.join('; ') : 'The layout did not change.';
    }
    var fin = document.getElementById('final');
    fin.hidden = k !== N || D.layoutMatches === null;
    if (fin.hidden) return;
    fin.className = 'verdict ' + (D.layoutMatches ? 'ok' : 'bad');
    fin.textContent = D.layoutMatches ? '✓ This layout matches /proc/PID/maps (' + D.expect + ').' : '✗ This layout differs from /proc/PID/maps (' + D.expect + '): ' + D.layoutDiff.length + ' lines.';
  }
  function changes(k) { return k > 0 && (D.steps[k - 1].add.length || D.steps[k - 1].del.length); }
  function change(dir) {
    for (var k = S.cur + dir; k >= 0 && k <= N; k += dir) if (changes(k)) return S.go(k);
    S.go(dir > 0 ? N : 0);
  }
  var firstBad = -1;
  D.steps.forEach(function (s, j) { if (firstBad < 0 && !s.matched) firstBad = j + 1; });
  function toBad() { if (firstBad > 0) S.go(firstBad); }
  var S = stepper(N + 1, draw, change, { d: toBad, D: toBad });
  var tb = document.getElementById('to-divergence');
  if (tb) tb.onclick = toBad;
  S.go(0);
`;
