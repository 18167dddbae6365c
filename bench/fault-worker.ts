// A will-it-scale style task for bench/fault: map a region, touch every page, unmap — again and again.
import { parentPort, workerData } from 'node:worker_threads';
import { createDesign } from '../src/designs/index.js';
import { MmPages, type MmPagesHandle } from '../src/mm/memory.js';
import { MmStruct, type MmHandle } from '../src/mm/mm.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, sysMmap, sysMunmap } from '../src/mm/mmap.js';
import { UserAccess } from '../src/mm/uaccess.js';
import { Rcu, type RcuHandle } from '../src/sync/rcu.js';

interface Job {
  mm: MmHandle;
  pages: MmPagesHandle;
  rcu: RcuHandle;
  design: string;
  bytes: number;
  /** 0: anonymous (page_fault1); otherwise the file id to map MAP_PRIVATE and write (page_fault2). */
  file: number;
  ctl: SharedArrayBuffer; // [phase: 0 warm-up, 1 measure, 2 stop]
}

const job = workerData as Job;
const ctl = new Int32Array(job.ctl);
const rcu = Rcu.attach(job.rcu);
rcu.registerThread();
const pages = MmPages.attach(job.pages, rcu);
const mm = new MmStruct({ mmapBase: 0, attach: job.mm, pages });
// The mm's file table lives on the thread that made the mm; this task maps the file too, so it learns of
// it under the same id (the page cache's, shared by all threads).
if (job.file !== 0) mm.files[job.file] = { path: '', dev: '00:00', inode: 1, writable: true, readable: true, size: job.bytes, shmem: false, latencyUs: 0 };
const design = createDesign(job.design, { mm, pages, rcu });
const user = new UserAccess(pages.pt, pages.frames, rcu, (addr, flags) => design.fault(addr, flags));
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
  const a = sysMmap(mm, 0, job.bytes, 3, flags, job.file, 0);
  if (a < 0) throw new Error(`mmap failed: ${a}`);
  const touchStart = performance.now();
  for (let off = 0; off < job.bytes; off += 4096) {
    user.store8(a + off, 1);
    if ((off & 0xfffff) === 0) rcu.quiescentState();
  }
  touchMs += performance.now() - touchStart;
  faults += job.bytes / 4096;
  sysMunmap(mm, a, job.bytes);
  rcu.quiescentState();
}
const elapsedMs = performance.now() - t0;
rcu.barrier();
pages.frames.drainCache();
rcu.unregisterThread();
parentPort!.postMessage({ faults, elapsedMs, touchMs, stats: { ...design.stats } });
