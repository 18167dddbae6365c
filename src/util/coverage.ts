/**
 * Coverage of kernel paths (`mmsplit check --coverage`): code marks the paths it takes by name —
 * covered('__split_vma: new VMA below') — and a checker worker collects the marks of each run. With no
 * collector installed (everywhere but inside the checker) covered() is a test of one module variable: it
 * is no yield point and changes nothing the code does.
 */
let counts: Map<string, number> | null = null;

/** Starts collecting into `into` (null: stops). */
export function collectCoverage(into: Map<string, number> | null): void {
  counts = into;
}

export function covered(path: string): void {
  if (counts !== null) counts.set(path, (counts.get(path) ?? 0) + 1);
}
