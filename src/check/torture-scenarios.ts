/**
 * Torture scenarios for the synchronization primitives, after the kernel's locktorture/rcutorture and
 * liburcu's test_urcu: real workers hammer one primitive while checking, inside every critical section,
 * the property the primitive promises. Each scenario has a main-thread setup, a role per worker, and a
 * verification of the workers' reports. The same module runs on both sides of the worker boundary.
 */
import { Arena, POISON_WORD } from '../shm/arena.js';
import { defineLayout } from '../shm/layout.js';
import { Prng } from '../util/prng.js';
import { mutexLock, mutexUnlock } from '../sync/mutex.js';
import { Rcu } from '../sync/rcu.js';
import {
  downgradeWrite,
  downRead,
  downReadTrylock,
  downWrite,
  downWriteTrylock,
  rwsemValidateIdle,
  upRead,
  upWrite,
} from '../sync/rwsem.js';
import { readSeqcountBegin, readSeqcountRetry, writeSeqcountBegin, writeSeqcountEnd } from '../sync/seqcount.js';
import { sleepMs } from '../sync/sleep.js';
import { spinLock, spinUnlock } from '../sync/spinlock.js';
import { Srcu } from '../sync/srcu.js';

/** What a worker is told: its role, its index, and the shared state the setup made. */
export interface TortureContext {
  readonly role: string;
  readonly worker: number;
  readonly seed: number;
  readonly shared: Record<string, unknown>;
  /**
   * Whether a worker that has done `done` operations goes on: in a counted run until it has done its
   * share, in a timed run until the main thread asks the workers to stop (but at least one operation).
   */
  more(done: number): boolean;
}

/** What a worker reports back. */
export type TortureStats = Record<string, number>;

export interface TortureScenario {
  readonly name: string;
  readonly description: string;
  /** Minimum number of workers that makes the scenario meaningful. */
  readonly minWorkers: number;
  /** Operations per worker in a counted run (npm test's): about 0.1 s on an idle 2-core machine. */
  readonly testOps: number;
  /** Roles that run until another role has done its share, instead of a share of their own. */
  readonly openEnded?: readonly string[];
  setup(workers: number): Record<string, unknown>;
  roleOf(worker: number, workers: number): string;
  run(ctx: TortureContext): TortureStats;
  /** Throws if the reports or the final shared state show a violation. */
  verify(shared: Record<string, unknown>, reports: TortureStats[]): void;
}

class TortureFailure extends Error {
  override name = 'TortureFailure';
}

function fail(msg: string): never {
  throw new TortureFailure(msg);
}

function sum(reports: TortureStats[], key: string): number {
  let n = 0;
  for (const r of reports) n += r[key] ?? 0;
  return n;
}

// Lock words and counters for the exclusion scenarios: [lock, counter, owner, readersInside, writersInside].
const LOCK = 0;
const COUNTER = 1;
const OWNER = 2;
const READERS_IN = 3;
const WRITERS_IN = 4;

/** Busy work inside a critical section, long enough for a racing thread to interleave. */
function dawdle(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) | 0;
  return x;
}

function exclusion(name: string, lock: (i32: Int32Array, i: number) => void, unlock: (i32: Int32Array, i: number) => void): TortureScenario {
  return {
    name,
    description: `${name}: workers increment a plain counter inside the lock; no two are ever inside at once`,
    minWorkers: 2,
    testOps: 500_000,
    setup: () => ({ words: new SharedArrayBuffer(64) }),
    roleOf: () => 'locker',
    run(ctx) {
      const w = new Int32Array(ctx.shared.words as SharedArrayBuffer);
      const me = ctx.worker + 1;
      let ops = 0;
      while (ctx.more(ops)) {
        for (let k = 0; k < 64; k++) {
          lock(w, LOCK);
          if (w[OWNER] !== 0) fail(`${name}: worker ${me} entered while worker ${w[OWNER]} was inside`);
          w[OWNER] = me;
          const c = w[COUNTER]!; // plain read-modify-write: only exclusion keeps it exact
          dawdle(ops & 15);
          w[COUNTER] = c + 1;
          if (w[OWNER] !== me) fail(`${name}: worker ${w[OWNER]} entered while worker ${me} was inside`);
          w[OWNER] = 0;
          unlock(w, LOCK);
          ops++;
        }
      }
      return { ops };
    },
    verify(shared, reports) {
      const w = new Int32Array(shared.words as SharedArrayBuffer);
      const ops = sum(reports, 'ops');
      if (w[COUNTER] !== ops) fail(`${name}: counter is ${w[COUNTER]} after ${ops} locked increments (lost updates)`);
      if (w[LOCK] !== 0) fail(`${name}: still locked at the end`);
    },
  };
}

const spinlockTorture = exclusion('spinlock', spinLock, spinUnlock);
const mutexTorture = exclusion('mutex', mutexLock, mutexUnlock);

const rwsemTorture: TortureScenario = {
  name: 'rwsem',
  description: 'rwsem: readers and writers (with trylocks and downgrade_write) never overlap wrongly',
  minWorkers: 2,
  testOps: 300_000,
  setup: () => ({ words: new SharedArrayBuffer(64) }),
  roleOf: () => 'mixed',
  run(ctx) {
    const w = new Int32Array(ctx.shared.words as SharedArrayBuffer);
    const rnd = new Prng(ctx.seed + ctx.worker);
    let reads = 0;
    let writes = 0;
    let downgrades = 0;
    const inRead = () => {
      Atomics.add(w, READERS_IN, 1);
      if (Atomics.load(w, WRITERS_IN) !== 0) fail('rwsem: a reader is inside together with a writer');
      const c = Atomics.load(w, COUNTER);
      dawdle(8);
      if (Atomics.load(w, COUNTER) !== c) fail('rwsem: the protected counter changed under a reader');
      Atomics.sub(w, READERS_IN, 1);
      reads++;
    };
    const inWrite = () => {
      if (Atomics.add(w, WRITERS_IN, 1) !== 0) fail('rwsem: two writers inside');
      if (Atomics.load(w, READERS_IN) !== 0) fail('rwsem: a writer is inside together with readers');
      w[COUNTER] = w[COUNTER]! + 1;
      dawdle(8);
      Atomics.sub(w, WRITERS_IN, 1);
      writes++;
    };
    while (ctx.more(reads + writes)) {
      const r = rnd.below(100);
      if (r < 60) {
        downRead(w, LOCK);
        inRead();
        upRead(w, LOCK);
      } else if (r < 70) {
        if (downReadTrylock(w, LOCK)) {
          inRead();
          upRead(w, LOCK);
        }
      } else if (r < 85) {
        downWrite(w, LOCK);
        inWrite();
        upWrite(w, LOCK);
      } else if (r < 92) {
        if (downWriteTrylock(w, LOCK)) {
          inWrite();
          upWrite(w, LOCK);
        }
      } else {
        downWrite(w, LOCK);
        inWrite();
        downgradeWrite(w, LOCK);
        inRead();
        upRead(w, LOCK);
        downgrades++;
      }
    }
    return { ops: reads + writes, reads, writes, downgrades };
  },
  verify(shared, reports) {
    const w = new Int32Array(shared.words as SharedArrayBuffer);
    const writes = sum(reports, 'writes');
    if (w[COUNTER] !== writes) fail(`rwsem: counter ${w[COUNTER]} after ${writes} writes`);
    rwsemValidateIdle(w, LOCK);
  },
};

// Writer starvation: readers keep the lock held by at least one of them at all times; a writer must still
// get in. If it starved, it would never finish its share, nor the readers, and the run would time out.
const WRITER_DONE = 5;
const READERS_TRYING = 6;
const rwsemStarvation: TortureScenario = {
  name: 'rwsem-starvation',
  description: 'rwsem: overlapping readers that never let the count drop to zero cannot starve a writer',
  minWorkers: 3,
  testOps: 200,
  openEnded: ['reader'],
  setup: () => ({ words: new SharedArrayBuffer(64) }),
  roleOf: (worker) => (worker === 0 ? 'writer' : 'reader'),
  run(ctx): TortureStats {
    const w = new Int32Array(ctx.shared.words as SharedArrayBuffer);
    if (ctx.role === 'writer') {
      let writes = 0;
      // Let the readers build up an unbroken chain of read holds first.
      while (Atomics.load(w, READERS_IN) === 0) dawdle(100);
      while (ctx.more(writes)) {
        downWrite(w, LOCK);
        if (Atomics.load(w, READERS_IN) !== 0) fail('rwsem-starvation: writer inside with readers');
        w[COUNTER] = w[COUNTER]! + 1;
        upWrite(w, LOCK);
        writes++;
      }
      Atomics.store(w, WRITER_DONE, 1);
      return { ops: writes, writes };
    }
    let reads = 0;
    // A reader lets go only once a partner holds the lock too, so between them the reader count never
    // drops to zero — unless a partner has been stuck in down_read for a long while, which happens only
    // when a waiting writer holds new readers off. Without that rule of the rwsem, the writer starves.
    while (Atomics.load(w, WRITER_DONE) === 0) {
      Atomics.add(w, READERS_TRYING, 1);
      downRead(w, LOCK);
      Atomics.sub(w, READERS_TRYING, 1);
      Atomics.add(w, READERS_IN, 1);
      for (let patience = 0; Atomics.load(w, WRITER_DONE) === 0 && Atomics.load(w, READERS_IN) < 2; ) {
        if (Atomics.load(w, READERS_TRYING) === 0) patience = 0;
        else if (++patience > 200_000) break;
      }
      Atomics.sub(w, READERS_IN, 1);
      upRead(w, LOCK);
      reads++;
    }
    return { ops: reads, reads };
  },
  verify(shared, reports) {
    const w = new Int32Array(shared.words as SharedArrayBuffer);
    if (w[WRITER_DONE] !== 1 || w[COUNTER] !== sum(reports, 'writes')) fail('rwsem-starvation: the writer did not finish');
    rwsemValidateIdle(w, LOCK);
  },
};

// Reader starvation: two writers take the lock back to back (a writer spins, so it is always there first
// when the other lets go); a reader must still get in, because the writer that lets go hands the lock to
// the readers waiting for it. If it starved, it would never finish its share, nor the writers, and the run
// would time out.
const READER_DONE = 7;
const rwsemReaderHandoff: TortureScenario = {
  name: 'rwsem-handoff',
  description: 'rwsem: writers that take the lock back to back cannot starve a reader (up_write hands it to waiting readers)',
  minWorkers: 3,
  testOps: 20,
  openEnded: ['writer'],
  setup: () => ({ words: new SharedArrayBuffer(64) }),
  roleOf: (worker) => (worker === 0 ? 'reader' : 'writer'),
  run(ctx): TortureStats {
    const w = new Int32Array(ctx.shared.words as SharedArrayBuffer);
    if (ctx.role === 'reader') {
      while (Atomics.load(w, COUNTER) < 1000) dawdle(100); // until both writers are at it
      let reads = 0;
      while (ctx.more(reads)) {
        downRead(w, LOCK);
        if (Atomics.load(w, WRITERS_IN) !== 0) fail('rwsem-handoff: reader inside with a writer');
        upRead(w, LOCK);
        reads++;
      }
      Atomics.store(w, READER_DONE, 1);
      return { ops: reads, reads };
    }
    let writes = 0;
    while (Atomics.load(w, READER_DONE) === 0) {
      downWrite(w, LOCK);
      Atomics.add(w, WRITERS_IN, 1);
      Atomics.add(w, COUNTER, 1);
      dawdle(50);
      Atomics.sub(w, WRITERS_IN, 1);
      upWrite(w, LOCK);
      writes++;
    }
    return { ops: writes, writes };
  },
  verify(shared) {
    const w = new Int32Array(shared.words as SharedArrayBuffer);
    if (w[READER_DONE] !== 1) fail('rwsem-handoff: the reader did not finish');
    rwsemValidateIdle(w, LOCK);
  },
};

// A record published by a seqcount writer: a, ~a, and the Float64 pair (x, 2x).
const seqcountTorture: TortureScenario = {
  name: 'seqcount',
  description: 'seqcount: readers never accept a torn snapshot of a record a writer keeps rewriting',
  minWorkers: 2,
  testOps: 1_000_000,
  setup() {
    const words = new SharedArrayBuffer(64);
    new Int32Array(words)[2] = ~0; // the initial record (a, ~a, x, 2x) = (0, -1, 0, 0)
    return { words, doubles: new SharedArrayBuffer(64) };
  },
  roleOf: (worker) => (worker === 0 ? 'writer' : 'reader'),
  run(ctx): TortureStats {
    const w = new Int32Array(ctx.shared.words as SharedArrayBuffer);
    const f = new Float64Array(ctx.shared.doubles as SharedArrayBuffer);
    const SEQ = 0;
    if (ctx.role === 'writer') {
      let writes = 0;
      while (ctx.more(writes)) {
        writeSeqcountBegin(w, SEQ);
        const a = writes + 1;
        w[1] = a;
        dawdle(writes & 7);
        f[0] = a * 1.5;
        w[2] = ~a;
        f[1] = a * 3;
        writeSeqcountEnd(w, SEQ);
        writes++;
      }
      return { ops: writes, writes };
    }
    let accepted = 0;
    let retries = 0;
    while (ctx.more(accepted)) {
      let a: number, b: number, x: number, y: number;
      for (;;) {
        const seq = readSeqcountBegin(w, SEQ);
        a = w[1]!;
        x = f[0]!;
        b = w[2]!;
        y = f[1]!;
        if (!readSeqcountRetry(w, SEQ, seq)) break;
        retries++;
      }
      if (b !== ~a || x !== a * 1.5 || y !== x * 2) fail(`seqcount: accepted a torn snapshot a=${a} b=${b} x=${x} y=${y}`);
      accepted++;
    }
    return { ops: accepted, accepted, retries };
  },
  verify(_shared, reports) {
    if (sum(reports, 'accepted') === 0) fail('seqcount: no reader ever got a snapshot');
  },
};

// RCU and SRCU: a pointer to a record that the writer keeps replacing. Records are poisoned when freed.
const RECORD = defineLayout({ i32: ['seq', 'check', 'payload[14]'] });
const RECORDS = 4096;

function fillRecord(arena: Arena, rec: number, seq: number): void {
  const b = RECORD.i32Base(rec);
  arena.i32[b + RECORD.i32.seq] = seq;
  arena.i32[b + RECORD.i32.check] = ~seq;
  for (let k = 0; k < 14; k++) arena.i32[b + RECORD.i32.payload + k] = (seq * 31 + k) | 0;
}

/** Reads a record the way a reader holding it may: it must be live and whole, never poisoned. */
function checkRecord(arena: Arena, rec: number, who: string): number {
  const b = RECORD.i32Base(rec);
  const seq = arena.i32[b + RECORD.i32.seq]!;
  if (seq === POISON_WORD) fail(`${who}: reader saw a poisoned (freed) record ${rec} — grace period ended too early`);
  if (arena.i32[b + RECORD.i32.check] !== ~seq) fail(`${who}: reader saw record ${rec} torn or reused`);
  for (let k = 0; k < 14; k++) {
    if (arena.i32[b + RECORD.i32.payload + k] !== ((seq * 31 + k) | 0)) fail(`${who}: record ${rec} word ${k} changed under a reader`);
  }
  return seq;
}

function publishSetup(domain: 'rcu' | 'srcu'): Record<string, unknown> {
  const arena = Arena.create({ name: 'torture_record', capacity: RECORDS, layout: RECORD, debug: true });
  const ptr = new Int32Array(new SharedArrayBuffer(16));
  const first = arena.alloc();
  fillRecord(arena, first, 1);
  ptr[0] = first;
  return {
    arena: arena.handle(),
    ptr: ptr.buffer,
    domain: domain === 'rcu' ? Rcu.create().handle() : Srcu.create().handle(),
  };
}

function publishVerify(name: string, shared: Record<string, unknown>, reports: TortureStats[]): void {
  const arena = Arena.attach(shared.arena as never);
  arena.validate();
  // Every retired record was freed (the writer ran its barrier), so only the current one is left.
  if (arena.inUse() !== 1) fail(`${name}: ${arena.inUse()} records allocated at the end, expected 1 (leaked callbacks?)`);
  if (sum(reports, 'reads') === 0) fail(`${name}: readers never ran`);
}

/**
 * The writer side shared by rcu and srcu: publish a new record, retire the old one through `retire`, and
 * every so often wait for a full grace period instead (`sync`) to exercise both paths.
 */
function publishWriter(
  ctx: TortureContext,
  arena: Arena,
  ptr: Int32Array,
  retire: (old: number) => void,
  sync: () => void,
  poll: () => void,
): TortureStats {
  let seq = 1;
  let syncs = 0;
  while (ctx.more(seq - 1)) {
    let rec = arena.alloc();
    if (rec < 0) {
      sync(); // every record is waiting for a grace period: wait for one, which runs the callbacks
      rec = arena.alloc();
      if (rec < 0) fail('publish writer: arena still full after a grace period');
    }
    fillRecord(arena, rec, ++seq);
    const old = Atomics.exchange(ptr, 0, rec);
    if ((seq & 63) === 0) {
      sync();
      arena.free(old);
      syncs++;
    } else {
      retire(old);
    }
    poll();
  }
  return { ops: seq - 1, publishes: seq - 1, syncs };
}

const rcuTorture: TortureScenario = {
  name: 'rcu',
  description: 'rcu: readers never see a record freed (and poisoned) by call_rcu or after synchronize_rcu',
  minWorkers: 2,
  testOps: 100_000,
  setup: () => publishSetup('rcu'),
  roleOf: (worker) => (worker === 0 ? 'writer' : 'reader'),
  run(ctx) {
    const arena = Arena.attach(ctx.shared.arena as never);
    const ptr = new Int32Array(ctx.shared.ptr as SharedArrayBuffer);
    const rcu = Rcu.attach(ctx.shared.domain as never);
    if (ctx.role === 'writer') {
      const stats = publishWriter(
        ctx,
        arena,
        ptr,
        (old) => rcu.callRcu(() => arena.free(old)),
        () => rcu.synchronize(),
        () => rcu.processCallbacks(),
      );
      rcu.barrier();
      return stats;
    }
    rcu.registerThread();
    const rnd = new Prng(ctx.seed + ctx.worker);
    let reads = 0;
    let offline = 0;
    while (ctx.more(reads)) {
      rcu.readLock();
      const rec = Atomics.load(ptr, 0);
      const seq = checkRecord(arena, rec, 'rcu');
      dawdle(rnd.below(64));
      if (checkRecord(arena, rec, 'rcu') !== seq) fail('rcu: record changed identity under a reader');
      rcu.readUnlock();
      rcu.quiescentState();
      reads++;
      const r = rnd.below(1000);
      if (r === 0) {
        sleepMs(0.2, 'torture reader nap'); // goes offline by itself while asleep
        offline++;
      } else if (r === 1) {
        rcu.threadOffline();
        dawdle(500);
        rcu.threadOnline();
        offline++;
      }
    }
    rcu.unregisterThread();
    return { ops: reads, reads, offline };
  },
  verify: (shared, reports) => publishVerify('rcu', shared, reports),
};

const srcuTorture: TortureScenario = {
  name: 'srcu',
  description: 'srcu: readers, some asleep inside their section, never see a record freed by call_srcu',
  minWorkers: 2,
  testOps: 5_000,
  setup: () => publishSetup('srcu'),
  roleOf: (worker) => (worker === 0 ? 'writer' : 'reader'),
  run(ctx) {
    const arena = Arena.attach(ctx.shared.arena as never);
    const ptr = new Int32Array(ctx.shared.ptr as SharedArrayBuffer);
    const srcu = Srcu.attach(ctx.shared.domain as never);
    if (ctx.role === 'writer') {
      const stats = publishWriter(
        ctx,
        arena,
        ptr,
        (old) => srcu.callSrcu(() => arena.free(old)),
        () => srcu.synchronize(),
        () => srcu.processCallbacks(),
      );
      srcu.barrier();
      return stats;
    }
    const rnd = new Prng(ctx.seed + ctx.worker);
    let reads = 0;
    let sleeps = 0;
    while (ctx.more(reads)) {
      const idx = srcu.readLock();
      const rec = Atomics.load(ptr, 0);
      const seq = checkRecord(arena, rec, 'srcu');
      if (rnd.below(256) === 0) {
        sleepMs(0.1 + rnd.float(), 'srcu torture reader waiting for I/O'); // readers may block in SRCU
        sleeps++;
      } else {
        dawdle(rnd.below(64));
      }
      if (checkRecord(arena, rec, 'srcu') !== seq) fail('srcu: record changed identity under a reader');
      srcu.readUnlock(idx);
      reads++;
    }
    srcu.unregisterThread();
    return { ops: reads, reads, sleeps };
  },
  verify(shared, reports) {
    publishVerify('srcu', shared, reports);
    Srcu.attach(shared.domain as never).validate();
  },
};

// Arena: workers allocate and free records at random; no index is ever handed to two owners at once.
const ARENA_RECORDS = 1024;
const arenaTorture: TortureScenario = {
  name: 'arena',
  description: 'arena: concurrent alloc/free from every worker never hands one record to two owners',
  minWorkers: 2,
  testOps: 50_000,
  setup: () => ({
    arena: Arena.create({ name: 'torture_arena', capacity: ARENA_RECORDS, stride: 16, debug: true }).handle(),
    owners: new SharedArrayBuffer(4 * ARENA_RECORDS),
  }),
  roleOf: () => 'allocator',
  run(ctx) {
    const arena = Arena.attach(ctx.shared.arena as never);
    const owners = new Int32Array(ctx.shared.owners as SharedArrayBuffer);
    const rnd = new Prng(ctx.seed + ctx.worker);
    const me = ctx.worker + 1;
    const mine: number[] = [];
    let allocs = 0;
    let full = 0;
    while (ctx.more(allocs)) {
      if (mine.length === 0 || (mine.length < 600 && rnd.chance(0.55))) {
        const rec = arena.alloc();
        if (rec < 0) {
          full++;
          continue;
        }
        const prev = Atomics.compareExchange(owners, rec, 0, me);
        if (prev !== 0) fail(`arena: record ${rec} handed to worker ${me} while worker ${prev} owns it`);
        arena.i32[rec * 4] = me; // write into the record: a stale owner would clobber the poison check
        mine.push(rec);
        allocs++;
      } else {
        const rec = mine.splice(rnd.below(mine.length), 1)[0]!;
        if (arena.i32[rec * 4] !== me) fail(`arena: record ${rec} was written by someone else while worker ${me} owned it`);
        Atomics.store(owners, rec, 0);
        arena.free(rec);
      }
    }
    for (const rec of mine) {
      Atomics.store(owners, rec, 0);
      arena.free(rec);
    }
    return { ops: allocs, allocs, full };
  },
  verify(shared) {
    const arena = Arena.attach(shared.arena as never);
    arena.validate();
    if (arena.inUse() !== 0) fail(`arena: ${arena.inUse()} records still allocated after every worker freed its own`);
  },
};

export const TORTURE_SCENARIOS: readonly TortureScenario[] = [
  arenaTorture,
  spinlockTorture,
  mutexTorture,
  rwsemTorture,
  rwsemStarvation,
  rwsemReaderHandoff,
  seqcountTorture,
  rcuTorture,
  srcuTorture,
];

export function tortureScenario(name: string): TortureScenario {
  const s = TORTURE_SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown torture scenario '${name}' (have: ${TORTURE_SCENARIOS.map((x) => x.name).join(', ')})`);
  return s;
}
