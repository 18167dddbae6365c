// bench/fault's memory ceiling: one thread zeroing 4 KiB pages of its own slice of `sab`, in address order, as the
// page_fault1 pattern zeroes them — nothing else. Reports pages per second.
import { parentPort, workerData } from 'node:worker_threads';

const { sab, slice, bytes: BYTES, ms } = workerData as { sab: SharedArrayBuffer; slice: number; bytes: number; ms: number };
const PAGE = 4096;
const bytes = new Uint8Array(sab, slice * BYTES, BYTES);
const zero = new Uint8Array(PAGE);
let pages = 0;
const t0 = performance.now();
let t = t0;
while (t - t0 < ms) {
  for (let off = 0; off < BYTES; off += PAGE) bytes.set(zero, off);
  pages += BYTES / PAGE;
  t = performance.now();
}
parentPort!.postMessage((pages / (t - t0)) * 1000);
