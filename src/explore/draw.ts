/**
 * What the two stepping pages share — the explorer's (page.ts) and `replay --html`'s (replay-page.ts): the
 * page's frame (inline CSS, the data as inline JSON, inline script; nothing fetched, no fonts), the step
 * controls (buttons, slider, ← → Home End, shift for the previous or next change), and the drawing of an
 * address space to scale with its holes folded (as procmap draws /proc/PID/maps): the address axis, VMA
 * boxes, and the lanes that keep records out of the tree (detached, removed) below the live ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import { esc } from '../report/html.js';
import { prepareOutDir } from '../report/index.js';

/** Writes `html` as DIR/index.html (DIR made and checked writable first); returns its path. */
export function writeStepPage(dir: string, html: string): string {
  prepareOutDir(dir);
  const file = path.join(dir, 'index.html');
  fs.writeFileSync(file, html);
  return file;
}

/** A whole page: `script` runs inside one function after HELPERS, with the data in `D`. */
export function stepPage(p: { title: string; css: string; body: string; data: unknown; script: string }): string {
  // JSON inside <script>: a '<' could end the element early; \u003c reads back as the same string.
  const data = JSON.stringify(p.data).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(p.title)}</title>
<style>${BASE_CSS}${p.css}</style></head>
<body>
${p.body}
<script id="run-data" type="application/json">${data}</script>
<script>(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('run-data').textContent);
${HELPERS}${p.script}
})();</script>
</body></html>
`;
}

/** The step controls: |◀ ◀ ▶ ▶|, `extra` buttons, the slider over steps 0..max, the step's label. */
export function stepControls(max: number, what: string, extra = ''): string {
  return `<nav id="controls" aria-label="step through the ${what}">
<button id="first" title="first step (Home)">|◀</button><button id="prev" title="previous step (←; shift: previous change)">◀</button>
<button id="next" title="next step (→; shift: next change)">▶</button><button id="last" title="last step (End)">▶|</button>
${extra}<input id="slider" type="range" min="0" max="${Math.max(0, max)}" value="0" aria-label="step">
<span id="step-label"></span>
</nav>`;
}

const BASE_CSS = `
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 16px 16px;color:#222;background:#fff}
h1{font-size:20px;margin:12px 0 4px}h2{font-size:14px;margin:10px 0 4px}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
.dim{color:#777;font-weight:normal}
.verdict.bad{color:#b00020;font-weight:600}.verdict.ok{color:#1b7f3b;font-weight:600}
nav{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #ddd;z-index:2;display:flex;gap:6px;align-items:center}
nav button{font-size:14px;padding:2px 8px}#slider{flex:1}#step-label{min-width:150px;text-align:right;font-variant-numeric:tabular-nums}
.now{margin:6px 0;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
#aspace-scroll{overflow-x:auto;border:1px solid #ddd;padding:6px}
#aspace{position:relative;font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
.vma{position:absolute;box-sizing:border-box;border:2px solid #3a6ea5;background:#e6effa;border-radius:3px;padding:2px 4px;overflow:hidden;height:58px;white-space:nowrap}
.vma.detached{border-style:dashed;border-color:#888;background:#f2f2f2;color:#555}
.vma.changed{background:#fff4d6}
.vma.touched{box-shadow:0 0 0 3px #f0a500}
.vma .perms{font-weight:700}
.gap{position:absolute;box-sizing:border-box;border-left:1px dashed #aaa;border-right:1px dashed #aaa;color:#888;font-size:10px;text-align:center;overflow:hidden;background:repeating-linear-gradient(135deg,#fafafa 0 6px,#f0f0f0 6px 12px)}
.legend{margin:4px 0}.key{padding:0 4px;margin-right:6px;border-radius:2px}.key.changed{background:#fff4d6}.key.touched{box-shadow:0 0 0 2px #f0a500}
footer{margin-top:12px}
`;

// Plain ES5-style code in a string (no template literals or ${…} in it), run before each page's own.
const HELPERS = String.raw`
  var PAGE = 4096;
  function hex(n) { return '0x' + n.toString(16); }
  function h(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'); }
  function size(b) { return b >= 1073741824 ? (b / 1073741824).toFixed(b % 1073741824 ? 1 : 0) + ' GiB' : b >= 1048576 ? (b / 1048576).toFixed(b % 1048576 ? 1 : 0) + ' MiB' : (b / 1024) + ' KiB'; }

  // The address axis: every [start, end) of 'ranges' on it, in order; between two boundaries a part is
  // widthOf(from, to) px when some range covers it, else a hole folded into one gap of gapW px.
  function foldAxis(ranges, widthOf, gapW) {
    var delta = {};
    ranges.forEach(function (r) { delta[r[0]] = (delta[r[0]] || 0) + 1; delta[r[1]] = (delta[r[1]] || 0) - 1; });
    var pts = Object.keys(delta).map(Number).sort(function (a, b) { return a - b; });
    var at = {}, parts = [], x = 0, depth = 0;
    for (var i = 0; i + 1 < pts.length; i++) {
      depth += delta[pts[i]];
      var from = pts[i], to = pts[i + 1], gap = depth === 0, w = gap ? gapW : widthOf(from, to);
      at[from] = x;
      parts.push({ from: from, to: to, x: x, w: w, gap: gap });
      x += w;
    }
    if (pts.length) at[pts[pts.length - 1]] = x;
    return { parts: parts, width: x, x: function (a) { return at[a] !== undefined ? at[a] : null; } };
  }
  // The lane of a record: lane 0 for the tree's VMAs (they never overlap), the first free one below for the others.
  function laneFor(lanes, start, end, live) {
    var lane = 0;
    if (!live) {
      for (lane = 1; ; lane++) {
        if (!lanes[lane]) lanes[lane] = [];
        if (lanes[lane].every(function (o) { return o[1] <= start || o[0] >= end; })) break;
      }
    }
    lanes[lane].push([start, end]);
    return lane;
  }
  function vmaBox(cls, attrs, x0, width, top, title, inner) {
    return '<div class="' + cls + '" ' + attrs + ' title="' + h(title) + '" style="left:' + x0 + 'px;top:' + top + 'px;width:' + width + 'px">' + inner + '</div>';
  }
  function gapBox(x0, width, height, bytes) {
    return '<div class="gap" style="left:' + x0 + 'px;top:0;width:' + width + 'px;height:' + height + 'px"><br>hole<br>' + size(bytes) + '</div>';
  }

  // The controls: buttons, slider, keys. draw(i) shows step i; change(dir) goes to the previous or next
  // change (shift+← →); keys: more keys, each a function.
  function stepper(n, draw, change, keys) {
    var S = { cur: -1 };
    S.go = function (i) {
      if (n === 0) return;
      i = Math.max(0, Math.min(n - 1, i));
      S.cur = i;
      document.body.setAttribute('data-step', String(i));
      document.getElementById('slider').value = String(i);
      draw(i);
    };
    document.getElementById('first').onclick = function () { S.go(0); };
    document.getElementById('last').onclick = function () { S.go(n - 1); };
    document.getElementById('prev').onclick = function () { S.go(S.cur - 1); };
    document.getElementById('next').onclick = function () { S.go(S.cur + 1); };
    document.getElementById('slider').oninput = function (ev) { S.go(Number(ev.target.value)); };
    document.addEventListener('keydown', function (ev) {
      var k = ev.key;
      if (ev.target && ev.target.tagName === 'INPUT' && !keys[k]) return; // the slider steps on its own
      if (k === 'ArrowRight') ev.shiftKey ? change(1) : S.go(S.cur + 1);
      else if (k === 'ArrowLeft') ev.shiftKey ? change(-1) : S.go(S.cur - 1);
      else if (k === 'Home') S.go(0);
      else if (k === 'End') S.go(n - 1);
      else if (keys[k]) keys[k]();
      else return;
      ev.preventDefault();
    });
    return S;
  }
`;
