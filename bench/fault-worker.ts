// A will-it-scale style task for bench/fault: map a region, touch every page, unmap — again and again. A
// touch is a write (page_fault1/2: a zeroed or copied page per fault) or, with `read`, a load (an anonymous
// read fault maps the shared zero page: the fault path alone, no page to fill).
import { parentPort, workerData } from 'node:worker_threads';
import { AddressSpace, type AddressSpaceHandle } from '../src/designs/address-space.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../src/mm/uapi.js';
import { sysMmap, sysMunmap } from '../src/mm/mmap.js';
import { currentThreadId } from '../src/util/affinity.js';

interface Job {
  as: AddressSpaceHandle;
  bytes: number;
  /** 0: anonymous (page_fault1); otherwise the file id to map MAP_PRIVATE and write (page_fault2). */
  file: number;
  read: boolean;
  ctl: SharedArrayBuffer; // [phase: 0 warm-up, 1 measure, 2 stop]
  /** Each worker's kernel thread id, by index: written when it is ready, for the runner's CPU accounting. */
  tids: SharedArrayBuffer;
  index: number;
}

const job = workerData as Job;
const ctl = new Int32Array(job.ctl);
const as = AddressSpace.attach(job.as);
Atomics.store(new Int32Array(job.tids), job.index, currentThreadId() || -1);
const { mm, user } = as;
const flags = job.file === 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_PRIVATE;
let faults = 0;
let touchMs = 0; // time spent faulting pages in, without mmap and munmap
let elapsedMs = 0;
let t0 = 0;
let measuring = false; // inside the window
let stopped = false; // the window has ended
let touchFrom = -1; // while touching pages inside the window: when this stretch began

/**
 * Looks at the phase: opens and closes this worker's window. Called between passes and every 16 pages, so
 * that the window is cut to within 16 faults — a window shorter than a pass of 128 MiB (0.2 s on a busy
 * machine) used to measure no pass at all and report its faults over the worker's whole life.
 */
function look(touching: boolean): void {
  const phase = Atomics.load(ctl, 0);
  if (phase === 0 || stopped) return;
  if (!measuring && phase === 1) {
    measuring = true;
    t0 = performance.now();
    if (touching) touchFrom = t0;
  } else if (phase === 2) {
    stopped = true;
    if (!measuring) return; // the window went by between two looks: nothing measured (NaN, not 0)
    measuring = false;
    const t = performance.now();
    elapsedMs = t - t0;
    if (touchFrom >= 0) touchMs += t - touchFrom;
    touchFrom = -1;
  }
}

while (!stopped) {
  look(false);
  if (stopped) break;
  const a = sysMmap(mm, 0, job.bytes, PROT_READ | PROT_WRITE, flags, job.file, 0);
  if (a < 0) throw new Error(`mmap failed: ${a}`);
  if (measuring) touchFrom = performance.now();
  for (let off = 0; off < job.bytes; off += 4096) {
    if ((off & 0xffff) === 0) {
      look(true);
      if (stopped) break;
    }
    if (job.read) user.load8(a + off);
    else user.store8(a + off, 1);
    if (measuring) faults++;
    if ((off & 0xfffff) === 0) as.quiescentState();
  }
  if (touchFrom >= 0) touchMs += performance.now() - touchFrom;
  touchFrom = -1;
  sysMunmap(mm, a, job.bytes);
  as.quiescentState();
}
as.exit();
parentPort!.postMessage({ faults, elapsedMs, touchMs });
