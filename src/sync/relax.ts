/**
 * cpu_relax() and marked scheduling points: the two places where the checker's deterministic scheduler
 * (src/check/) hooks into code that otherwise runs free. Every spin loop of mmsplit calls cpuRelax() once
 * per turn, as the kernel's do (there it is the PAUSE instruction); code that wants an interleaving point
 * of its own, with a name that shows in a replayed trace, calls schedPoint(). With no scheduler installed
 * (everywhere but inside `mmsplit check`) both are a test of one module variable.
 */
export interface SchedHooks {
  /** A spin loop found nothing changed: let another thread run until something is written. */
  relax(): void;
  /** A named point where another thread may run next. */
  point(label: string): void;
}

let hooks: SchedHooks | null = null;

export function setSchedHooks(h: SchedHooks | null): void {
  hooks = h;
}

export function cpuRelax(): void {
  if (hooks !== null) hooks.relax();
}

export function schedPoint(label: string): void {
  if (hooks !== null) hooks.point(label);
}
