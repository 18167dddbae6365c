/**
 * Pinning a thread to one CPU, where Linux and util-linux's taskset allow it (Node has no call for a
 * thread's affinity). The simulated machine runs its CPUs' threads one at a time, handing the turn over by
 * futex; on different CPUs every hand-over wakes the other CPU (an inter-processor interrupt, which in a VM
 * is an exit to the host), on one CPU it is a context switch. Nothing here is needed for correctness: a
 * thread that cannot be pinned runs where the kernel puts it.
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
  try {
    const tid = readlinkSync('/proc/thread-self').split('/').pop()!;
    return spawnSync('taskset', ['-p', '-c', String(cpu), tid], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
}
