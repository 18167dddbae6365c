import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { MapleTree } from '../src/maple/index.js';
import { Rcu } from '../src/sync/rcu.js';
import { sleepMs } from '../src/sync/sleep.js';
import { Prng } from '../src/util/prng.js';
import { testSeed } from './support/seed.js';
import { BASE, BLOCK, BLOCKS, encode, PERM_LEN, permValue } from './support/maple-rcu-shared.js';

const LONG = process.env.MMSPLIT_LONG === '1';
/** How long the writer may wait for a reader that makes no progress, and the readers for their reports. */
const WAIT_LIMIT = 20_000;

interface ReaderResult {
  ok: boolean;
  ops?: number;
  counts?: Record<string, number>;
  error?: string;
}

/**
 * RCU mode: `readers` workers read with no lock while this thread churns the tree (stores that trim, split
 * and span nodes, erases, mmap-like gap searches) `writerOps` times, in a poisoned arena. Every answer is
 * checked by the readers; at the end the tree and the arena (poison of every free node) are validated.
 */
async function churn(readers: number, writerOps: number, seed: number): Promise<ReaderResult[]> {
  const rcu = Rcu.create();
  const tree = new MapleTree({ allocRange: true, capacity: 1 << 14, debug: true, rcu, name: 'rcu-test' });
  for (let k = 0; k < BLOCKS; k++) tree.storeRange(BASE + k * BLOCK, BASE + k * BLOCK + PERM_LEN - 1, permValue(k));
  const control = new SharedArrayBuffer(4 * (2 + readers)); // [stop, readers ready, operations of each reader]
  const ctl = new Int32Array(control);
  const workers = Array.from(
    { length: readers },
    (_, i) =>
      new Worker(new URL('./support/maple-reader.js', import.meta.url), {
        workerData: { tree: tree.handle(), rcu: rcu.handle(), control, index: i, seed: seed + 1 + i },
      }),
  );
  const results = workers.map(
    (w) =>
      new Promise<ReaderResult>((resolve) => {
        w.once('message', (m: ReaderResult) => resolve(m));
        w.once('error', (e) => resolve({ ok: false, error: String(e.stack ?? e) }));
        w.once('exit', (code) => resolve({ ok: false, error: `reader exited with code ${code}` }));
      }),
  );
  try {
    // Wait (on the event loop, bounded) for every reader to be online before churning.
    const readyBy = Date.now() + 15_000;
    while (Atomics.load(ctl, 1) < readers) {
      if (Date.now() > readyBy || Atomics.load(ctl, 0) !== 0) throw new Error('readers did not start');
      await new Promise((r) => setTimeout(r, 2));
    }
    // However the machine schedules them, the readers stay in the churn: every 256 changes the writer waits
    // until each has made at least a quarter as many operations as it made changes.
    const behind = (n: number) => Atomics.load(ctl, 0) === 0 && workers.some((_, i) => Atomics.load(ctl, 2 + i) < n / 4);
    const keepPace = (n: number) => {
      const deadline = performance.now() + WAIT_LIMIT;
      while (behind(n)) {
        if (performance.now() > deadline) throw new Error(`a reader made no progress for ${WAIT_LIMIT} ms`);
        sleepMs(1);
      }
    };
    const rng = new Prng(seed);
    let ops = 0;
    // The writer: churns everything but the permanent entries (the first PERM_LEN indices of each block).
    const block = (): number => BASE + rng.below(BLOCKS) * BLOCK;
    while (Atomics.load(ctl, 0) === 0 && ops < writerOps) {
      if ((ops & 255) === 0) keepPace(ops);
      const b = block();
      const r = rng.below(100);
      if (r < 35) {
        const first = b + PERM_LEN + rng.below(BLOCK - PERM_LEN);
        const len = rng.chance(0.05) ? rng.below(BLOCK) : rng.below(12);
        const last = Math.min(first + len, b + BLOCK - 1);
        tree.storeRange(first, last, encode(first, last));
      } else if (r < 55) {
        // mmap: the highest gap in the block, then munmap later by erase
        const size = 1 + rng.below(16);
        const s = tree.emptyAreaRev(b + PERM_LEN, b + BLOCK - 1, size);
        if (s >= 0) tree.storeRange(s, s + size - 1, encode(s, s + size - 1));
      } else if (r < 85) {
        tree.erase(b + PERM_LEN + rng.below(BLOCK - PERM_LEN));
      } else {
        const first = b + PERM_LEN + rng.below(BLOCK - PERM_LEN);
        const last = Math.min(first + rng.below(rng.chance(0.2) ? BLOCK : 40), b + BLOCK - 1);
        tree.storeRange(first, last, 0);
      }
      ops++;
      if (ops % 2000 === 0) tree.validate();
    }
    Atomics.store(ctl, 0, 1);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the readers did not report')), WAIT_LIMIT).unref());
    const out = await Promise.race([Promise.all(results), timeout]);
    for (const r of out) assert.ok(r.ok, r.error);
    tree.validate();
    tree.rcuBarrier();
    assert.equal(tree.pendingFrees, 0);
    tree.arena.validate(); // every free node still carries its poison: nobody wrote after free
    for (let k = 0; k < BLOCKS; k++) assert.equal(tree.load(BASE + k * BLOCK), permValue(k));
    assert.ok(ops > 1000, `writer made only ${ops} changes`);
    return out.map((r) => ({ ...r, counts: { ...r.counts, writer: ops } }));
  } finally {
    Atomics.store(ctl, 0, 1);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

test('RCU mode: 2 lockless readers against a churning writer', { timeout: LONG ? 120_000 : 30_000 }, async (t) => {
  const seed = testSeed();
  try {
    const out = await churn(2, LONG ? 1_000_000 : 60_000, seed);
    for (const r of out) assert.ok((r.ops ?? 0) > 1000, `a reader made only ${r.ops} operations`);
    t.diagnostic(`seed ${seed}; reader operations: ${out.map((r) => JSON.stringify(r.counts)).join(' ')}`);
  } catch (e) {
    (e as Error).message = `MMSPLIT_SEED=${seed}: ${(e as Error).message}`;
    throw e;
  }
});

test('RCU mode: replaced nodes are marked dead and poisoned once freed', () => {
  const rcu = Rcu.create();
  const tree = new MapleTree({ allocRange: true, capacity: 256, debug: true, rcu });
  for (let i = 0; i < 40; i++) tree.storeRange(i * 10, i * 10 + 4, i + 1);
  tree.rcuBarrier();
  assert.equal(tree.pendingFrees, 0);
  // A registered, online reader that has not passed a quiescent state holds the grace period.
  rcu.registerThread();
  const leaf = tree.arena.inUse();
  tree.storeRange(100, 104, 0);
  assert.ok(tree.pendingFrees > 0, 'the replaced leaf waits for a grace period');
  assert.ok(tree.arena.inUse() > leaf, 'old and new nodes both allocated');
  tree.reclaim();
  assert.ok(tree.pendingFrees > 0, 'not freed while the reader is online');
  rcu.quiescentState();
  tree.reclaim();
  assert.equal(tree.pendingFrees, 0);
  rcu.unregisterThread();
  tree.validate();
  tree.arena.validate();
});

test('RCU mode: a writer that never stops keeps a bounded queue of nodes waiting for a grace period', () => {
  // Each write's batch is still in flight when the next one is queued, so the queue is never found empty;
  // it must reuse its room rather than grow with every node ever replaced (it once held them all).
  const rcu = Rcu.create();
  const tree = new MapleTree({ allocRange: true, capacity: 1 << 12, rcu });
  rcu.registerThread();
  const queue = () => (tree as unknown as { w: { pend: { length: number } } }).w.pend.length;
  let most = 0;
  for (let i = 0; i < 100_000; i++) {
    const k = i % 500;
    tree.storeRange(k * 16, k * 16 + 7, i % 3 === 0 ? 0 : i + 1);
    rcu.quiescentState();
    most = Math.max(most, tree.pendingFrees);
  }
  assert.ok(most > 0 && most < 4096, `${most} nodes waited at most`);
  assert.ok(queue() <= 4 * 4096, `the queue's array holds ${queue()} slots after 100,000 writes`);
  rcu.unregisterThread();
  tree.rcuBarrier();
  assert.equal(tree.pendingFrees, 0);
  tree.validate();
  tree.arena.validate();
});
