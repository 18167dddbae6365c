/**
 * Pinning a thread to one CPU, and its scheduling policy, where Linux and util-linux's taskset and chrt
 * allow it (Node has no call for either). The simulated machine runs its CPUs' threads one at a time,
 * handing the turn over by futex; on different CPUs every hand-over wakes the other CPU (an
 * inter-processor interrupt, which in a VM is an exit to the host), on one CPU it is a context switch.
 * Nothing here is needed for correctness: a thread that cannot be pinned runs where the kernel puts it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';

/** The highest-numbered CPU this process may run on (Cpus_allowed_list), or undefined off Linux. */
export function lastAllowedCpu(): number | undefined {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    const last = m?.[1]?.split(',').pop()?.split('-').pop();
    return last === undefined || !/^\d+$/.test(last) ? undefined : Number(last);
  } catch {
    return undefined;
  }
}

/** Pins the calling thread to `cpu`; false where it could not (no /proc/thread-self, no taskset, refused). */
export function pinThisThread(cpu: number): boolean {
  return onThisThread('taskset', ['-p', '-c', String(cpu)]);
}

/**
 * Puts the calling thread under SCHED_BATCH (util-linux's chrt; any user may): a thread it wakes no longer
 * preempts it at once. Threads that hand a turn to each other on one CPU then switch once per hand-over —
 * the waker gets to its own futex_wait first (the kernel lets a woken SCHED_BATCH thread wait for the
 * tick) — where a woken thread that preempts its waker inside V8's Atomics.notify needs the process-wide
 * mutex V8's futex emulation notifies under, which the waker still holds, and they switch back and forth (a turn passed
 * around 16 pinned workers: 10.5 µs a hand-over under SCHED_OTHER, 8.0 under SCHED_BATCH). False where it
 * could not.
 */
export function batchThisThread(): boolean {
  return onThisThread('chrt', ['-b', '-p', '0']);
}

/** This thread's kernel thread id (gettid()), or 0 where /proc/thread-self is not there (not Linux). */
export function currentThreadId(): number {
  try {
    const m = /task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Runs `tool …args TID` on the calling thread's TID: whether it succeeded. */
function onThisThread(tool: string, args: string[]): boolean {
  const tid = currentThreadId();
  return tid > 0 && spawnSync(tool, [...args, String(tid)], { stdio: 'ignore' }).status === 0;
}
