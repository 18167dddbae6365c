import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EEXIST, MAPLE_MAX, MapleMap, MapleTree } from '../src/maple/index.js';
import { MH, MN } from '../src/maple/layout.js';
import { Prng } from '../src/util/prng.js';
import { testSeed } from './support/seed.js';
import { differential } from './support/maple-diff.js';

const LONG = process.env.MMSPLIT_LONG === '1';

/** Runs `body` with a seed; a failure names the seed so that MMSPLIT_SEED=... reproduces it. */
function seeded(name: string, body: (rng: Prng, seed: number) => void, runs = 1): void {
  const first = testSeed();
  for (let k = 0; k < runs; k++) seededOnce(name, body, (first + k) >>> 0);
}

function seededOnce(name: string, body: (rng: Prng, seed: number) => void, seed: number): void {
  try {
    body(new Prng(seed), seed);
  } catch (e) {
    const err = e as Error;
    err.message = `${name} failed with MMSPLIT_SEED=${seed}: ${err.message}`;
    throw err;
  }
}

test('empty tree', () => {
  const t = new MapleTree({ allocRange: true, capacity: 64 });
  assert.equal(t.load(0), 0);
  assert.equal(t.load(MAPLE_MAX), 0);
  assert.equal(t.find(0), undefined);
  assert.equal(t.findRev(MAPLE_MAX), undefined);
  assert.equal(t.erase(5), 0);
  assert.equal(t.emptyArea(10, 100, 5), 10);
  assert.equal(t.emptyAreaRev(10, 100, 5), 96);
  assert.equal(t.emptyArea(10, 13, 5), -1);
  assert.deepEqual([...t.entries()], []);
  assert.equal(t.height, 0);
  t.validate();
});

test('basic store, trim, split, erase', () => {
  const t = new MapleTree({ allocRange: true, capacity: 256 });
  t.storeRange(10, 19, 1);
  t.storeRange(30, 39, 2);
  assert.equal(t.load(9), 0);
  assert.equal(t.load(10), 1);
  assert.equal(t.load(19), 1);
  assert.equal(t.load(25), 0);
  assert.deepEqual(t.find(20), { first: 30, last: 39, value: 2 });
  assert.deepEqual(t.find(20, 29), undefined);
  assert.deepEqual(t.findRev(29), { first: 10, last: 19, value: 1 });
  assert.deepEqual(t.findRev(29, 20), undefined);
  // split one entry in three
  t.storeRange(14, 15, 3);
  assert.deepEqual(
    [...t.entries()].map((e) => [e.first, e.last, e.value]),
    [
      [10, 13, 1],
      [14, 15, 3],
      [16, 19, 1],
      [30, 39, 2],
    ],
  );
  assert.equal(t.insertRange(20, 29, 4), 0);
  assert.equal(t.insertRange(25, 30, 5), EEXIST);
  assert.equal(t.insertRange(40, 40, 5), 0);
  assert.equal(t.erase(17), 1);
  assert.equal(t.load(16), 0);
  assert.equal(t.size, 5);
  t.store(MAPLE_MAX, 9);
  assert.equal(t.load(MAPLE_MAX), 9);
  assert.deepEqual(t.find(MAPLE_MAX - 5), { first: MAPLE_MAX, last: MAPLE_MAX, value: 9 });
  assert.deepEqual(
    [...t.entriesReversed()].map((e) => e.first),
    [MAPLE_MAX, 40, 30, 20, 14, 10],
  );
  t.validate();
  t.storeRange(0, MAPLE_MAX, 0);
  assert.equal(t.size, 0);
  assert.equal(t.height, 0);
  t.validate();
});

test('grows to many levels and shrinks back to empty', () => {
  for (const allocRange of [false, true]) {
    const t = new MapleTree({ allocRange, capacity: 8192 });
    const N = 5000;
    for (let i = 0; i < N; i++) t.storeRange(i * 10, i * 10 + 4, i + 1);
    t.validate();
    assert.equal(t.size, N);
    assert.ok(t.height >= 3, `height ${t.height}`);
    for (let i = 0; i < N; i++) assert.equal(t.load(i * 10 + 2), i + 1);
    assert.equal(t.emptyArea(0, MAPLE_MAX, 6), N * 10 - 5);
    assert.equal(t.emptyArea(0, MAPLE_MAX, 5), 5);
    assert.equal(t.emptyAreaRev(0, N * 10 - 1, 5), N * 10 - 5);
    // erase every other, then all
    for (let i = 0; i < N; i += 2) assert.equal(t.erase(i * 10), i + 1);
    t.validate();
    for (let i = 1; i < N; i += 2) assert.equal(t.erase(i * 10 + 4), i + 1);
    t.validate();
    assert.equal(t.size, 0);
    assert.equal(t.nodeCount, 0);
  }
});

test('one store spanning many nodes', () => {
  const t = new MapleTree({ allocRange: true, capacity: 8192 });
  for (let i = 0; i < 3000; i++) t.storeRange(i * 4, i * 4 + 1, i + 1);
  t.storeRange(1001, 10_999, 77777);
  t.validate();
  assert.equal(t.load(1000), 251);
  assert.equal(t.load(1001), 77777);
  assert.equal(t.load(10_999), 77777);
  assert.equal(t.load(11_000), 2751);
  t.storeRange(3, 11_997, 0);
  t.validate();
  assert.deepEqual(
    [...t.entries()].map((e) => [e.first, e.last]),
    [
      [0, 1],
    ],
  );
});

test('MapleMap holds plain values', () => {
  const m = new MapleMap<{ name: string }>({ allocRange: true, capacity: 512 });
  m.storeRange(0x1000, 0x1fff, { name: 'a' });
  m.storeRange(0x3000, 0x3fff, { name: 'b' });
  m.storeRange(0x1800, 0x3800, { name: 'c' });
  assert.equal(m.load(0x1000)?.name, 'a');
  assert.equal(m.load(0x2000)?.name, 'c');
  assert.equal(m.load(0x3900)?.name, 'b');
  assert.equal(m.insertRange(0x5000, 0x5fff, { name: 'd' }), 0);
  assert.equal(m.insertRange(0x5000, 0x5000, { name: 'e' }), EEXIST);
  assert.equal(m.erase(0x2000)?.name, 'c');
  assert.deepEqual(
    [...m.entries()].map((e) => e.value.name),
    ['a', 'b', 'd'],
  );
  for (let i = 0; i < 2000; i++) m.storeRange(0x10000 + (i % 7), 0x10000 + (i % 7), { name: `x${i}` });
  m.validate();
  assert.equal(m.size, 10);
});

const OPS = LONG ? 1_000_000 : 100_000;

test(`differential vs a sorted-array model, ${OPS} ops, gap tracking`, { timeout: LONG ? 600_000 : 60_000 }, () => {
  seeded('differential allocRange', (rng) => differential(rng, OPS, true, 0, 20_000), LONG ? 4 : 1);
});

test(`differential vs a sorted-array model, ${OPS / 2} ops, no gaps, top of the index space`, { timeout: LONG ? 600_000 : 60_000 }, () => {
  seeded('differential top', (rng) => differential(rng, OPS / 2, false, MAPLE_MAX - 4000 + 1, 4000), LONG ? 4 : 1);
});

test('differential, sparse keys over 47-bit page addresses', { timeout: 60_000 }, () => {
  seeded('differential sparse', (rng) => differential(rng, LONG ? 200_000 : 20_000, true, 0x10000, 2 ** 35));
});

test('differential in RCU mode (copy-on-write writers, deferred frees, poisoned arena)', { timeout: 60_000 }, () => {
  seeded('differential rcu', (rng) => {
    differential(rng, LONG ? 300_000 : 30_000, true, 0, 5000, { rcu: true, debug: true });
    differential(rng, LONG ? 100_000 : 10_000, false, 0, 300, { rcu: true, debug: true });
    differential(rng, LONG ? 300_000 : 20_000, true, 0, 3000, { rcu: true }); // nodes recycled through the stash
  });
});

test('changing the tree while iterating it (outside RCU mode) visits every entry once', () => {
  for (const how of ['entries', 'forEach', 'reversed'] as const) {
    const t = new MapleTree({ allocRange: true, capacity: 1024 });
    const N = 600;
    for (let i = 0; i < N; i++) t.storeRange(i * 10, i * 10 + 5, i + 1);
    const seen: number[] = [];
    const visit = (first: number, last: number, value: number): void => {
      seen.push(value);
      // erase odd entries, split even ones: leaves change in place, split and merge under the iterator
      if (value % 2) t.erase(first);
      else {
        t.storeRange(first, first, value + 100_000);
        t.storeRange(last, last, 0);
      }
    };
    if (how === 'entries') for (const e of t.entries()) visit(e.first, e.last, e.value);
    else if (how === 'forEach') t.forEach(visit);
    else for (const e of t.entriesReversed()) visit(e.first, e.last, e.value);
    const want = Array.from({ length: N }, (_, i) => i + 1);
    assert.deepEqual(how === 'reversed' ? seen.reverse() : seen, want, how);
    t.validate();
    assert.equal(t.size, N);
  }
});

test('validate() names the node behind each broken invariant', () => {
  const build = (): MapleTree => {
    const t = new MapleTree({ allocRange: true, capacity: 512 });
    for (let i = 0; i < 200; i++) t.storeRange(i * 10, i * 10 + 4, i + 1);
    t.validate();
    return t;
  };
  // The leaf holding `index`, found through the tree's own header (root word) and arena views.
  const leafOf = (t: MapleTree, index: number): number => {
    const f64 = t.arena.f64;
    const i32 = t.arena.i32;
    const rootWord = new Int32Array(t.handle().header)[MH.ROOT]!;
    let node = rootWord >>> 4;
    let h = rootWord & 15;
    while (--h > 0) {
      let i = 0;
      while (f64[node * MN.F64 + i]! < index) i++;
      node = i32[node * MN.I32 + MN.SLOT + i]!;
    }
    return node;
  };
  const expectBroken = (mutate: (t: MapleTree, leaf: number) => void, what: RegExp): void => {
    const t = build();
    const leaf = leafOf(t, 1000);
    mutate(t, leaf);
    assert.throws(() => t.validate(), (e: Error) => what.test(e.message) && /maple_node \d+/.test(e.message), what.source);
  };
  expectBroken((t, n) => {
    const f = t.arena.f64;
    [f[n * MN.F64]!, f[n * MN.F64 + 1]!] = [f[n * MN.F64 + 1]!, f[n * MN.F64]!];
  }, /out of order|below/);
  expectBroken((t, n) => {
    t.arena.i32[n * MN.I32 + MN.END] = 2; // too few slots
  }, /mt_min_slots|pivot\[end\]/);
  expectBroken((t, n) => {
    t.arena.i32[n * MN.I32 + MN.PARENT] = 1;
  }, /parent link/);
  expectBroken((t, n) => {
    const i32 = t.arena.i32;
    const s = i32[n * MN.I32 + MN.SLOT] === 0 ? 1 : 0;
    i32[n * MN.I32 + MN.SLOT + s] = 0; // a second NULL next to one
  }, /two NULL ranges in a row|gap/);
  expectBroken((t, n) => {
    // widen a NULL range without telling the parent's gap
    const i32 = t.arena.i32;
    let k = 0;
    while (i32[n * MN.I32 + MN.SLOT + k] === 0) k++;
    i32[n * MN.I32 + MN.SLOT + k] = 0;
    i32[n * MN.I32 + MN.SLOT + k + 1] = 7;
  }, /gap|NULL/);
});

test('running out of nodes fails the write before it changes anything (ENOMEM)', () => {
  const t = new MapleTree({ allocRange: true, capacity: 64 });
  let stored = 0;
  assert.throws(() => {
    for (let i = 0; i < 10_000; i++) {
      t.storeRange(i * 3, i * 3, i + 1);
      stored = i + 1;
    }
  }, /ENOMEM/);
  t.validate();
  assert.equal(t.size, stored);
  for (let i = 0; i < stored; i++) assert.equal(t.load(i * 3), i + 1);
  assert.throws(() => t.storeRange(stored * 3, stored * 3, 1), /ENOMEM/);
  t.validate();
  assert.equal(t.size, stored);
});
