// A lab worker thread: attaches to the address space, runs its role, reports what it measured.
import { parentPort, workerData } from 'node:worker_threads';
import { AddressSpace, type AddressSpaceHandle } from '../designs/address-space.js';
import { setWaitLimit } from '../sync/sleep.js';
import { runRole, TALLY_STRIDE, type RoleParams } from './roles.js';

interface Job extends RoleParams {
  as: AddressSpaceHandle;
  ctl: SharedArrayBuffer;
  /** The tallies of all workers; this one's words start at index * TALLY_STRIDE. */
  tally: SharedArrayBuffer;
  index: number;
  waitLimitMs: number;
}

const job = workerData as Job;
setWaitLimit(job.waitLimitMs); // a lost wake-up ends the run with an error instead of hanging it
const as = AddressSpace.attach(job.as);
try {
  const r = runRole(as, job, new Int32Array(job.ctl), new Int32Array(job.tally, job.index * TALLY_STRIDE * 4, TALLY_STRIDE));
  as.exit();
  parentPort!.postMessage({ ok: true, result: r }, [r.munmapUs.buffer as ArrayBuffer]);
} catch (e) {
  as.rcu.unregisterThread();
  as.srcu.unregisterThread();
  parentPort!.postMessage({ ok: false, error: String((e as Error).stack ?? e) });
}
