// bench/designs: every locking design, same run, same machine: single-thread faults/s and the page_fault1
// pattern at 1 and 2 workers; one worker faulting while another churns mmap/mprotect/munmap on small
// unrelated regions (kept % of its churn-free rate, and × mmap-lock); munmap latency while faults that
// sleep for I/O are in flight (srcu vs srcu-sync).
// Run: npm run bench:designs [-- --design NAME ...] [--seconds S] [--reps N] [--json]
import { DESIGNS } from '../src/designs/index.js';
import { runPoint, type RunOptions } from '../src/bench/runner.js';
import type { DesignName, Entry } from '../src/bench/results.js';
import { churnKeptPct } from '../src/bench/results.js';
import { isDisturbed, throughput, throughputSpread } from '../src/report/data.js';
import { checkFlags, figure, machine, namesArg, positiveArg, printDisturbed, printMachine, printTable, wantsJson } from './harness.js';

checkFlags('bench:designs', ['--design', '--seconds', '--reps']);

const names = namesArg('bench:designs', '--design', Object.keys(DESIGNS) as DesignName[], Object.keys(DESIGNS) as DesignName[]);
const opts: RunOptions = { durationMs: positiveArg('bench:designs', '--seconds', 2) * 1000, warmupMs: 500, repetitions: positiveArg('bench:designs', '--reps', 3, true) };

const entries: Entry[] = [];
for (const d of names) {
  for (const [workload, threads] of [['page_fault1', 1], ['page_fault1', 2], ['churn', 2], ['io', 2]] as const) {
    const e = await runPoint(d, workload, threads, opts);
    entries.push(e);
    if (!wantsJson) process.stderr.write(`${d} ${workload} ${threads}: ${(e.median.faultsPerSec / 1e6).toFixed(3)} M faults/s\n`);
  }
}

const find = (d: string, w: string, t: number) => entries.find((e) => e.design === d && e.workload === w && e.threads === t)!;
if (wantsJson) {
  console.log(JSON.stringify({ bench: 'designs', machine: machine(), options: opts, entries }, null, 2));
} else {
  printMachine(machine());
  console.log(`\nMedians of ${opts.repetitions} runs of ${opts.durationMs / 1000} s after ${opts.warmupMs} ms of warm-up, the lowest and highest in brackets.`);
  console.log('page_fault1: 128 MiB per worker, every page written, unmapped, again. churn: 1 worker faulting over 64 MiB');
  console.log('(then MADV_DONTNEED) while 1 worker maps, mprotects and unmaps 16 KiB regions; kept = % of the same');
  console.log('fault worker alone. fast/fallback: faults without / with the mmap_lock (or the slower path), churn run.');
  const base = find('mmap-lock', 'churn', 2);
  /** An entry's throughput with its repetitions' range and the lab's mark if the machine disturbed it. */
  const cell = (e: Entry) => {
    const s = throughputSpread(e);
    return figure(throughput(e), s?.lo ?? NaN, s?.hi ?? NaN, isDisturbed(e));
  };
  printTable(
    ['design', 'pf1 1w faults/s', 'pf1 2w faults/s', '2w / 1w', 'churn faults/s', 'kept %', '× mmap-lock', 'fast path', 'fallback', 'retry'],
    names.map((d) => {
      const one = find(d, 'page_fault1', 1), two = find(d, 'page_fault1', 2), ch = find(d, 'churn', 2);
      return [d, cell(one), cell(two), two.median.opsPerSec / one.median.opsPerSec, cell(ch),
        churnKeptPct(ch) ?? NaN, base ? ch.median.faultsPerSec / base.median.faultsPerSec : NaN, ch.counters.fastPath, ch.counters.fallback, ch.counters.retry];
    }),
  );
  console.log('\nmunmap of a 16 KiB region while another worker faults on a file whose page-cache misses sleep 500 µs (io).');
  printTable(
    ['design', 'io faults/s', 'munmaps', 'p50 µs', 'p90 µs', 'p99 µs', 'max µs', 'p50 / srcu p50'],
    names.map((d) => {
      const e = find(d, 'io', 2);
      const l = e.munmapLatencyUs!;
      const ref = names.includes('srcu') ? find('srcu', 'io', 2).munmapLatencyUs!.p50 : NaN;
      return [d, cell(e), l.count, l.p50, l.p90, l.p99, l.max, l.p50 / ref];
    }),
  );
  printDisturbed(entries.filter(isDisturbed).map((e) => `${e.design} ${e.workload} at ${e.threads} threads: ${e.interference!.reason}`), entries.length);
}
