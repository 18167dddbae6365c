// One thread of the checker's address space: for every job on the board (board.ts) it attaches to the
// run's address space, waits for its turn (or, in stress mode, for the start), runs its scenario role and
// the thread's exit, and writes into its mailbox what its accesses returned — or the violation it hit, with
// its part of the trace. The scheduler is installed once; a worker serves run after run until a run fails
// (then the controller replaces it). The address space's handle comes by message, only when the
// controller's buffers change: every run of a search reuses them.
import { parentPort, workerData } from 'node:worker_threads';
import { AddressSpace, type AddressSpaceHandle } from '../designs/address-space.js';
import { loadDesignModule } from '../designs/registry.js';
import type { MmFile } from '../mm/mm.js';
import { DONE, GO, JOB, Mailbox, READY, THREADS, waitChange } from './board.js';
import { checkScenario } from './catalog.js';
import type { RoleResult, ScenarioParams } from './scenarios.js';
import { installScheduler, SchedControl, ScheduleAborted, ScheduledThread, setActive, type TraceEntry } from './sched.js';
import { collectCoverage } from '../util/coverage.js';
import { describeError } from '../util/unwind.js';

/** A run, as the controller writes it on the board for every worker. */
export interface RunJob {
  /** The run's number in the pool: its report carries it back. */
  serial: number;
  /** The handle of the address space the run uses, by its HandleMessage.epoch. */
  epoch: number;
  /** The mm's struct files (each thread keeps its own table). */
  files: [number, MmFile][];
  scenario: string;
  params: ScenarioParams;
  /** Under the scheduler, or free on real cores (stress). */
  scheduled: boolean;
  trace: boolean;
}

/** What a worker writes into its mailbox at the end of a run. */
export interface RunReport {
  /** RunJob.serial of the run reported on. */
  serial: number;
  type: 'done' | 'failed' | 'aborted';
  result?: RoleResult;
  stats?: Record<string, number>;
  coverage?: [string, number][];
  error?: string;
  stack?: string;
  log: TraceEntry[];
}

export interface CheckWorkerData {
  sched: SharedArrayBuffer;
  board: SharedArrayBuffer;
  job: SharedArrayBuffer;
  reply: SharedArrayBuffer;
  /** This worker's thread number in every run. */
  me: number;
}

/** The message that gives a worker the address space's handle for the jobs of this epoch on. */
export interface HandleMessage {
  epoch: number;
  handle: Omit<AddressSpaceHandle, 'files'>;
}

const data = workerData as CheckWorkerData;
const ctl = new SchedControl(data.sched);
const board = new Int32Array(data.board);
const jobBox = new Mailbox(data.job);
const replyBox = new Mailbox(data.reply);
const me = data.me;
installScheduler();

/** The handles of the address spaces the controller's runs use (two, set up in turn), by epoch. */
const handles = new Map<number, HandleMessage['handle']>();
let handleArrived: (() => void) | undefined;
parentPort!.on('message', async (m: HandleMessage) => {
  // A design loaded from a file is imported before any run uses it, outside the schedule.
  if (m.handle.designSource !== undefined) await loadDesignModule(m.handle.designSource);
  handles.set(m.epoch, m.handle); // (two in all: a pool's address spaces keep their buffers from run to run)
  handleArrived?.();
});

/** Runs one job; returns the report. Outside the run (no thread active) Atomics are the real ones. */
function run(job: RunJob, threads: number, handle: HandleMessage['handle']): RunReport {
  const thread = job.scheduled ? new ScheduledThread(ctl, me, job.trace) : null;
  try {
    const role = checkScenario(job.scenario).role;
    const note = (text: string) => thread?.note(text);
    if (thread) thread.awaitTurn();
    else if (Atomics.add(board, READY, 1) + 1 === threads) {
      Atomics.store(board, GO, 1); // the last at the start line lets everyone go
      Atomics.notify(board, GO);
    } else while (Atomics.load(board, GO) === 0) Atomics.wait(board, GO, 0, 1000);
    setActive(thread);
    const coverage = new Map<string, number>();
    collectCoverage(coverage);
    // Attached under the schedule: which RCU slot and which records each thread gets is part of the run.
    const as = AddressSpace.attach({ ...handle, files: job.files });
    const result = role({ as, params: job.params, thread: me, note });
    note('exit: barriers, then leaves RCU');
    as.exit();
    const { extra, ...counts } = as.design.stats;
    const stats: Record<string, number> = { ...counts, ...extra };
    collectCoverage(null);
    setActive(null);
    thread?.finish();
    return { serial: job.serial, type: 'done', result, stats, coverage: [...coverage], log: thread?.log ?? [] };
  } catch (e) {
    collectCoverage(null);
    setActive(null);
    const err = e as Error;
    const aborted = err instanceof ScheduleAborted;
    if (!aborted && thread) {
      thread.note(`✗ ${describeError(err)}`);
      ctl.abort();
    }
    return { serial: job.serial, type: aborted ? 'aborted' : 'failed', error: describeError(err), ...(err.stack !== undefined ? { stack: err.stack } : {}), log: thread?.log ?? [] };
  }
}

async function serve(): Promise<never> {
  for (let seen = 0; ; ) {
    // Waiting asynchronously keeps the event loop turning between runs: the handle's message, terminate().
    await waitChange(board, JOB, seen);
    const now = Atomics.load(board, JOB);
    if (now === seen) continue; // woken, but no new job (a job run twice would join the next run's schedule)
    seen = now;
    const threads = board[THREADS]!;
    if (me >= threads) continue;
    const job = jobBox.read() as RunJob;
    while (!handles.has(job.epoch)) await new Promise<void>((resolve) => (handleArrived = resolve));
    const report = run(job, threads, handles.get(job.epoch)!);
    replyBox.write(report);
    // Only the last report wakes the controller (a crash wakes it from its 'error' handler).
    if (Atomics.add(board, DONE, 1) + 1 === threads) Atomics.notify(board, DONE);
  }
}

void serve();
