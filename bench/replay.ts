// Replay speed: calls per second of `mmsplit replay` on the committed fixtures, end to end (strace parse +
// maps parse + replay + final maps) and replay alone (records parsed beforehand). Median of 11 runs.
//   node dist/bench/replay.js [--json]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkFlags, machine, median, noteSpread, printMachine, printRunQuality, printTable, runQuality, wantsJson } from './harness.js';
import { parseMaps } from '../src/trace/maps.js';
import { parseStrace } from '../src/trace/strace.js';
import { compareLayouts, replay, replayRecords, type ReplayOptions } from '../src/trace/replay.js';

checkFlags('bench:replay', []);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(ROOT, 'test/fixtures/strace');
const REPS = 11;

interface Row { fixture: string; calls: number; endToEndCallsPerS: number; replayOnlyCallsPerS: number; exact: boolean }

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const rows: Row[] = [];
for (const name of ['node', 'python3', 'memtrace-seed-1', 'memtrace-seed-2', 'memtrace-seed-3']) {
  const dir = path.join(FIX, name);
  const trace = fs.readFileSync(path.join(dir, 'trace.txt'), 'utf8');
  const before = fs.readFileSync(path.join(dir, 'before.maps'), 'utf8');
  const after = fs.readFileSync(path.join(dir, 'after.maps'), 'utf8');
  const records = parseStrace(trace);
  const beforeEntries = parseMaps(before);
  const m = /^memtrace-seed-(\d+)$/.exec(name);
  const opts: ReplayOptions = m ? { fileSizes: { [`/tmp/mmsplit-memtrace/seed-${m[1]}/data.bin`]: 64 * 4096 } } : {};
  const check = replay(trace, before, opts);
  const exact = check.divergences === 0 && compareLayouts(after, check.maps).equal;
  // Short traces are repeated inside one timed sample so that a sample lasts a few milliseconds.
  const inner = Math.max(1, Math.ceil(20_000 / records.length));
  for (let i = 0; i < 3; i++) replay(trace, before); // warm-up
  const e2e: number[] = [];
  const only: number[] = [];
  for (let r = 0; r < REPS; r++) {
    e2e.push((records.length * inner) / time(() => { for (let k = 0; k < inner; k++) replay(trace, before, opts); }));
    only.push((records.length * inner) / time(() => { for (let k = 0; k < inner; k++) replayRecords(records, beforeEntries, opts); }));
  }
  noteSpread(`${name}, end to end`, e2e);
  noteSpread(`${name}, replay only`, only);
  rows.push({ fixture: name, calls: records.length, endToEndCallsPerS: median(e2e), replayOnlyCallsPerS: median(only), exact });
}

const mach = machine();
if (wantsJson) {
  console.log(JSON.stringify({ machine: mach, reps: REPS, rows, ...runQuality() }, null, 2));
} else {
  printMachine(mach);
  console.log(`replay speed, median of ${REPS} runs (calls per second)\n`);
  printTable(['fixture', 'calls', 'end to end', 'replay only', 'exact'],
    rows.map((r) => [r.fixture, String(r.calls), Math.round(r.endToEndCallsPerS), Math.round(r.replayOnlyCallsPerS), r.exact ? 'yes' : 'NO']));
  printRunQuality();
}
