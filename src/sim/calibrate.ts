/**
 * `mmsplit simulate --calibrate`: measures this machine's profile (profile.ts) with the primitives the lab's
 * threads use — worker threads, Atomics on shared memory, page zeroing by TypedArray.set — so that a
 * simulated 1 or 2 CPUs can be set beside a real run here. Each figure is the median of several trials.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { median } from '../bench/results.js';
import type { MachineProfile } from './profile.js';

/** What one calibration worker does, by kind; posts its result (ns, or bytes/ns). */
export interface ProbeJob {
  kind: 'cas-ping' | 'cas-pong' | 'futex-ping' | 'futex-pong' | 'zero' | 'compute';
  sab: SharedArrayBuffer;
  rounds: number;
  /** zero: which slice of the buffer this worker zeroes. */
  slice?: number;
}

function probe(jobs: ProbeJob[]): Promise<number[]> {
  return Promise.all(jobs.map((job) => new Promise<number>((resolve, reject) => {
    const w = new Worker(new URL('./probe-worker.js', import.meta.url), { workerData: job });
    w.once('message', (m: number) => resolve(m));
    w.once('error', reject);
  })));
}

/** One-way cache-line hand-over: two threads take turns incrementing one word (round trip / 2), ns. */
async function lineTransfer(): Promise<number> {
  const sab = new SharedArrayBuffer(64);
  const [ns] = await probe([{ kind: 'cas-ping', sab, rounds: 200_000 }, { kind: 'cas-pong', sab, rounds: 200_000 }]);
  return ns!;
}

/** From a notify to the woken thread running: two threads hand a turn to each other through futexes (round trip / 2), ns. */
async function wakeUp(): Promise<number> {
  const sab = new SharedArrayBuffer(64);
  const [ns] = await probe([{ kind: 'futex-ping', sab, rounds: 5_000 }, { kind: 'futex-pong', sab, rounds: 5_000 }]);
  return ns!;
}

/** Zeroing pages 4 KiB at a time, as allocZeroed does, on `threads` threads at once: bytes/ns in all. */
async function zeroing(threads: number): Promise<number> {
  const slice = 64 << 20; // past the caches
  const sab = new SharedArrayBuffer(slice * threads);
  new Uint8Array(sab).fill(1); // the host backs it first
  const rates = await probe(Array.from({ length: threads }, (_, i) => ({ kind: 'zero' as const, sab, rounds: 8, slice: i })));
  return rates.reduce((a, b) => a + b, 0);
}

/** Steps of the compute probe: a typed-array walk, each step's index hanging on the last (probe-worker.ts). */
const COMPUTE_STEPS = 20_000_000;

/**
 * How fast code like the designs' runs on each of `threads` threads at once, against one thread alone: the
 * compute probe (typed-array reads and writes in the caches, dependent branches) alone, then on every
 * thread at once. Below 1 where CPUs share a core's execution units (SMT siblings, or vCPUs whose host
 * threads are).
 */
async function busySpeed(threads: number): Promise<number> {
  const job = { kind: 'compute' as const, sab: new SharedArrayBuffer(4), rounds: COMPUTE_STEPS };
  const [alone] = await probe([job]);
  const together = await probe(Array.from({ length: threads }, () => job));
  return median(together) / alone!;
}

/** Hardware threads per core as Linux reports them (cpu0's thread siblings), 1 where it does not say. */
function reportedThreadsPerCore(): number {
  try {
    const list = fs.readFileSync('/sys/devices/system/cpu/cpu0/topology/thread_siblings_list', 'utf8').trim();
    return list.split(',').reduce((n, part) => {
      const [a, b] = part.split('-').map(Number);
      return n + (b === undefined ? 1 : b! - a! + 1);
    }, 0) || 1;
  } catch {
    return 1;
  }
}

/** A call that returns at once (futex_wait on a changed word): the system call's cost here, ns. */
function futexCall(): number {
  const w = new Int32Array(new SharedArrayBuffer(4));
  const n = 100_000;
  const t = performance.now();
  for (let i = 0; i < n; i++) Atomics.wait(w, 0, 1);
  return ((performance.now() - t) * 1e6) / n;
}

/** One turn of a spin loop: look at a word, cpu_relax() (which is a call and nothing more in JavaScript), ns. */
function relaxTurn(): number {
  const w = new Int32Array(new SharedArrayBuffer(4));
  const n = 5_000_000;
  let s = 0;
  const t = performance.now();
  for (let i = 0; i < n; i++) s += Atomics.load(w, 0);
  return ((performance.now() - t) * 1e6) / n + s; // s is 0: using it keeps the loop from being optimised away
}

async function trials(n: number, f: () => number | Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await f());
  return median(xs);
}

/** Below this speed with every CPU busy, CPUs share a core (5% under alone: more than the probe's noise). */
const SHARED_CORE = 0.95;

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const fmt = (x: number) => `${Math.round(x * 100)}%`;

/** Measures this machine; `progress` hears of each figure. */
export async function calibrateMachine(progress?: (what: string) => void): Promise<MachineProfile> {
  const cores = os.availableParallelism();
  progress?.('cache-line transfer');
  const line = await trials(5, lineTransfer);
  progress?.('futex wake-up');
  const wake = await trials(5, wakeUp);
  progress?.('futex call, spin turn');
  const futex = await trials(5, futexCall);
  const relax = await trials(5, relaxTurn);
  progress?.('memory bandwidth');
  const core = await trials(3, () => zeroing(1));
  const all = await trials(3, () => zeroing(cores));
  progress?.('CPUs busy together');
  const together = cores > 1 ? await trials(5, () => busySpeed(cores)) : 1;
  // CPUs that slow each other share a core: SMT siblings as Linux reports them, or, where it reports none
  // (a VM whose vCPUs run on one host core's threads), pairs of CPUs.
  const reported = reportedThreadsPerCore();
  const perCore = reported > 1 ? reported : together < SHARED_CORE && cores % 2 === 0 ? 2 : 1;
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return {
    name: 'this-machine',
    description: `${cores} × ${cpu}, ${os.type()} ${os.release()}, Node ${process.version}`,
    source: `measured by \`mmsplit simulate --calibrate\` on ${new Date().toISOString().slice(0, 10)}: CAS ping-pong (one way), futex ping-pong (one way), Atomics.wait on a changed word, a load-and-relax spin turn, 4 KiB page zeroing by TypedArray.set on 1 and ${cores} threads, a typed-array walk alone and on ${cores} threads at once (${fmt(together)} of its speed alone; threads per core: ${reported > 1 ? 'as Linux reports them' : perCore > 1 ? 'Linux reports none, the CPUs slow each other as pairs of threads of a core would' : 'one'}) (medians of 3–5 trials)`,
    cpus: cores,
    sockets: 1,
    lineTransferNs: round(line),
    remoteLineTransferNs: round(line),
    wakeUpNs: Math.round(wake),
    futexNs: round(futex),
    relaxNs: round(relax, 2),
    coreBandwidthGBs: round(core, 2),
    memoryBandwidthGBs: round(Math.max(all, core), 2),
    threadsPerCore: perCore,
    siblingSpeed: perCore > 1 ? round(Math.min(1, together), 2) : 1,
  };
}
