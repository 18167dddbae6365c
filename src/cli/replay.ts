// `mmsplit replay TRACE --maps BEFORE [--expect AFTER] [--html [DIR]] [--json]`: exit 0 when every call and
// the layout match, 1 on a divergence, 2 on malformed input (file:line and what was expected there).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MapsParseError } from '../trace/maps.js';
import { StraceParseError } from '../trace/strace.js';
import { compareLayouts, replay, ReplayInputError, type ReplayOptions, type ReplayResult } from '../trace/replay.js';
import { replayTimeline } from '../trace/timeline.js';
import { writeReplayPage } from '../explore/replay-page.js';

export interface ReplayCommandOptions {
  maps: string;
  expect?: string;
  json?: boolean;
  mmapBase?: number;
  brk?: number;
  startBrk?: number;
  thp?: boolean;
  fileThp?: boolean;
  assumeWritten?: boolean;
  fileSize?: string[];
  /** Where to write the page that steps through the calls (main.ts checked that it can be written). */
  html?: string | undefined;
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ReplayInputError(`${path}: cannot read the ${what}: ${(e as Error).message}`);
  }
}

export function replayCommand(trace: string, o: ReplayCommandOptions): number {
  try {
    const fileSizes: Record<string, number> = {};
    for (const s of o.fileSize ?? []) {
      const i = s.lastIndexOf('=');
      const n = Number(s.slice(i + 1));
      if (i <= 0 || !Number.isInteger(n) || n < 0) throw new ReplayInputError(`--file-size ${s}: expected PATH=BYTES`);
      fileSizes[s.slice(0, i)] = n;
    }
    const opts: ReplayOptions = { fileSizes };
    if (o.mmapBase !== undefined) opts.mmapBase = o.mmapBase;
    if (o.brk !== undefined) opts.brk = o.brk;
    if (o.startBrk !== undefined) opts.startBrk = o.startBrk;
    if (o.thp !== undefined) opts.thp = o.thp;
    if (o.fileThp !== undefined) opts.fileThp = o.fileThp;
    if (o.assumeWritten !== undefined) opts.assumeWritten = o.assumeWritten;
    const traceText = read(trace, 'trace');
    const beforeText = read(o.maps, 'maps snapshot');
    const expectText = o.expect !== undefined ? read(o.expect, 'expected maps') : undefined;
    let r: ReplayResult, page: string | undefined;
    if (o.html !== undefined) {
      const t = replayTimeline(traceText, beforeText, opts, { trace, maps: o.maps, expect: o.expect, expectText });
      r = t.result;
      page = writeReplayPage(t.timeline, o.html);
    } else r = replay(traceText, beforeText, opts, trace, o.maps);
    const diff = expectText !== undefined ? compareLayouts(expectText, r.maps, o.expect) : undefined;
    const ok = r.divergences === 0 && (diff === undefined || diff.equal);
    if (o.json) {
      process.stdout.write(JSON.stringify({
        ok, calls: r.calls, matched: r.matched, skipped: r.skipped, divergences: r.divergences,
        firstDivergence: r.firstDivergence ?? null, layoutMatches: diff ? diff.equal : null,
        layoutDiff: diff && !diff.equal ? diff.lines.filter((l) => l[0] !== ' ') : [], maps: r.maps,
        ...(page !== undefined ? { page: path.resolve(page) } : {}),
      }, null, 2) + '\n');
    } else {
      process.stdout.write(r.maps);
      const d = r.firstDivergence;
      if (d) {
        process.stderr.write(`replay: ${r.divergences} of ${r.calls} calls diverged; first at ${trace}:${d.line}: ${d.call}\n  expected ${d.expected}\n  actual   ${d.actual}\n`);
      }
      if (diff && !diff.equal) {
        process.stderr.write(`replay: final layout differs from ${o.expect} ('-' expected, '+' replayed):\n`);
        for (const l of diff.lines) if (l[0] !== ' ') process.stderr.write(l + '\n');
      }
      if (ok) process.stderr.write(`replay: ${r.matched} calls matched${r.skipped ? `, ${r.skipped} skipped` : ''}${diff ? ', layout matches' : ''}\n`);
      if (page !== undefined) process.stderr.write(`replay: wrote ${page} (open it in a browser; keys ← → Home End)\n`);
    }
    return ok ? 0 : 1;
  } catch (e) {
    if (e instanceof StraceParseError || e instanceof MapsParseError || e instanceof ReplayInputError) {
      process.stderr.write(`mmsplit replay: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
