// A will-it-scale style task for bench/fault: map a region, touch every page, unmap — again and again. A
// touch is a write (page_fault1/2: a zeroed or copied page per fault) or, with `read`, a load (an anonymous
// read fault maps the shared zero page: the fault path alone, no page to fill).
import { parentPort, workerData } from 'node:worker_threads';
import { AddressSpace, type AddressSpaceHandle } from '../src/designs/address-space.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../src/mm/uapi.js';
import { sysMmap, sysMunmap } from '../src/mm/mmap.js';

interface Job {
  as: AddressSpaceHandle;
  bytes: number;
  /** 0: anonymous (page_fault1); otherwise the file id to map MAP_PRIVATE and write (page_fault2). */
  file: number;
  read: boolean;
  ctl: SharedArrayBuffer; // [phase: 0 warm-up, 1 measure, 2 stop]
}

const job = workerData as Job;
const ctl = new Int32Array(job.ctl);
const as = AddressSpace.attach(job.as);
const { mm, user } = as;
const flags = job.file === 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_PRIVATE;
let faults = 0;
let touchMs = 0; // time spent faulting pages in, without mmap and munmap
let t0 = 0;
let measuring = false;
for (;;) {
  const phase = Atomics.load(ctl, 0);
  if (phase === 2) break;
  if (phase === 1 && !measuring) {
    measuring = true;
    faults = 0;
    touchMs = 0;
    t0 = performance.now();
  }
  const a = sysMmap(mm, 0, job.bytes, PROT_READ | PROT_WRITE, flags, job.file, 0);
  if (a < 0) throw new Error(`mmap failed: ${a}`);
  const touchStart = performance.now();
  for (let off = 0; off < job.bytes; off += 4096) {
    if (job.read) user.load8(a + off);
    else user.store8(a + off, 1);
    if ((off & 0xfffff) === 0) as.quiescentState();
  }
  touchMs += performance.now() - touchStart;
  faults += job.bytes / 4096;
  sysMunmap(mm, a, job.bytes);
  as.quiescentState();
}
const elapsedMs = performance.now() - t0;
const stats = { ...as.design.stats };
as.exit();
parentPort!.postMessage({ faults, elapsedMs, touchMs, stats });
