// A lab worker thread: attaches to the address space, runs its role, reports what it measured.
import { parentPort, workerData } from 'node:worker_threads';
import { AddressSpace, type AddressSpaceHandle } from '../designs/address-space.js';
import { UserFaultError } from '../mm/uaccess.js';
import { setWaitLimit } from '../sync/sleep.js';
import { runRole, TALLY_STRIDE, type RoleParams } from './roles.js';
import { currentThreadId } from '../util/affinity.js';

interface Job extends RoleParams {
  as: AddressSpaceHandle;
  ctl: SharedArrayBuffer;
  /** The tallies of all workers; this one's words start at index * TALLY_STRIDE. */
  tally: SharedArrayBuffer;
  /** Each worker's kernel thread id, by index, so the runner can read its CPU accounting. */
  tids: SharedArrayBuffer;
  index: number;
  waitLimitMs: number;
}

const job = workerData as Job;
Atomics.store(new Int32Array(job.tids), job.index, currentThreadId());
setWaitLimit(job.waitLimitMs); // a lost wake-up ends the run with an error instead of hanging it
const as = await AddressSpace.open(job.as);
try {
  const r = runRole(as, job, new Int32Array(job.ctl), new Int32Array(job.tally, job.index * TALLY_STRIDE * 4, TALLY_STRIDE));
  as.exit();
  parentPort!.postMessage({ ok: true, result: r }, [r.munmapUs.buffer as ArrayBuffer]);
} catch (e) {
  as.rcu.unregisterThread();
  as.srcu.unregisterThread();
  // Running out of frames is a finding about the run, reported in its results; anything else is a bug.
  const oom = e instanceof UserFaultError && e.signal === 'OOM';
  parentPort!.postMessage({ ok: false, oom, error: String((e as Error).stack ?? e) });
}
