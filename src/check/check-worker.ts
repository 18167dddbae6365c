// One thread of the checker's address space: attaches to the run's address space, waits for its turn (or,
// in stress mode, for the start), runs its scenario role and the thread's exit, and reports what its
// accesses returned — or the violation it hit, with its part of the trace. The scheduler is installed once;
// a worker serves run after run until a run fails (then the controller replaces it).
import { parentPort, workerData } from 'node:worker_threads';
import { AddressSpace, type AddressSpaceHandle } from '../designs/address-space.js';
import { loadDesignModule } from '../designs/registry.js';
import { checkScenario } from './catalog.js';
import type { ScenarioParams } from './scenarios.js';
import { installScheduler, SchedControl, ScheduleAborted, ScheduledThread, setActive } from './sched.js';
import { collectCoverage } from '../util/coverage.js';
import { describeError } from '../util/unwind.js';

export interface RunJob {
  as: AddressSpaceHandle;
  scenario: string;
  params: ScenarioParams;
  thread: number;
  /** Under the scheduler, or free on real cores (stress). */
  scheduled: boolean;
  trace: boolean;
}

const ctl = new SchedControl((workerData as { sched: SharedArrayBuffer }).sched);
const go = new Int32Array((workerData as { go: SharedArrayBuffer }).go);
installScheduler();

parentPort!.on('message', async (job: RunJob) => {
  const thread = job.scheduled ? new ScheduledThread(ctl, job.thread, job.trace) : null;
  try {
    // A design loaded from a file is imported before the run starts, outside the schedule.
    if (job.as.designSource !== undefined) await loadDesignModule(job.as.designSource);
    const role = checkScenario(job.scenario).role;
    const note = (text: string) => thread?.note(text);
    parentPort!.postMessage({ type: 'ready' });
    if (thread) thread.awaitTurn();
    else while (Atomics.load(go, 0) === 0) Atomics.wait(go, 0, 0, 1000);
    setActive(thread);
    const coverage = new Map<string, number>();
    collectCoverage(coverage);
    // Attached under the schedule: which RCU slot and which records each thread gets is part of the run.
    const as = AddressSpace.attach(job.as);
    const result = role({ as, params: job.params, thread: job.thread, note });
    note('exit: barriers, then leaves RCU');
    as.exit();
    const stats = { ...as.design.stats, extra: undefined, ...as.design.stats.extra };
    collectCoverage(null);
    setActive(null);
    thread?.finish();
    parentPort!.postMessage({ type: 'done', result, stats, coverage: [...coverage], log: thread?.log ?? [] });
  } catch (e) {
    collectCoverage(null);
    setActive(null);
    const err = e as Error;
    const aborted = err instanceof ScheduleAborted;
    if (!aborted && thread) {
      thread.note(`✗ ${describeError(err)}`);
      ctl.abort();
    }
    parentPort!.postMessage({ type: aborted ? 'aborted' : 'failed', error: describeError(err), stack: err.stack, log: thread?.log ?? [] });
  }
});
