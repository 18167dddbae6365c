/**
 * What the designs' own code costs on the simulated machine: a table of segment costs, measured while the
 * code runs alone, so that a simulation is a function of its inputs.
 *
 * A thread's run is cut at its synchronization points (every Atomics operation, cpu_relax(), futex call,
 * schedPoint()); a segment is the plain code between two of them, named by the points that lead to it and
 * end it — its path (the two points before it and the one that ends it), its pair (the point before and the
 * one after) — each point by what it is (the operation and which shared structure it touches, or the
 * schedPoint's label), which stands in for the code location JavaScript does not show. The path tells apart
 * segments that one pair joins, such as mmap's few µs under the mmap_lock and munmap's ms. Calibration runs the
 * workload on the simulated machine at its fewest CPUs with the real clock, so that every segment is timed
 * as it runs on a CPU of its own; the table keeps each pair's typical cost (the mean after dropping the
 * samples a preemption or a garbage collection stretched). A simulation then charges each segment its
 * table cost: the same table, seed and profile give the same result, on any machine and however busy.
 * Segments calibration never saw (paths only contention takes) cost their pair's mean, failing that the
 * mean of all segments. A pair calibration never saw is code nobody timed — mostly a retry that only
 * contention takes, such as a lock word's load and compare-exchange around a loop — and the code that led
 * to its closing point on other routes says nothing about it: the closing point's mean (kept in the table
 * as `points`, for the record) made a retried up_write's load-and-compare-exchange cost the 73 µs of the
 * mmap tail that ends at that compare-exchange alone, which held every simulated mmap_lock writer for ms.
 * Page zeroing and copying are not in the table: the bandwidth model charges them.
 */

import fs from 'node:fs';

/** Point keys of the points that are not Atomics operations (those are op + 1 in the top byte). */
const KEY_RELAX = 20 << 24;
const KEY_WAIT = 21 << 24;
const KEY_WAKE = 22 << 24;
const KEY_POINT = 23 << 24;
/** The segment before a thread's first point. */
export const KEY_START = 24 << 24;
export { KEY_RELAX, KEY_WAIT, KEY_WAKE };

/** An Atomics operation's key: the operation and which shared structure (bufferKey) it touches. */
export function atomicKey(op: number, buffer: number): number {
  return ((op + 1) << 24) ^ (buffer >>> 8);
}

/** 32 bits of FNV-1a over a string. */
function fnv(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Names every shared buffer reachable from `roots` by the first path that leads to it (breadth first, in
 * property order: `as.mm.vmas.arena.i32`), as a 32-bit key. Every thread that attached the same structures
 * gets the same keys, whatever the buffers' sizes (which change with the number of CPUs): what a segment
 * or a cache line is keyed by. JavaScript shows no addresses; these paths stand in for them.
 */
export function nameSharedBuffers(roots: Record<string, unknown>): Map<ArrayBufferLike, number> {
  const names = new Map<ArrayBufferLike, number>();
  const seen = new Set<object>();
  const queue: [unknown, string][] = Object.entries(roots).map(([k, v]) => [v, k]);
  for (let q = 0; q < queue.length; q++) {
    const [v, path] = queue[q]!;
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof SharedArrayBuffer) {
      names.set(v, fnv(path) | 1);
      continue;
    }
    if (ArrayBuffer.isView(v)) {
      queue.push([v.buffer, path]);
      continue;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < Math.min(v.length, 64); i++) queue.push([v[i], `${path}[${i}]`]);
      continue;
    }
    if (v instanceof Map || v instanceof Set || typeof (v as { then?: unknown }).then === 'function') continue;
    for (const k of Object.keys(v)) queue.push([(v as Record<string, unknown>)[k], `${path}.${k}`]);
  }
  return names;
}

const labelKeys = new Map<string, number>();
/** A schedPoint's key, from its label. */
export function labelKey(label: string): number {
  let k = labelKeys.get(label);
  if (k === undefined) {
    k = KEY_POINT ^ (fnv(label) >>> 8);
    labelKeys.set(label, k);
  }
  return k;
}

/** A segment's key: the points before and after it (pairKey(pairKey(a, b), c): the path a, b, c). */
export function pairKey(prev: number, cur: number): number {
  return (Math.imul(prev, 0x85ebca6b) ^ cur) | 0;
}

/** Samples kept per segment in calibration. */
const MAX_SAMPLES = 4096;

/** A worker's calibration as posted: [path, pair, closing point, samples (ns)]. */
export type CostSamples = [number, number, number, number[]][];

/** One worker's calibration: segment times (ns) by path, with each path's pair and closing point. */
export class CostRecorder {
  private readonly samples = new Map<number, { pair: number; cur: number; seen: number; ns: number[] }>();

  record(path: number, pair: number, cur: number, ns: number): void {
    let s = this.samples.get(path);
    if (s === undefined) this.samples.set(path, (s = { pair, cur, seen: 0, ns: [] }));
    // A reservoir: every segment of the run has the same chance to be kept.
    const seen = ++s.seen;
    if (s.ns.length < MAX_SAMPLES) s.ns.push(ns);
    else {
      const i = Math.floor(Math.random() * seen);
      if (i < MAX_SAMPLES) s.ns[i] = ns;
    }
  }

  export(): CostSamples {
    return [...this.samples].map(([path, s]) => [path, s.pair, s.cur, s.ns]);
  }
}

/**
 * A segment's typical cost: the mean of its samples, leaving out those over 20× the median (and over 20
 * µs) — a thread preempted, or stopped for a garbage collection, in the middle of it.
 */
export function typicalCost(ns: number[]): number {
  if (ns.length === 0) return 0;
  const s = Float64Array.from(ns).sort();
  const cut = Math.max(20 * s[s.length >> 1]!, 20_000);
  let sum = 0;
  let n = 0;
  for (let i = 0; i < s.length && s[i]! <= cut; i++, n++) sum += s[i]!;
  return sum / n;
}

/** The table as a file keeps it (`mmsplit simulate --costs FILE`), and as results carry its summary. */
export interface CostTableJson {
  format: 'mmsplit.sim-costs';
  /** How it was measured: design, workload, machine, date. */
  measured: string;
  /** Mean cost of a segment, ns. */
  meanNs: number;
  /**
   * What timing a segment adds to it (reading the clock at both ends, the scheduler's bookkeeping), ns:
   * the shortest segments' time, the 1st percentile of all samples; taken off every segment's cost.
   */
  overheadNs: number;
  /**
   * How the timed costs were scaled to the code's own speed (simulate.ts, calibrateCosts): the figure of
   * the workload run alone and untimed (real), as simulated on the timed table (timed) and on the scaled
   * one (simulated); every cost was multiplied by scale, found so that simulated comes within 2% of real where four tries reach it
   * (tables saved before 2026-12-07 have no `simulated`: their scale was timed / real). Absent: not scaled.
   */
  normalized?: { figure: string; real: number; timed: number; scale: number; simulated?: number };
  /** [key, cost ns] of every path, pair and closing point seen (the points' are not looked up: see above). */
  paths: [number, number][];
  pairs: [number, number][];
  points: [number, number][];
}

/** Merges the workers' calibrations into a table. */
/**
 * A segment timed longer than this was preempted (or stopped by a garbage collection) in the middle: no
 * segment of ours runs a millisecond between two yield points, and a host time slice is longer. typicalCost()
 * leaves such outliers out of a segment with many samples; a segment timed once or twice has no median to
 * tell by — beside two busy processes the mmap that starts page_fault1 was once timed across a time slice
 * and cost the whole simulated run: no fault in its 2 ms.
 */
const PREEMPTED_NS = 1_000_000;

export function buildCosts(parts: CostSamples[], measured: string): CostTableJson {
  const levels = [new Map<number, number[]>(), new Map<number, number[]>(), new Map<number, number[]>()];
  const add = (m: Map<number, number[]>, k: number, ns: number[]) => {
    const a = m.get(k);
    if (a) for (const x of ns) a.push(x);
    else m.set(k, [...ns]);
  };
  const all: number[] = [];
  for (const part of parts) {
    for (const [path, pair, cur, timed] of part) {
      const ns = timed.filter((x) => x <= PREEMPTED_NS);
      if (ns.length === 0) continue; // only ever timed across a preemption: unseen, costed by its pair or the mean
      add(levels[0]!, path, ns);
      add(levels[1]!, pair, ns);
      add(levels[2]!, cur, ns);
      for (const x of ns) all.push(x);
    }
  }
  const overhead = all.length ? Float64Array.from(all).sort()[Math.floor(all.length / 100)]! : 0;
  const net = (ns: number[]) => Math.round(Math.max(0, typicalCost(ns) - overhead) * 10) / 10;
  let total = 0;
  const [paths, pairs, points] = levels.map((m, level) => [...m].map(([k, ns]): [number, number] => {
    const c = net(ns);
    if (level === 0) total += c * ns.length;
    return [k, c];
  }).sort((a, b) => a[0] - b[0])) as [[number, number][], [number, number][], [number, number][]];
  return { format: 'mmsplit.sim-costs', measured, meanNs: all.length ? Math.round((total / all.length) * 10) / 10 : 0, overheadNs: Math.round(overhead * 10) / 10, paths, pairs, points };
}

const SLOTS = 1 << 15;
/** Paths, then pairs. */
const LEVELS = 2;

/** The table in shared memory, for the simulated CPUs to look up: open addressing, key 0 stands for empty. */
export class CostTable {
  private readonly keys: Int32Array;
  private readonly costs: Float64Array;

  static create(t: CostTableJson): SharedArrayBuffer {
    const buf = new SharedArrayBuffer(LEVELS * SLOTS * 12 + 8);
    const keys = new Int32Array(buf, 0, LEVELS * SLOTS);
    const costs = new Float64Array(buf, LEVELS * SLOTS * 4, LEVELS * SLOTS + 1);
    const put = (base: number, k: number, c: number) => {
      const key = k === 0 ? 1 : k;
      for (let i = 0; i < SLOTS; i++) {
        const s = base + ((hash(key) + i) & (SLOTS - 1));
        if (keys[s] === 0 || keys[s] === key) {
          keys[s] = key;
          costs[s] = c;
          return;
        }
      }
      throw new RangeError('sim: the cost table is full');
    };
    [t.paths, t.pairs].forEach((level, i) => level.forEach(([k, c]) => put(i * SLOTS, k, c)));
    costs[LEVELS * SLOTS] = t.meanNs;
    return buf;
  }

  constructor(buf: SharedArrayBuffer) {
    this.keys = new Int32Array(buf, 0, LEVELS * SLOTS);
    this.costs = new Float64Array(buf, LEVELS * SLOTS * 4, LEVELS * SLOTS + 1);
  }

  /**
   * How many segments this thread costed by their path, by their pair, by the mean (costCoverage): a table
   * measured on other code — a design's points renamed or moved — costs most of them by the mean, and the
   * simulation would run on, its figures silently wrong.
   */
  readonly costedBy: CostedBy = [0, 0, 0];

  /** The cost of a segment, ns, by its path, else its pair, else the mean of all segments. */
  cost(path: number, pair: number): number {
    let c = this.find(0, path);
    if (c >= 0) {
      this.costedBy[0]++;
      return c;
    }
    c = this.find(SLOTS, pair);
    this.costedBy[c >= 0 ? 1 : 2]++;
    return c >= 0 ? c : this.costs[LEVELS * SLOTS]!;
  }

  private find(base: number, k: number): number {
    const key = k === 0 ? 1 : k;
    const keys = this.keys;
    for (let i = 0; i < 64; i++) {
      const s = base + ((hash(key) + i) & (SLOTS - 1));
      const at = keys[s]!;
      if (at === key) return this.costs[s]!;
      if (at === 0) return -1;
    }
    return -1;
  }
}

function hash(k: number): number {
  return Math.imul(k ^ (k >>> 16), 0x45d9f3b) >>> 0;
}

/** Segments a simulation costed by their path, by their pair, by the mean of the table. */
export type CostedBy = [number, number, number];

/**
 * Whether a table fits the code that ran on it: the share of segments costed by their path. At the CPU
 * count the table was measured at, a table of this code costs nearly every segment by its path (only
 * paths its calibration never happened to take are missing); one measured on other code (a design's
 * points renamed, its locking changed) leaves most to the pair or the mean.
 */
export function costCoverage(by: CostedBy): number {
  const all = by[0] + by[1] + by[2];
  return all === 0 ? 0 : by[0] / all;
}

/** Cost tables saved with --save-costs: { "design workload": table, … }; throws with the file's name. */
export function readCostTables(file: string): Map<string, CostTableJson> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read the cost tables (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error(`${file}: expected an object of cost tables by "design workload"`);
  return new Map(Object.entries(o).map(([k, t]) => [k, parseCosts(JSON.stringify(t), `${file}: ${k}`)]));
}

/** Reads a table written with --save-costs; throws with the file's name on anything else. */
export function parseCosts(text: string, where: string): CostTableJson {
  let t: unknown;
  try {
    t = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`);
  }
  const o = t as CostTableJson;
  const pairsOk = (a: unknown) => Array.isArray(a) && a.every((p) => Array.isArray(p) && p.length === 2 && Number.isInteger(p[0]) && Number.isFinite(p[1]) && p[1] >= 0);
  if (typeof o !== 'object' || o === null || o.format !== 'mmsplit.sim-costs') throw new Error(`${where}: not a cost table (format "mmsplit.sim-costs")`);
  const ns = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (!pairsOk(o.paths) || !pairsOk(o.pairs) || !pairsOk(o.points) || !ns(o.meanNs) || !ns(o.overheadNs) || typeof o.measured !== 'string') {
    throw new Error(`${where}: a cost table has measured, meanNs, overheadNs, and paths, pairs and points, each [[key, ns], …]`);
  }
  return o;
}
