/**
 * What the report derives from a results file: points at the most threads, ratios against mmap-lock and
 * against one thread, churn kept %, fast-path outcome rates. Shared by the charts, the HTML and the summary.
 */
import {
  BASELINE_DESIGNS,
  DESIGN_NAMES,
  churnKeptPct,
  type DesignName,
  type Entry,
  type LabResults,
  type WorkloadName,
} from '../bench/results.js';

/**
 * One colour per design, the same in every chart: the mmap_lock baselines in greys, the thread's designs in
 * Tableau 10 hues (srcu and srcu-sync, whose munmap latency is the contrast to see, in blue and teal).
 */
export const DESIGN_COLORS: Record<DesignName, string> = {
  'mmap-lock': '#4a4a4a',
  'mmap-lock-rbtree': '#a8a8a8',
  'vma-refcount': '#f28e2b',
  'rcu-fault': '#59a14f',
  srcu: '#4e79a7',
  'srcu-sync': '#76b7b2',
  spf: '#e15759',
  'per-vma-lock': '#b07aa1',
};

/** What one operation is, per workload (the y axis of the throughput chart). */
export const WORKLOAD_UNITS: Record<WorkloadName, { ops: string; what: string }> = {
  page_fault1: { ops: 'faults/s', what: 'anonymous memory: touch each page' },
  page_fault2: { ops: 'faults/s', what: 'private file mapping: CoW faults' },
  page_fault3: { ops: 'faults/s', what: 'shared file mapping: page-cache faults' },
  mmap1: { ops: 'mmap+munmap/s', what: 'mmap + munmap, nothing touched' },
  mmap2: { ops: 'mmap+munmap/s', what: "mmap + munmap (will-it-scale's mmap2)" },
  churn: { ops: 'faults/s (fault workers)', what: 'faults vs mmap/munmap/mprotect elsewhere' },
  io: { ops: 'faults/s', what: 'page-cache misses that sleep on the read' },
  trace: { ops: 'trace events/s', what: "a real program's strace log replayed" },
};

/** Designs in the results, in the canonical order. */
export function designsOf(r: LabResults): DesignName[] {
  return DESIGN_NAMES.filter((d) => r.configuration.designs.includes(d));
}

/** Workloads in the results' configured order that have at least one entry. */
export function workloadsOf(r: LabResults): WorkloadName[] {
  return r.configuration.workloads.filter((w) => r.entries.some((e) => e.workload === w));
}

export function isBaseline(d: DesignName): boolean {
  return BASELINE_DESIGNS.includes(d);
}

export function findEntry(r: LabResults, design: DesignName, workload: WorkloadName, threads: number): Entry | undefined {
  return r.entries.find((e) => e.design === design && e.workload === workload && e.threads === threads);
}

/** The most threads any design was measured at for a workload (undefined if no entry). */
export function maxThreads(r: LabResults, workload: WorkloadName): number | undefined {
  const ts = r.entries.filter((e) => e.workload === workload).map((e) => e.threads);
  return ts.length ? Math.max(...ts) : undefined;
}

/** The fewest threads any design was measured at for a workload (1 unless the workload needs more). */
export function minThreads(r: LabResults, workload: WorkloadName): number | undefined {
  const ts = r.entries.filter((e) => e.workload === workload).map((e) => e.threads);
  return ts.length ? Math.min(...ts) : undefined;
}

/** Total faults over the measured repetitions. */
export function totalFaults(e: Entry): number {
  return e.samples.reduce((a, s) => a + s.faults, 0);
}

export interface OutcomeRates {
  /** % of faults completed on the fast path. */
  fastPathPct: number;
  /** Fast-path retries per 100 faults. */
  retryPct: number;
  /** % of faults that fell back to the slower path. */
  fallbackPct: number;
}

/** Fast-path outcome rates of an entry; undefined for baselines (no fast path) and entries without faults. */
export function outcomeRates(e: Entry): OutcomeRates | undefined {
  const faults = totalFaults(e);
  if (isBaseline(e.design) || faults === 0) return undefined;
  const c = e.counters;
  return { fastPathPct: (c.fastPath / faults) * 100, retryPct: (c.retry / faults) * 100, fallbackPct: (c.fallback / faults) * 100 };
}

/** The entry's throughput as compared across designs: faults/s for churn (its ops), ops/s otherwise. */
export function throughput(e: Entry): number {
  return e.workload === 'churn' ? e.median.faultsPerSec : e.median.opsPerSec;
}

/** Throughput relative to mmap-lock on the same workload and threads. */
export function timesMmapLock(r: LabResults, e: Entry): number | undefined {
  const base = findEntry(r, 'mmap-lock', e.workload, e.threads);
  if (!base || !(throughput(base) > 0)) return undefined;
  return throughput(e) / throughput(base);
}

/** Throughput at this entry's threads over the same design's at the fewest threads measured. */
export function scaling(r: LabResults, e: Entry): number | undefined {
  const t0 = minThreads(r, e.workload);
  if (t0 === undefined) return undefined;
  const first = findEntry(r, e.design, e.workload, t0);
  if (!first || !(throughput(first) > 0)) return undefined;
  return throughput(e) / throughput(first);
}

export { churnKeptPct };

// ---------------------------------------------------------------------------------------------------------
// Number formatting shared by the HTML and the terminal

/** 1234567 → "1,234,567"; small non-integers keep two or three significant digits. */
export function fmtCount(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** A percentage with precision that keeps small rates visible: 97.0%, 2.3%, 0.21%, 0.004%, <0.001%. */
export function fmtPct(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (x === 0) return '0%';
  const a = Math.abs(x);
  if (a >= 10) {
    // Never round a rate short of 100% up to "100.0%": 99.996% is not every fault.
    for (const d of [1, 2, 3]) if (x >= 100 || x.toFixed(d) !== '100.' + '0'.repeat(d)) return `${x.toFixed(d)}%`;
    return '>99.999%';
  }
  if (a >= 1) return `${x.toFixed(2)}%`;
  if (a >= 0.01) return `${x.toFixed(2)}%`;
  if (a >= 0.001) return `${x.toFixed(3)}%`;
  return '<0.001%';
}

/** 14.72 → "14.7×", 1.046 → "1.05×". */
export function fmtRatio(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  return x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`;
}

/** Microseconds with three significant digits: 5.62 µs, 72.4 µs, 2,610 µs. */
export function fmtUs(x: number): string {
  if (x >= 1000) return `${Math.round(x).toLocaleString('en-US')} µs`;
  return `${Number(x.toPrecision(3))} µs`;
}

/** 1234567 → "1.23 M". */
export function fmtSi(x: number): string {
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toPrecision(3)} G`;
  if (a >= 1e6) return `${(x / 1e6).toPrecision(3)} M`;
  if (a >= 1e3) return `${(x / 1e3).toPrecision(3)} k`;
  return `${x.toPrecision(3)}`;
}

export function fmtBytes(n: number): string {
  const gib = n / 2 ** 30;
  if (gib >= 1) return `${Number(gib.toPrecision(3))} GiB`;
  return `${Number((n / 2 ** 20).toPrecision(3))} MiB`;
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toPrecision(3))} s` : `${Number(ms.toPrecision(3))} ms`;
}

/** One line per design, in the thread's vocabulary, for the report's key. */
export const DESIGN_DESCRIPTIONS: Record<DesignName, string> = {
  'mmap-lock': 'every fault under down_read(&mm->mmap_lock); VMAs in the maple tree (phase 1)',
  'mmap-lock-rbtree': 'the same, with the augmented rbtree Linux used before 6.1',
  'vma-refcount': 'VMA found under rcu_read_lock and pinned with refcount_inc_not_zero (phase 2)',
  'rcu-fault': 'the whole fault under rcu_read_lock, GFP_NOWAIT; falls back to the refcount (phase 3)',
  srcu: 'the whole fault under srcu_read_lock; munmap frees the VMA with call_srcu',
  'srcu-sync': 'as srcu, but munmap waits in synchronize_srcu before freeing',
  spf: 'speculative fault: seqcount snapshot, validated again under the PTE lock',
  'per-vma-lock': 'Linux 6.4: lock_vma_under_rcu, vm_lock_seq against mm_lock_seq',
};
