// A user thread for the design tests: stores a tag of its own into random pages of a region and loads it
// back, through the page tables and the design's fault handler, until told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import { AddressSpace, type AddressSpaceHandle } from '../../src/designs/address-space.js';
import { UserFaultError } from '../../src/mm/uaccess.js';
import { syntheticWord } from '../../src/mm/pagecache.js';
import { POISON_WORD } from '../../src/shm/arena.js';
import { setWaitLimit } from '../../src/sync/sleep.js';
import { Prng } from '../../src/util/prng.js';

interface Job {
  as: AddressSpaceHandle;
  region: number;
  npages: number;
  /** The synthetic file the writer maps over the region now and then, and its size in pages. */
  file: number;
  filePages: number;
  worker: number;
  seed: number;
  ctl: SharedArrayBuffer;
  waitLimitMs: number;
}

const job = workerData as Job;
setWaitLimit(job.waitLimitMs);
const ctl = new Int32Array(job.ctl); // [stop, failed, accesses made by each worker]
let as: AddressSpace | undefined;
try {
  as = AddressSpace.attach(job.as);
  const user = as.user;
  const rnd = new Prng(job.seed + job.worker);
  // What this worker's word may hold besides its own tags: zero (fresh anonymous memory, the zero page)
  // or the file's own bytes at that word of some page (a file page it has not written through yet).
  const fileWords = new Set<number>();
  for (let p = 0; p < job.filePages; p++) fileWords.add(syntheticWord(job.file, p * 4096 + job.worker * 4));
  const mine = job.worker + 1;
  let stores = 0;
  let segv = 0;
  let stale = 0;
  for (let n = 1; Atomics.load(ctl, 0) === 0 && n < 0xffffff; n++) {
    const addr = job.region + rnd.below(job.npages) * 4096 + job.worker * 4; // each worker owns one word per page
    const tag = (mine << 24) | n;
    try {
      user.store32(addr, tag);
      stores++;
      const v = user.load32(addr);
      if (v === POISON_WORD) throw new Error(`worker ${job.worker}: read poison at 0x${addr.toString(16)}: a freed frame was still mapped`);
      // Between the store and the load the writer may have unmapped and remapped (or zapped) the page, or
      // mapped another page of the file there — which may hold an older tag written through MAP_SHARED.
      if (v !== tag) {
        const older = v >>> 24 === mine && (v & 0xffffff) < n;
        if (v !== 0 && !older && !fileWords.has(v)) throw new Error(`worker ${job.worker}: 0x${addr.toString(16)} holds ${v.toString(16)}, stored ${tag.toString(16)}`);
        stale++;
      }
    } catch (e) {
      if (!(e instanceof UserFaultError) || e.signal !== 'SIGSEGV') throw e;
      segv++; // unmapped or read-only at that moment
    }
    as.quiescentState();
    Atomics.store(ctl, 2 + job.worker, n); // the writer keeps pace with it
  }
  const stats = { stores, segv, stale, faults: user.faults, fastPath: as.design.stats.fastPath, retry: as.design.stats.retry, fallback: as.design.stats.fallback, ...as.design.stats.extra };
  as.exit();
  parentPort!.postMessage({ ok: true, stats });
} catch (e) {
  // Tell the writer to stop, and leave RCU so that its grace periods do not wait for us.
  Atomics.store(ctl, 1, 1);
  as?.rcu.unregisterThread();
  as?.srcu.unregisterThread();
  parentPort!.postMessage({ ok: false, error: String((e as Error).stack ?? e) });
}
