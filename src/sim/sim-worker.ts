// One simulated CPU: a worker thread that runs one lab role (src/workloads/roles.ts) under the simulated
// machine's scheduler, one run after another (pool.ts): each run is a message, and its address space,
// machine and scheduler state are the run's own. Its phases follow virtual time: at each of the machine's
// events the thread whose clock passes it first copies every worker's tally (a sample's cut) and moves the
// phase on (measuring at the first event, stop at the last).
import { parentPort, workerData } from 'node:worker_threads';
import { AddressSpace, type AddressSpaceHandle } from '../designs/address-space.js';
import { loadDesignModule } from '../designs/registry.js';
import { UserFaultError } from '../mm/uaccess.js';
import { installScheduler, SchedControl, ScheduleAborted, setActive } from '../check/sched.js';
import { batchThisThread, pinThisThread } from '../util/affinity.js';
import { describeError } from '../util/unwind.js';
import { runRole, TALLY_CHURN, TALLY_OPS, TALLY_STRIDE, type RoleParams } from '../workloads/roles.js';
import { abortMachine, SimThread, type SimBuffers } from './machine.js';
import type { CostedBy, CostSamples } from './costs.js';
import type { MachineProfile } from './profile.js';

/** What a worker is started with. */
export interface SimWorkerData {
  /** The CPU to pin this thread to (SimPool's oneCpu), if any. */
  pinTo: number | undefined;
}

export interface SimJob {
  sched: SharedArrayBuffer;
  sim: SimBuffers;
  profile: MachineProfile;
  as: AddressSpaceHandle;
  role: RoleParams;
  index: number;
  workers: number;
  /** The roles' control words: [phase, workers running, io faults in flight]. */
  ctl: SharedArrayBuffer;
  tally: SharedArrayBuffer;
  /** Per event, every worker's tally as it stood then (Int32, events × workers × TALLY_STRIDE). */
  cuts: SharedArrayBuffer;
  events: number;
}

/** What a worker posts: ready (waiting for its turn), then how its run ended. */
export interface SimReply {
  type: 'done' | 'failed' | 'aborted' | 'ready';
  munmapUs?: number[];
  extraNames?: string[];
  costs?: CostSamples | null;
  /** On a table: how the worker's segments were costed. */
  costedBy?: CostedBy | null;
  error?: string;
  oom?: boolean;
}

async function run(job: SimJob): Promise<void> {
  const ctl = new SchedControl(job.sched);
  const phase = new Int32Array(job.ctl);
  const tally = new Int32Array(job.tally);
  const cuts = new Int32Array(job.cuts);
  const span = job.workers * TALLY_STRIDE;
  /** The k-th event: a cut of every tally; measuring after the first, stopping at the last. */
  const onEvent = (k: number): void => {
    cuts.set(tally.subarray(0, span), k * span);
    phase[0] = k === job.events - 1 ? 2 : 1; // plain stores: only one thread runs, and hand-overs are fences
  };
  // Its first operation done: a page touched, a lookup or a churn call made (roles.ts publishes them).
  const own = job.index * TALLY_STRIDE;
  const begun = (): boolean => tally[own + TALLY_OPS] !== 0 || tally[own + TALLY_CHURN] !== 0;
  const thread = new SimThread(ctl, job.index, job.sim, job.profile, onEvent, begun);
  const post = (m: SimReply) => parentPort!.postMessage(m);
  try {
    if (job.as.designSource !== undefined) await loadDesignModule(job.as.designSource);
    post({ type: 'ready' });
    thread.awaitTurn();
    setActive(thread);
    // Attached under the schedule: which RCU slot and which records each thread gets is part of the run.
    const as = AddressSpace.attach(job.as);
    thread.nameBuffers({ as, role: job.role, ctl: phase, tally });
    const r = runRole(as, job.role, phase, new Int32Array(job.tally, job.index * TALLY_STRIDE * 4, TALLY_STRIDE));
    as.exit();
    setActive(null);
    thread.finish();
    post({ type: 'done', munmapUs: [...r.munmapUs], extraNames: r.extraNames, costs: thread.recorder?.export() ?? null, costedBy: thread.costedBy });
  } catch (e) {
    setActive(null);
    const err = e as Error;
    const aborted = err instanceof ScheduleAborted;
    if (!aborted) abortMachine(job.sim, ctl);
    const oom = err instanceof UserFaultError && err.signal === 'OOM';
    post({ type: aborted ? 'aborted' : 'failed', oom, error: `${describeError(err)}\n${err.stack ?? ''}` });
  }
}

const { pinTo } = (workerData ?? {}) as Partial<SimWorkerData>;
if (pinTo !== undefined) {
  pinThisThread(pinTo);
  batchThisThread();
}
installScheduler();
// One run at a time: the next message comes only after this one's reply.
parentPort!.on('message', (job: SimJob) => void run(job));
