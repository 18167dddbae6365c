/**
 * How much CPU a lab point's workers really got, and how busy the rest of the machine was: read from the
 * kernel's own accounting without stopping anyone, so that a figure measured while the host's scheduler
 * took the CPUs away can be told from a property of the design.
 *
 * - Each worker thread: /proc/self/task/TID/schedstat — nanoseconds on a CPU, and nanoseconds runnable but
 *   waiting on a run queue (a thread that waits there was preempted or could not be placed: that is
 *   interference; a thread that sleeps on a futex is not counted there) — and /proc/self/task/TID/status's
 *   voluntary and involuntary context switches (how often it slept, how often it was preempted).
 * - The machine: /proc/stat's first line (all CPUs) less this process's own ticks from /proc/self/stat;
 *   steal time (another guest of the hypervisor running on our CPUs) counts as busy.
 *
 * Linux only; elsewhere every reading is undefined and the runner records none.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { SampleCpu } from './results.js';

/** [ns on a CPU, ns on a run queue, voluntary switches, involuntary switches] of a thread of this process. */
function threadSched(tid: number): [number, number, number, number] | undefined {
  try {
    const st = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ');
    const status = fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
    const vol = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status);
    const invol = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status);
    return [Number(st[0]), Number(st[1]), vol ? Number(vol[1]) : 0, invol ? Number(invol[1]) : 0];
  } catch {
    return undefined;
  }
}

/** [busy ticks, all ticks] of the whole machine (/proc/stat "cpu" line), or undefined. */
function machineTicks(): [number, number] | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const all = v.reduce((a, b) => a + b, 0);
    return [all - v[3]! - v[4]!, all];
  } catch {
    return undefined;
  }
}

/** utime + stime of this process, ticks (every thread, the workers included), or undefined. */
function processTicks(): number | undefined {
  try {
    const s = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // the command name may hold spaces
    return Number(f[11]) + Number(f[12]); // fields 14 and 15 of proc(5)
  } catch {
    return undefined;
  }
}

export interface CpuReading {
  /** The workers' [ns on a CPU, ns on a run queue, sleeps, preemptions], summed; undefined if one could not be read. */
  workers?: [number, number, number, number];
  machine?: [number, number];
  process?: number;
}

/** Reads the accounting of the workers `tids` (kernel thread ids; 0 = unknown) and of the machine. */
export function readCpu(tids: ArrayLike<number>): CpuReading {
  const r: CpuReading = {};
  const sum: [number, number, number, number] = [0, 0, 0, 0];
  let ok = tids.length > 0;
  for (let i = 0; i < tids.length && ok; i++) {
    const s = tids[i]! > 0 ? threadSched(tids[i]!) : undefined;
    if (s) for (let k = 0; k < 4; k++) sum[k] += s[k]!;
    else ok = false;
  }
  if (ok) r.workers = sum;
  const m = machineTicks();
  const p = processTicks();
  if (m) r.machine = m;
  if (p !== undefined) r.process = p;
  return r;
}

/**
 * The sample's CPU accounting between two readings, or undefined if the kernel's could not be read.
 * `threadMs` is what the interval held for the workers (workers × its length). schedstat charges a wait on
 * a run queue when it ends (sched_info_arrive()), so a wait that began before the interval is charged to it
 * whole: beside busy processes a 1-worker sample once read 328 ms on a CPU or waiting in 218 ms, and the
 * results file that carried it was refused. The wait is cut to what the interval can hold.
 */
export function cpuBetween(a: CpuReading, b: CpuReading, threadMs: number): SampleCpu | undefined {
  if (!a.workers || !b.workers || !a.machine || !b.machine || a.process === undefined || b.process === undefined) return undefined;
  const all = b.machine[1] - a.machine[1];
  const otherTicks = Math.max(0, b.machine[0] - a.machine[0] - (b.process - a.process));
  const onCpuMs = (b.workers[0] - a.workers[0]) / 1e6;
  return {
    workersOnCpuMs: onCpuMs,
    workersRunqueueMs: Math.min((b.workers[1] - a.workers[1]) / 1e6, Math.max(0, threadMs - onCpuMs)),
    workersSleeps: b.workers[2] - a.workers[2],
    workersPreemptions: b.workers[3] - a.workers[3],
    otherBusyCpus: all > 0 ? Math.min(os.availableParallelism(), (otherTicks / all) * os.availableParallelism()) : 0,
  };
}
