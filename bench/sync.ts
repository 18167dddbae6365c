// bench/sync: the uncontended cost of each primitive, in ns per operation pair, timed in batches; and
// grace-period latency — synchronize_srcu versus call_srcu — with readers active on other threads.
// Run: npm run bench:sync [-- --json]
import { Worker } from 'node:worker_threads';
import { Arena } from '../src/shm/arena.js';
import {
  downRead,
  downWrite,
  mutexLock,
  mutexUnlock,
  Rcu,
  readSeqcountBegin,
  readSeqcountRetry,
  refcountDecAndTest,
  refcountIncNotZero,
  refcountSet,
  spinLock,
  spinUnlock,
  Srcu,
  upRead,
  upWrite,
  writeSeqcountBegin,
  writeSeqcountEnd,
} from '../src/sync/index.js';
import { Prng } from '../src/util/prng.js';
import { checkFlags, machine, median, noteSpread, nsPerOp, percentile, printMachine, printRunQuality, printTable, runQuality, wantsJson } from './harness.js';

checkFlags('bench:sync', []);

const N = 2_000_000;
const w = new Int32Array(new SharedArrayBuffer(64));
const plain = new Int32Array(new SharedArrayBuffer(64));
const rcu = Rcu.create();
rcu.registerThread();
const srcu = Srcu.create();
const arena = Arena.create({ name: 'bench', capacity: 1 << 16, stride: 64 });
refcountSet(w, 5, 1);

const pairs: Array<[string, (n: number) => void]> = [
  ['plain typed-array read + write', (n) => { for (let i = 0; i < n; i++) plain[1] = plain[1]! + 1; }],
  ['Atomics.add (one SC atomic)', (n) => { for (let i = 0; i < n; i++) Atomics.add(w, 0, 1); }],
  ['rcu_read_lock + rcu_read_unlock', (n) => { for (let i = 0; i < n; i++) { rcu.readLock(); rcu.readUnlock(); } }],
  ['rcu_quiescent_state', (n) => { for (let i = 0; i < n; i++) rcu.quiescentState(); }],
  ['srcu_read_lock + srcu_read_unlock', (n) => { for (let i = 0; i < n; i++) srcu.readUnlock(srcu.readLock()); }],
  ['down_read + up_read', (n) => { for (let i = 0; i < n; i++) { downRead(w, 1); upRead(w, 1); } }],
  ['down_write + up_write', (n) => { for (let i = 0; i < n; i++) { downWrite(w, 1); upWrite(w, 1); } }],
  ['spin_lock + spin_unlock', (n) => { for (let i = 0; i < n; i++) { spinLock(w, 2); spinUnlock(w, 2); } }],
  ['mutex_lock + mutex_unlock', (n) => { for (let i = 0; i < n; i++) { mutexLock(w, 3); mutexUnlock(w, 3); } }],
  ['read_seqcount_begin + retry', (n) => { for (let i = 0; i < n; i++) readSeqcountRetry(w, 4, readSeqcountBegin(w, 4)); }],
  ['write_seqcount_begin + end', (n) => { for (let i = 0; i < n; i++) { writeSeqcountBegin(w, 4); writeSeqcountEnd(w, 4); } }],
  ['refcount_inc_not_zero + dec_and_test', (n) => { for (let i = 0; i < n; i++) { refcountIncNotZero(w, 5); refcountDecAndTest(w, 5); } }],
  ['arena alloc + free', (n) => { for (let i = 0; i < n; i++) arena.free(arena.alloc()); }],
];

const m = machine();
if (!wantsJson) {
  printMachine(m);
  console.log(`\nUncontended cost, ns per operation pair (median of 11 batches of ${N.toLocaleString()}):`);
}
const costs: Record<string, number> = {};
for (const [name, loop] of pairs) costs[name] = nsPerOp(loop, N, 11, name).median;
rcu.unregisterThread();
if (!wantsJson) printTable(['primitive', 'ns/pair'], Object.entries(costs).map(([k, v]) => [k, v]));

/** Grace-period latency on the main thread while `readers` threads keep read sections going. */
async function gracePeriods(kind: 'rcu' | 'srcu', readers: number) {
  const domainRcu = Rcu.create();
  const domainSrcu = Srcu.create();
  const handle = kind === 'rcu' ? domainRcu.handle() : domainSrcu.handle();
  const ctl = new SharedArrayBuffer(8);
  const threads = Array.from({ length: readers }, () => new Worker(new URL('./sync-readers.js', import.meta.url), { workerData: { kind, handle, ctl } }));
  await new Promise((r) => setTimeout(r, 200)); // readers running
  const sync = kind === 'rcu' ? () => domainRcu.synchronize() : () => domainSrcu.synchronize();
  const call = kind === 'rcu' ? (f: () => void) => domainRcu.callRcu(f) : (f: () => void) => domainSrcu.callSrcu(f);
  const drain = kind === 'rcu' ? () => domainRcu.barrier() : () => domainSrcu.barrier();
  const syncNs: number[] = [];
  let activeSum = 0;
  const rnd = new Prng(1);
  for (let i = 0; i < 200; i++) {
    // Calls arrive at random moments (as munmaps do), not back to back: a call right after another one
    // would find the readers just released by it and measure only the short sections that follow.
    const until = performance.now() + rnd.float() * 0.3;
    while (performance.now() < until);
    activeSum += kind === 'srcu' ? domainSrcu.readersActive() : 0;
    const t0 = process.hrtime.bigint();
    sync();
    syncNs.push(Number(process.hrtime.bigint() - t0));
  }
  const noop = () => {};
  const callNs: number[] = [];
  for (let i = 0; i < 10_000; i++) call(noop); // warm-up, untimed: the first batch ran ~35× the median
  drain();
  for (let r = 0; r < 11; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++) call(noop);
    callNs.push(Number(process.hrtime.bigint() - t0) / 10_000);
    drain();
  }
  Atomics.store(new Int32Array(ctl), 0, 1);
  await Promise.all(threads.map((t) => new Promise((r) => t.once('exit', r))));
  noteSpread(`call_${kind} with ${readers} readers`, callNs);
  const s = median(syncNs);
  const c = median(callNs);
  return { kind, readers, readersInsideAvg: activeSum / 200, syncMedianNs: s, syncP99Ns: percentile(syncNs, 99), callMedianNs: c, ratio: s / c };
}

// One core stays free for the thread that measures, so its latency is the readers', not the scheduler's.
const readers = Math.max(1, Math.min(4, m.cores - 1));
const latency = [await gracePeriods('srcu', readers), await gracePeriods('rcu', readers)];
if (!wantsJson) {
  console.log(`\nGrace-period latency with ${readers} reader threads active (SRCU readers sleep 0.1 ms in 1 of 50 sections, like faults waiting for I/O):`);
  printTable(
    ['domain', 'synchronize median µs', 'synchronize p99 µs', 'call_* median ns', 'synchronize / call'],
    latency.map((l) => [l.kind, l.syncMedianNs / 1000, l.syncP99Ns / 1000, l.callMedianNs, l.ratio]),
  );
}

const a = costs['Atomics.add (one SC atomic)']!;
const goals = [
  { goal: 'rcu_read_lock+unlock pair <= 10 ns', value: costs['rcu_read_lock + rcu_read_unlock']!, ok: costs['rcu_read_lock + rcu_read_unlock']! <= 10 },
  { goal: 'srcu_read_lock+unlock pair <= 60 ns', value: costs['srcu_read_lock + srcu_read_unlock']!, ok: costs['srcu_read_lock + srcu_read_unlock']! <= 60 },
  { goal: 'down_read+up_read pair <= 60 ns', value: costs['down_read + up_read']!, ok: costs['down_read + up_read']! <= 60 },
  { goal: 'synchronize_srcu / call_srcu >= 100x', value: latency[0]!.ratio, ok: latency[0]!.ratio >= 100 },
];
if (wantsJson) {
  console.log(JSON.stringify({ bench: 'sync', machine: m, batch: N, nsPerPair: costs, gracePeriods: latency, goals, ...runQuality() }, null, 2));
} else {
  console.log(`\nGoals (one SC Atomics op measured at ${a.toFixed(1)} ns in this run):`);
  printTable(['goal', 'measured', 'met'], goals.map((g) => [g.goal, g.value, g.ok ? 'yes' : 'NO']));
  printRunQuality();
}
