// bench/fault's memory ceiling: one thread zeroing 4 KiB pages of its own slice of `sab`, in address order, as the
// page_fault1 pattern zeroes them — nothing else. Reports the pages it zeroed inside the window and how long it was.
import { parentPort, workerData } from 'node:worker_threads';
import { currentThreadId } from '../src/util/affinity.js';

const { sab, slice, bytes: BYTES, ctl: ctlBuffer, tids, index } = workerData as { sab: SharedArrayBuffer; slice: number; bytes: number; ctl: SharedArrayBuffer; tids: SharedArrayBuffer; index: number };
const ctl = new Int32Array(ctlBuffer); // [phase: 0 wait, 1 measure, 2 stop]
const PAGE = 4096;
/** The phase is looked at every STRETCH pages: the window is cut to within that many pages, not a pass (32,768). */
const STRETCH = 64;
const bytes = new Uint8Array(sab, slice * BYTES, BYTES);
const zero = new Uint8Array(PAGE);
// One pass first, unmeasured: the host backs a new buffer a page at a time on first touch (~11 µs a page here,
// 70× a page's zeroing), which is no part of what zeroing costs — page_fault1's frames are backed beforehand too.
for (let off = 0; off < BYTES; off += PAGE) bytes.set(zero, off);
Atomics.store(new Int32Array(tids), index, currentThreadId() || -1); // ready
while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0, 5);
let pages = 0;
const t0 = performance.now();
for (let off = 0; Atomics.load(ctl, 0) === 1; off = (off + STRETCH * PAGE) % BYTES) {
  for (let p = off, end = off + STRETCH * PAGE; p < end; p += PAGE) bytes.set(zero, p);
  pages += STRETCH;
}
parentPort!.postMessage({ pages, elapsedMs: performance.now() - t0 });
