// A user thread for the design tests: stores a tag of its own into random pages of a region and loads it
// back, through the page tables and the design's fault handler, until told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import { createDesign } from '../../src/designs/index.js';
import { MmPages, type MmPagesHandle } from '../../src/mm/memory.js';
import { MmStruct, type MmHandle } from '../../src/mm/mm.js';
import { UserAccess, UserFaultError } from '../../src/mm/uaccess.js';
import { POISON_WORD } from '../../src/shm/arena.js';
import { Rcu, type RcuHandle } from '../../src/sync/rcu.js';
import { setWaitLimit } from '../../src/sync/sleep.js';
import { Prng } from '../../src/util/prng.js';

interface Job {
  mm: MmHandle;
  pages: MmPagesHandle;
  rcu: RcuHandle;
  design: string;
  region: number;
  npages: number;
  worker: number;
  seed: number;
  ctl: SharedArrayBuffer;
  waitLimitMs: number;
}

const job = workerData as Job;
setWaitLimit(job.waitLimitMs);
const rcu = Rcu.attach(job.rcu);
const ctl = new Int32Array(job.ctl); // [stop, failed]
try {
  rcu.registerThread();
  const mm = MmStruct.attach(job.mm);
  const pages = MmPages.attach(job.pages, rcu);
  pages.bind(mm);
  const design = createDesign(job.design, { mm, pages, rcu });
  const user = new UserAccess(pages.pt, pages.frames, rcu, (addr, flags) => design.fault(addr, flags));
  const rnd = new Prng(job.seed + job.worker);
  let stores = 0;
  let segv = 0;
  let zeroes = 0;
  for (let n = 0; Atomics.load(ctl, 0) === 0; n++) {
    const addr = job.region + rnd.below(job.npages) * 4096 + job.worker * 4; // each worker owns one word per page
    const tag = ((job.worker + 1) << 24) | (n & 0xffffff);
    try {
      user.store32(addr, tag);
      stores++;
      const v = user.load32(addr);
      if (v === POISON_WORD) throw new Error(`worker ${job.worker}: read poison at 0x${addr.toString(16)} — a freed frame was still mapped`);
      // Between the store and the load the writer may have unmapped and remapped (or zapped) the page.
      if (v === 0) zeroes++;
      else if (v !== tag) throw new Error(`worker ${job.worker}: 0x${addr.toString(16)} holds ${v.toString(16)}, stored ${tag.toString(16)}`);
    } catch (e) {
      if (!(e instanceof UserFaultError) || e.signal !== 'SIGSEGV') throw e;
      segv++; // unmapped or read-only at that moment
    }
    rcu.quiescentState();
  }
  rcu.unregisterThread();
  parentPort!.postMessage({ ok: true, stats: { stores, segv, zeroes, faults: user.faults, ...design.stats } });
} catch (e) {
  // Tell the writer to stop, and leave RCU so that its grace periods do not wait for us.
  Atomics.store(ctl, 1, 1);
  rcu.unregisterThread();
  parentPort!.postMessage({ ok: false, error: String((e as Error).stack ?? e) });
}
