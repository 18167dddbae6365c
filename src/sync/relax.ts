/**
 * cpu_relax(), marked scheduling points and page-sized memory traffic: the places where the checker's
 * deterministic scheduler (src/check/) and the simulated machine (src/sim/) hook into code that otherwise
 * runs free. Every spin loop of mmsplit calls cpuRelax() once
 * per turn, as the kernel's do (there it is the PAUSE instruction); code that wants an interleaving point
 * of its own, with a name that shows in a replayed trace, calls schedPoint(). With no scheduler installed
 * (everywhere but inside `mmsplit check`) both are a test of one module variable.
 */
import { covered } from '../util/coverage.js';

export interface SchedHooks {
  /** A spin loop found nothing changed: let another thread run until something is written. */
  relax(): void;
  /** A named point where another thread may run next. */
  point(label: string): void;
  /** memoryTraffic(): `bytes` were streamed through memory since `startedAt` (what memoryStart() returned). */
  memory(bytes: number, startedAt: number): void;
  /** memoryStart(): the hooks' own mark (a simulated machine reads its real clock). */
  memoryStart(): number;
}

let hooks: SchedHooks | null = null;

export function setSchedHooks(h: SchedHooks | null): void {
  hooks = h;
}

export function cpuRelax(): void {
  if (hooks !== null) hooks.relax();
}

export function schedPoint(label: string): void {
  covered(label);
  if (hooks !== null) hooks.point(label);
}

/**
 * Around a page zeroed or copied: `const t = memoryStart(); …fill or copy…; memoryTraffic(bytes, t)`. A
 * simulated machine charges the bytes to its shared memory bandwidth (page_fault1 is bandwidth-bound on many
 * cores) rather than to the thread's own code; anywhere else both are a test of one module variable.
 */
export function memoryStart(): number {
  return hooks !== null ? hooks.memoryStart() : 0;
}

export function memoryTraffic(bytes: number, startedAt: number): void {
  if (hooks !== null) hooks.memory(bytes, startedAt);
}

/** Quick looks a waiter takes before it starts timing its spin. */
const SPIN_LOOKS = 64;
/**
 * How long a waiter spins, ms, before it sleeps: longer than a critical section held on a running CPU. The
 * kernel spins while the owner runs (rwsem_optimistic_spin); we cannot see whether it runs, so we bound the
 * spin by time instead.
 */
export const SPIN_MS = 0.02;
/**
 * How long an rwsem's waiter spins, ms, on real threads (rwsem.ts says why it is longer than a spinlock's).
 * Under the checker and the simulated machine a waiter spins SPIN_MS of virtual time whatever it asks: there
 * the bound only decides after how many turns a waiter queues and sleeps, and the checker's interleavings,
 * its replay tokens and the simulated figures were all taken with that bound.
 */
export const RWSEM_SPIN_MS = 0.2;
/** spinTurn()'s answer when the waiter has spun long enough and should sleep. */
export const SPIN_DONE = -2;

/**
 * One turn of a bounded spin: SPIN_LOOKS quick looks, then looks for up to `limitMs` (SPIN_MS under a
 * scheduler). Pass -1 on the first turn and the returned value on the next ones; SPIN_DONE means stop
 * spinning and sleep. Allocates nothing.
 */
export function spinTurn(n: number, spunSince: number, limitMs: number = SPIN_MS): number {
  if (n >= SPIN_LOOKS) {
    const now = performance.now();
    if (spunSince < 0) spunSince = now;
    else if (now - spunSince >= (hooks === null ? limitMs : SPIN_MS)) return SPIN_DONE;
  }
  cpuRelax();
  return spunSince;
}
