// bench/fault: page faults per second through the whole path — user access, the design's fault entry, the
// fault core, zeroing or copying, and munmap's zap — on the will-it-scale patterns page_fault1 (map 128 MiB
// anonymous, touch every page, unmap) and page_fault2 (the same on a private file mapping: a COW copy per
// page), and on anon_read (page_fault1 with loads: each fault maps the zero page, so no page is filled and
// the fault path alone is measured), at 1 and 2 workers. Then what this machine allows two workers whatever
// the locking: zeroing pages alone on 1 and 2 threads (memory bandwidth), and page_fault1 with each worker in
// an address space of its own (nothing shared).
// Run: npm run bench:fault [-- --design NAME] [--seconds S] [--json]
import { Worker } from 'node:worker_threads';
import { AddressSpace } from '../src/designs/address-space.js';
import { DESIGNS } from '../src/designs/index.js';
import { PAGE_SIZE } from '../src/mm/frames.js';
import { cpuBetween, readCpu } from '../src/bench/cpu.js';
import type { Interference, Sample } from '../src/bench/results.js';
import { judgeInterference } from '../src/bench/runner.js';
import { checkFlags, figure, machine, median, namesArg, positiveArg, printDisturbed, printMachine, printTable, wantsJson } from './harness.js';

checkFlags('bench:fault', ['--design', '--seconds']);

const designs = namesArg('bench:fault', '--design', Object.keys(DESIGNS), Object.keys(DESIGNS));
const seconds = positiveArg('bench:fault', '--seconds', 2);
const REPS = 3;
const BYTES = 128 * 1024 * 1024;

interface Pattern {
  name: string;
  /** Map a file MAP_PRIVATE (page_fault2) instead of anonymous memory. */
  file: boolean;
  /** Touch with loads instead of stores. */
  read: boolean;
}
const PATTERNS: Pattern[] = [
  { name: 'page_fault1', file: false, read: false },
  { name: 'page_fault2', file: true, read: false },
  { name: 'anon_read', file: false, read: true },
];

/** A run's measured window: its length, the faults (or pages) in it, and the workers' CPU over it — a lab sample. */
interface Measured<R> {
  reports: R[];
  sample: Sample;
}

/**
 * Starts `workers` threads of `script` and measures one window of them: each writes its thread id into `tids`
 * when it is ready (-1 where it has none), warms up `warmupMs` more, then works while ctl[0] is 1 and stops
 * at 2, and posts its report. The window's CPU accounting — how long the workers waited for a CPU, how
 * busy other processes kept the machine — is read here at both ends, as the lab reads a sample's.
 */
async function measure<R>(script: string, workers: number, data: (i: number) => object, warmupMs: number, count: (reports: R[]) => number): Promise<Measured<R>> {
  const ctl = new SharedArrayBuffer(4);
  const tids = new Int32Array(new SharedArrayBuffer(4 * workers));
  const threads = Array.from({ length: workers }, (_, i) => new Worker(new URL(script, import.meta.url), { workerData: { ...data(i), ctl, tids: tids.buffer, index: i } }));
  const done = threads.map((t) => new Promise<R>((resolve, reject) => {
    t.once('message', resolve);
    t.once('error', reject);
  }));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  while (Array.from(tids).some((tid) => tid === 0)) await Promise.race([sleep(5), ...done]); // (a worker that failed throws here)
  await sleep(warmupMs);
  const c = new Int32Array(ctl);
  const before = readCpu(tids);
  const t0 = performance.now();
  Atomics.store(c, 0, 1);
  Atomics.notify(c, 0);
  await sleep(seconds * 1000);
  Atomics.store(c, 0, 2);
  const elapsedMs = performance.now() - t0;
  const after = readCpu(tids);
  const reports = await Promise.all(done);
  await Promise.all(threads.map((t) => t.terminate()));
  const cpu = cpuBetween(before, after, workers * elapsedMs);
  const n = count(reports);
  return { reports, sample: { elapsedMs, ops: n, faults: n, ...(cpu ? { cpu } : {}) } };
}

interface FaultReport {
  faults: number;
  elapsedMs: number;
  touchMs: number;
}

/**
 * One run: `workers` tasks of the pattern under `design`, in one address space or (`separate`) one each;
 * returns faults per second, all workers together.
 */
async function run(design: string, workers: number, p: Pattern, separate = false): Promise<{ rate: number; touchFaultsPerSec: number; sample: Sample }> {
  const tasksPerSpace = separate ? 1 : workers;
  // Frames for every task's region, plus the file's pages, which the page cache keeps (page_fault2).
  const frames = ((tasksPerSpace + (p.file ? 1 : 0)) * BYTES) / PAGE_SIZE + 8192;
  const spaces = Array.from({ length: separate ? workers : 1 }, () => {
    // populate: the frames backed by the host now, not page by page inside the window (~11 µs a page here).
    const as = AddressSpace.create({ design, frames, tables: 256 * tasksPerSpace + 64, cachePages: BYTES / PAGE_SIZE + 64, populate: true });
    const file = p.file ? as.mm.addFile({ path: '', dev: '00:00', inode: 1, writable: true, readable: true, size: BYTES, shmem: false, latencyUs: 0 }) : 0;
    return { as, file };
  });
  for (const { as } of spaces) as.rcu.threadOffline(); // this thread only waits: it must not hold up the grace periods that free tables
  let m: Measured<FaultReport>;
  try {
    // warm-up: JIT, the first passes
    m = await measure<FaultReport>('./fault-worker.js', workers, (i) => {
      const { as, file } = spaces[separate ? i : 0]!;
      return { as: as.handle(), bytes: BYTES, file, read: p.read };
    }, 500, (rs) => rs.reduce((s, r) => s + r.faults, 0));
  } finally {
    for (const { as } of spaces) {
      as.rcu.threadOnline();
      as.exit();
      as.release(); // its backed memory serves the next run's address space
    }
  }
  const res = m.reports;
  return {
    rate: res.reduce((s, r) => s + (r.faults / r.elapsedMs) * 1000, 0),
    touchFaultsPerSec: res.reduce((s, r) => s + (r.faults / r.touchMs) * 1000, 0),
    sample: m.sample,
  };
}

/** Pages per second that `threads` threads zero together, each streaming through 128 MiB of its own. */
async function zeroing(threads: number): Promise<{ rate: number; sample: Sample }> {
  const sab = new SharedArrayBuffer(threads * BYTES);
  const m = await measure<{ pages: number; elapsedMs: number }>('./zero-worker.js', threads, (slice) => ({ sab, slice, bytes: BYTES }), 0, (rs) => rs.reduce((s, r) => s + r.pages, 0));
  return { rate: m.reports.reduce((s, r) => s + (r.pages / r.elapsedMs) * 1000, 0), sample: m.sample };
}

/** The median of REPS runs, their spread, and whether the machine took the CPUs from their workers. */
interface Point {
  median: number;
  min: number;
  max: number;
  samples: number[];
  interference?: Interference;
}

/** REPS runs of `f` (of `workers` workers each), one after another (each takes the cores), as one point. */
async function point<T extends { rate: number; sample: Sample }>(workers: number, f: () => Promise<T>): Promise<{ pt: Point; runs: T[] }> {
  const runs: T[] = [];
  for (let r = 0; r < REPS; r++) runs.push(await f());
  const rates = runs.map((x) => x.rate);
  const interference = judgeInterference([{ samples: runs.map((x) => x.sample), workers }], 1);
  return { pt: { median: median(rates), min: Math.min(...rates), max: Math.max(...rates), samples: rates, ...(interference ? { interference } : {}) }, runs };
}

const disturbed: string[] = [];
let measured = 0;
/** The point's figure for the tables, its disturbance kept for the closing warning. */
function cell(what: string, pt: Point): string {
  measured++;
  const d = pt.interference?.disturbed === true;
  if (d) disturbed.push(`${what}: ${pt.interference!.reason}`);
  return figure(pt.median, pt.min, pt.max, d);
}

const m = machine();
const rows: (string | number)[][] = [];
const results: Record<string, unknown>[] = [];
for (const design of designs) {
  for (const p of PATTERNS) {
    const perWorkers: Point[] = [];
    let touch1 = 0;
    for (const workers of [1, 2]) {
      const { pt, runs } = await point(workers, () => run(design, workers, p));
      const touch = median(runs.map((x) => x.touchFaultsPerSec));
      if (workers === 1) touch1 = touch;
      perWorkers.push(pt);
      results.push({ design, pattern: p.name, workers, faultsPerSec: pt.median, min: pt.min, max: pt.max, touchFaultsPerSec: touch, samples: pt.samples, ...(pt.interference ? { interference: pt.interference } : {}) });
    }
    const [one, two] = perWorkers as [Point, Point];
    rows.push([design, p.name, touch1 / 1e6, cell(`${design} ${p.name} 1 worker`, one), cell(`${design} ${p.name} 2 workers`, two), two.median / one.median]);
  }
}

// The machine's ceiling for two workers, whatever the design: memory bandwidth, and nothing shared at all.
const zero1 = (await point(1, () => zeroing(1))).pt;
const zero2 = (await point(2, () => zeroing(2))).pt;
const CEILING_DESIGN = designs[0]!;
const PF1 = PATTERNS[0]!;
const alone1 = (await point(1, () => run(CEILING_DESIGN, 1, PF1))).pt;
const separate2 = (await point(2, () => run(CEILING_DESIGN, 2, PF1, true))).pt;
const ceiling = { design: CEILING_DESIGN, zeroPagesPerSec1: zero1, zeroPagesPerSec2: zero2, pageFault1Alone: alone1, pageFault1Separate2: separate2 };

if (wantsJson) {
  console.log(JSON.stringify({ bench: 'fault', machine: m, seconds, reps: REPS, zeroPageNs: 1e9 / zero1.median, ceiling, results }, null, 2));
} else {
  printMachine(m);
  console.log(`\nFaults per second: median (min–max) of ${REPS} runs of ${seconds} s; 128 MiB per task, every page touched, then unmapped.`);
  console.log('"faults only": the touch phase of one worker alone, without its mmap and munmap. anon_read: page_fault1 with');
  console.log('loads, so each fault maps the zero page and no page is zeroed.');
  printTable(['design', 'pattern', 'faults only M/s', '1 worker faults/s', '2 workers faults/s', '2 / 1'], rows);
  console.log('\nWhat two workers can reach on this machine, whatever the locking:');
  console.log(`  zeroing 4 KiB pages alone (memory bandwidth), pages/s: ${cell('zeroing, 1 thread', zero1)} on 1 thread (${(1e9 / zero1.median).toFixed(0)} ns a page), ${cell('zeroing, 2 threads', zero2)} on 2: ${(zero2.median / zero1.median).toFixed(2)}×`);
  console.log(`  page_fault1, each worker in its own address space (${CEILING_DESIGN}; nothing shared), faults/s: ${cell('page_fault1 alone, 1 worker', alone1)} on 1, ${cell('page_fault1, 2 workers in separate address spaces', separate2)} on 2: ${(separate2.median / alone1.median).toFixed(2)}×`);
  printDisturbed(disturbed, measured);
}
