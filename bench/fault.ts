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
import { checkFlags, machine, median, namesArg, positiveArg, printMachine, printTable, wantsJson } from './harness.js';

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

/**
 * One run: `workers` tasks of the pattern under `design`, in one address space or (`separate`) one each;
 * returns faults per second, all workers together.
 */
async function run(design: string, workers: number, p: Pattern, separate = false): Promise<{ faultsPerSec: number; touchFaultsPerSec: number; stats: unknown[] }> {
  const tasksPerSpace = separate ? 1 : workers;
  // Frames for every task's region, plus the file's pages, which the page cache keeps (page_fault2).
  const frames = ((tasksPerSpace + (p.file ? 1 : 0)) * BYTES) / PAGE_SIZE + 8192;
  const spaces = Array.from({ length: separate ? workers : 1 }, () => {
    const as = AddressSpace.create({ design, frames, tables: 256 * tasksPerSpace + 64, cachePages: BYTES / PAGE_SIZE + 64 });
    const file = p.file ? as.mm.addFile({ path: '', dev: '00:00', inode: 1, writable: true, readable: true, size: BYTES, shmem: false, latencyUs: 0 }) : 0;
    return { as, file };
  });
  const ctl = new SharedArrayBuffer(8);
  const threads = Array.from({ length: workers }, (_, i) => {
    const { as, file } = spaces[separate ? i : 0]!;
    return new Worker(new URL('./fault-worker.js', import.meta.url), { workerData: { as: as.handle(), bytes: BYTES, file, read: p.read, ctl } });
  });
  const done = threads.map((t) => new Promise<{ faults: number; elapsedMs: number; touchMs: number; stats: unknown }>((resolve, reject) => {
    t.once('message', resolve);
    t.once('error', reject);
  }));
  const c = new Int32Array(ctl);
  for (const { as } of spaces) as.rcu.threadOffline(); // this thread only waits: it must not hold up the grace periods that free tables
  await new Promise((r) => setTimeout(r, 500)); // warm-up: JIT, first touches of the frames
  Atomics.store(c, 0, 1);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  Atomics.store(c, 0, 2);
  const res = await Promise.all(done);
  await Promise.all(threads.map((t) => t.terminate()));
  for (const { as } of spaces) {
    as.rcu.threadOnline();
    as.exit();
  }
  return {
    faultsPerSec: res.reduce((s, r) => s + (r.faults / r.elapsedMs) * 1000, 0),
    touchFaultsPerSec: res.reduce((s, r) => s + (r.faults / r.touchMs) * 1000, 0),
    stats: res.map((r) => r.stats),
  };
}

/** REPS runs of `f`, one after another (runs must not overlap: each takes the cores). */
async function repeat<T>(f: () => Promise<T>): Promise<T[]> {
  const runs: T[] = [];
  for (let r = 0; r < REPS; r++) runs.push(await f());
  return runs;
}

/** Pages per second that `threads` threads zero together, each streaming through 128 MiB of its own. */
async function zeroing(threads: number): Promise<number> {
  const sab = new SharedArrayBuffer(threads * BYTES);
  const rates = await Promise.all(Array.from({ length: threads }, (_, slice) => new Promise<number>((resolve, reject) => {
    const t = new Worker(new URL('./zero-worker.js', import.meta.url), { workerData: { sab, slice, bytes: BYTES, ms: seconds * 1000 } });
    t.once('message', resolve);
    t.once('error', reject);
  })));
  return rates.reduce((s, x) => s + x, 0);
}

const m = machine();
const rows: (string | number)[][] = [];
const results: Record<string, unknown>[] = [];
for (const design of designs) {
  for (const p of PATTERNS) {
    const perWorkers: number[] = [];
    let touch1 = 0;
    for (const workers of [1, 2]) {
      const runs = await repeat(() => run(design, workers, p));
      const med = median(runs.map((x) => x.faultsPerSec));
      const touch = median(runs.map((x) => x.touchFaultsPerSec));
      if (workers === 1) touch1 = touch;
      perWorkers.push(med);
      results.push({ design, pattern: p.name, workers, faultsPerSec: med, touchFaultsPerSec: touch, samples: runs.map((x) => x.faultsPerSec) });
    }
    rows.push([design, p.name, touch1 / 1e6, perWorkers[0]! / 1e6, perWorkers[1]! / 1e6, perWorkers[1]! / perWorkers[0]!]);
  }
}

// The machine's ceiling for two workers, whatever the design: memory bandwidth, and nothing shared at all.
const zero1 = median(await repeat(() => zeroing(1)));
const zero2 = median(await repeat(() => zeroing(2)));
const CEILING_DESIGN = designs[0]!;
const PF1 = PATTERNS[0]!;
const alone1 = median((await repeat(() => run(CEILING_DESIGN, 1, PF1))).map((x) => x.faultsPerSec));
const separate2 = median((await repeat(() => run(CEILING_DESIGN, 2, PF1, true))).map((x) => x.faultsPerSec));
const ceiling = { design: CEILING_DESIGN, zeroPagesPerSec1: zero1, zeroPagesPerSec2: zero2, pageFault1Alone: alone1, pageFault1Separate2: separate2 };

if (wantsJson) {
  console.log(JSON.stringify({ bench: 'fault', machine: m, seconds, reps: REPS, zeroPageNs: 1e9 / zero1, ceiling, results }, null, 2));
} else {
  printMachine(m);
  console.log(`\nFaults per second (median of ${REPS} runs of ${seconds} s; 128 MiB per task, every page touched, then unmapped).`);
  console.log('"faults only": the touch phase of one worker alone, without its mmap and munmap. anon_read: page_fault1 with');
  console.log('loads, so each fault maps the zero page and no page is zeroed.');
  printTable(['design', 'pattern', 'faults only M/s', '1 worker M/s', '2 workers M/s', '2 / 1'], rows);
  console.log('\nWhat two workers can reach on this machine, whatever the locking:');
  console.log(`  zeroing 4 KiB pages alone (memory bandwidth): ${(zero1 / 1e6).toFixed(2)} M pages/s on 1 thread (${(1e9 / zero1).toFixed(0)} ns a page), ${(zero2 / 1e6).toFixed(2)} on 2: ${(zero2 / zero1).toFixed(2)}×`);
  console.log(`  page_fault1, each worker in its own address space (${CEILING_DESIGN}; nothing shared): ${(alone1 / 1e6).toFixed(2)} M/s on 1, ${(separate2 / 1e6).toFixed(2)} on 2: ${(separate2 / alone1).toFixed(2)}×`);
}
