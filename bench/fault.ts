// bench/fault: page faults per second through the whole path — user access, the design's fault entry, the
// fault core, zeroing or copying, and munmap's zap — on the will-it-scale patterns: page_fault1 (map
// 128 MiB anonymous, touch every page, unmap) and page_fault2 (the same on a private file mapping: a COW
// copy per page), at 1 and 2 workers; and the cost of zeroing a page alone, for scale.
// Run: npm run bench:fault [-- --design NAME] [--seconds S] [--json]
import { Worker } from 'node:worker_threads';
import { AddressSpace } from '../src/designs/address-space.js';
import { DESIGNS } from '../src/designs/index.js';
import { PAGE_SIZE } from '../src/mm/frames.js';
import { machine, median, nsPerOp, printMachine, printTable, wantsJson } from './harness.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const designs = arg('--design') ? [arg('--design')!] : Object.keys(DESIGNS);
const seconds = Number(arg('--seconds') ?? 2);
const REPS = 3;
const BYTES = 128 * 1024 * 1024;

/** One run: `workers` tasks of the pattern under `design`; returns faults per second, all workers together. */
async function run(design: string, workers: number, file: boolean): Promise<{ faultsPerSec: number; touchFaultsPerSec: number; stats: unknown[] }> {
  // Frames for every task's region, plus the file's pages, which the page cache keeps (page_fault2).
  const frames = ((workers + (file ? 1 : 0)) * BYTES) / PAGE_SIZE + 8192;
  const as = AddressSpace.create({ design, frames, tables: 256 * workers + 64, cachePages: BYTES / PAGE_SIZE + 64 });
  const fileId = file ? as.mm.addFile({ path: '', dev: '00:00', inode: 1, writable: true, readable: true, size: BYTES, shmem: false, latencyUs: 0 }) : 0;
  const ctl = new SharedArrayBuffer(8);
  const threads = Array.from({ length: workers }, () =>
    new Worker(new URL('./fault-worker.js', import.meta.url), { workerData: { as: as.handle(), bytes: BYTES, file: fileId, ctl } }),
  );
  const done = threads.map((t) => new Promise<{ faults: number; elapsedMs: number; touchMs: number; stats: unknown }>((resolve, reject) => {
    t.once('message', resolve);
    t.once('error', reject);
  }));
  const c = new Int32Array(ctl);
  as.rcu.threadOffline(); // this thread only waits: it must not hold up the grace periods that free tables
  await new Promise((r) => setTimeout(r, 500)); // warm-up: JIT, first touches of the frames
  Atomics.store(c, 0, 1);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  Atomics.store(c, 0, 2);
  const res = await Promise.all(done);
  await Promise.all(threads.map((t) => t.terminate()));
  as.rcu.threadOnline();
  as.exit();
  return {
    faultsPerSec: res.reduce((s, r) => s + (r.faults / r.elapsedMs) * 1000, 0),
    touchFaultsPerSec: res.reduce((s, r) => s + (r.faults / r.touchMs) * 1000, 0),
    stats: res.map((r) => r.stats),
  };
}

const m = machine();
const zero = new Uint8Array(PAGE_SIZE);
const frames = new Uint8Array(new SharedArrayBuffer(64 * 1024 * 1024));
let at = 0;
const zeroNs = nsPerOp((n) => {
  for (let i = 0; i < n; i++) {
    frames.set(zero, at);
    at = (at + PAGE_SIZE) % frames.length;
  }
}, 16384).median;

const rows: (string | number)[][] = [];
const results: Record<string, unknown>[] = [];
for (const design of designs) {
  for (const [pattern, file] of [['page_fault1', false], ['page_fault2', true]] as const) {
    const perWorkers: number[] = [];
    let touch1 = 0;
    for (const workers of [1, 2]) {
      const runs = [];
      for (let r = 0; r < REPS; r++) runs.push(await run(design, workers, file));
      const med = median(runs.map((x) => x.faultsPerSec));
      const touch = median(runs.map((x) => x.touchFaultsPerSec));
      if (workers === 1) touch1 = touch;
      perWorkers.push(med);
      results.push({ design, pattern, workers, faultsPerSec: med, touchFaultsPerSec: touch, samples: runs.map((x) => x.faultsPerSec) });
    }
    rows.push([design, pattern, touch1 / 1e6, perWorkers[0]! / 1e6, perWorkers[1]! / 1e6, perWorkers[1]! / perWorkers[0]!]);
  }
}

if (wantsJson) {
  console.log(JSON.stringify({ bench: 'fault', machine: m, seconds, reps: REPS, zeroPageNs: zeroNs, zeroPagesPerSec: 1e9 / zeroNs, results }, null, 2));
} else {
  printMachine(m);
  console.log(`\nFaults per second (median of ${REPS} runs of ${seconds} s; 128 MiB per task, every page touched, then unmapped).`);
  console.log('"faults only": the touch phase of one worker alone, without its mmap and munmap.');
  printTable(['design', 'pattern', 'faults only M/s', '1 worker M/s', '2 workers M/s', '2 / 1'], rows);
  console.log(`\nZeroing a 4 KiB page alone: ${zeroNs.toFixed(0)} ns (${(1e3 / zeroNs).toFixed(2)} M pages/s).`);
}
