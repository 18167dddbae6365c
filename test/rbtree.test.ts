import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { EEXIST, RB_MAX, RbTree, RbTreeError, type RbEntry } from '../src/rbtree/index.js';
import { mmEntries, parseMaps } from '../src/trace/maps.js';
import { Prng } from '../src/util/prng.js';
import { testSeed } from './support/seed.js';

const LONG = !!process.env.MMSPLIT_LONG;

// ---------------------------------------------------------------------------------------------------------
// The model: a sorted array of disjoint ranges, every answer by linear scan.

class Model {
  readonly m: RbEntry[] = [];

  /** Index of the first entry with last >= index. */
  private lower(index: number): number {
    let lo = 0;
    let hi = this.m.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.m[mid]!.last < index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(first: number, last: number, value: number): number {
    const i = this.lower(first);
    if (i < this.m.length && this.m[i]!.first <= last) return EEXIST;
    this.m.splice(i, 0, { first, last, value });
    return 0;
  }

  load(index: number): number {
    const e = this.m[this.lower(index)];
    return e && e.first <= index ? e.value : 0;
  }

  erase(index: number): number {
    const i = this.lower(index);
    const e = this.m[i];
    if (!e || e.first > index) return 0;
    this.m.splice(i, 1);
    return e.value;
  }

  find(index: number, max: number): RbEntry | undefined {
    const e = this.m[this.lower(index)];
    return e && e.first <= max ? e : undefined;
  }

  findRev(index: number, min: number): RbEntry | undefined {
    for (let i = this.m.length - 1; i >= 0; i--) {
      const e = this.m[i]!;
      if (e.first <= index) return e.last >= min ? e : undefined;
    }
    return undefined;
  }

  /** The holes [a, b], ascending: below each entry, and above the last. */
  holes(): [number, number][] {
    const out: [number, number][] = [];
    let a = 0;
    for (const e of this.m) {
      if (a <= e.first - 1) out.push([a, e.first - 1]);
      a = e.last + 1;
    }
    if (a <= RB_MAX) out.push([a, RB_MAX]);
    return out;
  }

  emptyArea(min: number, max: number, size: number): number {
    if (!(min >= 0 && min <= max && max <= RB_MAX && size >= 1) || max - min + 1 < size) return -1;
    for (const [a, b] of this.holes()) {
      const s = Math.max(a, min);
      if (s <= Math.min(b, max) - size + 1) return s; // s + size - 1 could round above 2^53
    }
    return -1;
  }

  emptyAreaRev(min: number, max: number, size: number): number {
    if (!(min >= 0 && min <= max && max <= RB_MAX && size >= 1) || max - min + 1 < size) return -1;
    const hs = this.holes();
    for (let i = hs.length - 1; i >= 0; i--) {
      const [a, b] = hs[i]!;
      const s = Math.min(b, max) - size + 1;
      if (s >= Math.max(a, min)) return s;
    }
    return -1;
  }
}

function sameEntries(t: RbTree, m: Model, what: string): void {
  const got = [...t.entries()];
  assert.equal(t.size, m.m.length, `${what}: size`);
  assert.deepEqual(got, m.m.map((e) => ({ ...e })), `${what}: entries`);
}

/** Interesting indices: 0, RB_MAX, entry edges and their neighbours, random ones low and high. */
function point(rng: Prng, m: Model, space: number): number {
  const k = rng.below(10);
  if (k === 0) return rng.chance(0.5) ? 0 : RB_MAX;
  if (k <= 4 && m.m.length > 0) {
    const e = rng.pick(m.m);
    const x = rng.pick([e.first, e.last, e.first - 1, e.last + 1, e.first + 1, e.last - 1]);
    return Math.min(RB_MAX, Math.max(0, x));
  }
  return randomKey(rng, space);
}

function randomKey(rng: Prng, space: number): number {
  // Mostly a dense low band (collisions, small holes), sometimes the top of the index space (edges at RB_MAX).
  return rng.chance(0.9) ? rng.below(space) : RB_MAX - rng.below(space >>> 4);
}

function differential(seed: number, ops: number, space: number, target: number): void {
  const rng = new Prng(seed);
  const t = new RbTree({ capacity: target * 2 + 16, debug: true, name: `rb-diff-${seed}` });
  const m = new Model();
  let op = 0;
  const where = () => `seed=${seed} (MMSPLIT_SEED=${seed} to reproduce) op=${op}`;
  try {
    for (op = 0; op < ops; op++) {
      if (op % 1000 === 999) {
        // Every batch: red-black rules, order, gaps, list, size; the arena's bitmap and poison.
        t.validate();
        t.arena.validate();
        sameEntries(t, m, where());
      }
      const grow = m.m.length < target;
      if (m.m.length > target + (target >>> 2)) {
        // Too big: munmap a random entry through an index inside it.
        const e = rng.pick(m.m);
        const i = e.first + rng.below(Math.min(e.last - e.first + 1, 1 << 30));
        assert.equal(t.erase(i), m.erase(i), `${where()}: erase(${i})`);
        continue;
      }
      const k = rng.below(100);
      if (k < (grow ? 30 : 15)) {
        // insertRange anywhere: sometimes a hole, often an overlap.
        const first = randomKey(rng, space);
        const len = rng.chance(0.7) ? rng.below(64) : rng.below(space >>> 6);
        const last = Math.min(RB_MAX, first + len);
        const v = 1 + rng.below(0x7fffffff);
        const want = m.insert(first, last, v);
        assert.equal(t.insertRange(first, last, v), want, `${where()}: insertRange(${first}, ${last})`);
      } else if (k < (grow ? 45 : 25) && m.holes().length > 0) {
        // storeRange into a hole of the model, sometimes filling it exactly.
        const hs = m.holes();
        const [a, b] = rng.pick(hs);
        const first = rng.chance(0.3) ? a : a + rng.below(Math.min(b - a + 1, 1 << 20));
        const last = rng.chance(0.3) ? b : first + rng.below(Math.min(b - first + 1, 1 << 20));
        const v = 1 + rng.below(0x7fffffff);
        assert.equal(m.insert(first, last, v), 0);
        t.storeRange(first, last, v);
      } else if (k < (grow ? 55 : 50)) {
        const i = point(rng, m, space);
        assert.equal(t.erase(i), m.erase(i), `${where()}: erase(${i})`);
      } else if (k < 65) {
        const i = point(rng, m, space);
        assert.equal(t.load(i), m.load(i), `${where()}: load(${i})`);
      } else if (k < 72) {
        const i = point(rng, m, space);
        const max = rng.chance(0.3) ? RB_MAX : Math.max(i, point(rng, m, space));
        assert.deepEqual(t.find(i, max), m.find(i, max), `${where()}: find(${i}, ${max})`);
      } else if (k < 76) {
        const i = point(rng, m, space);
        const min = rng.chance(0.3) ? 0 : Math.min(i, point(rng, m, space));
        assert.deepEqual(t.findRev(i, min), m.findRev(i, min), `${where()}: findRev(${i}, ${min})`);
      } else if (k < 80 && m.m.length > 0) {
        // An overlapping storeRange must throw and change nothing.
        const e = rng.pick(m.m);
        const first = Math.max(0, e.first - rng.below(4));
        assert.throws(() => t.storeRange(first, e.first, 7), RbTreeError, `${where()}: storeRange over [${e.first}, ${e.last}]`);
      } else {
        // Gap searches with min/max at the edges of holes, of entries, of the index space.
        let a = point(rng, m, space);
        let b = point(rng, m, space);
        if (a > b) [a, b] = [b, a];
        if (rng.chance(0.1)) a = 0;
        if (rng.chance(0.1)) b = RB_MAX;
        let size: number;
        const hs = m.holes();
        const r = rng.below(4);
        if (r === 0) size = 1;
        else if (r === 1 && hs.length > 0) {
          const [ha, hb] = rng.pick(hs);
          size = Math.max(1, hb - ha + 1 + rng.int(-1, 1)); // exactly a hole's size, or one off
        } else if (r === 2) size = 1 + rng.below(64);
        else size = 1 + rng.below(b - a + 2);
        assert.equal(t.emptyArea(a, b, size), m.emptyArea(a, b, size), `${where()}: emptyArea(${a}, ${b}, ${size})`);
        assert.equal(t.emptyAreaRev(a, b, size), m.emptyAreaRev(a, b, size), `${where()}: emptyAreaRev(${a}, ${b}, ${size})`);
      }
    }
    // Erase down to empty, in random order, validating on the way.
    while (m.m.length > 0) {
      const e = rng.pick(m.m);
      const i = e.first + rng.below(Math.min(e.last - e.first + 1, 1 << 30));
      assert.equal(t.erase(i), m.erase(i), `${where()}: drain erase(${i})`);
      if (m.m.length % 97 === 0) t.validate();
    }
    t.validate();
    assert.equal(t.size, 0);
    assert.equal(t.height, 0);
    assert.equal(t.arena.inUse(), 0, 'every node freed');
    assert.equal(t.emptyAreaRev(0, RB_MAX, 10), RB_MAX - 9);
    assert.equal(t.emptyArea(5, RB_MAX, 10), 5);
  } catch (e) {
    if (e instanceof Error && !e.message.includes('seed=')) e.message = `${where()}: ${e.message}`;
    throw e;
  }
}

test('differential against a sorted array (random ops, seeded)', () => {
  const seed = testSeed();
  const ops = LONG ? 1_000_000 : 100_000;
  differential(seed, ops, 1 << 20, 400);
});

test('differential, small key space (dense, tiny holes) and a large tree', () => {
  const seed = (testSeed() + 1) >>> 0;
  differential(seed, LONG ? 300_000 : 30_000, 1 << 12, 150);
  differential((seed + 1) >>> 0, LONG ? 200_000 : 20_000, 1 << 26, 3000);
});

test('sequential insertions and erasures keep the tree balanced', () => {
  const t = new RbTree({ capacity: 1 << 15 });
  const n = 20_000;
  for (let i = 0; i < n; i++) t.storeRange(i * 10, i * 10 + 4, i + 1);
  t.validate();
  assert.ok(t.height <= 2 * Math.log2(n + 1), `height ${t.height}`);
  // Every hole is 5 wide except the top one; the lowest hole of 6 is the top.
  assert.equal(t.emptyArea(0, RB_MAX, 5), 5);
  assert.equal(t.emptyArea(0, RB_MAX, 6), n * 10 - 5);
  assert.equal(t.emptyAreaRev(0, n * 10 - 6, 5), n * 10 - 15);
  assert.equal(t.emptyAreaRev(0, n * 10 - 6, 6), -1);
  for (let i = n - 1; i >= 0; i -= 2) assert.equal(t.erase(i * 10 + 2), i + 1);
  t.validate();
  assert.equal(t.size, n / 2);
  assert.equal(t.emptyAreaRev(0, n * 10 - 1, 15), n * 10 - 15);
  assert.equal(t.emptyAreaRev(0, n * 10 - 6, 15), n * 10 - 35);
  for (let i = 0; i < n; i += 2) assert.equal(t.erase(i * 10), i + 1);
  t.validate();
  assert.equal(t.size, 0);
});

test('gap searches visit O(log n) nodes (rb_subtree_gap pruning)', () => {
  const seed = testSeed();
  const rng = new Prng(seed);
  const n = 1 << 15;
  const t = new RbTree({ capacity: n + 2 });
  const m = new Model();
  const starts: number[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    at += 1 + (rng.chance(0.01) ? rng.below(1e6) : rng.below(100));
    const len = 1 + rng.below(50);
    t.storeRange(at, at + len - 1, i + 1);
    m.insert(at, at + len - 1, i + 1);
    starts.push(at);
    at += len;
  }
  t.validate();
  const bound = 2 * t.height + 8;
  let worst = 0;
  for (let q = 0; q < 20_000; q++) {
    let a = Math.max(0, rng.pick(starts) + rng.int(-3, 3));
    let b = rng.pick(starts) + rng.int(-3, 3);
    if (a > b) [a, b] = [b, a];
    const size = rng.chance(0.5) ? 1 + rng.below(200) : 1 + rng.below(1e6);
    const r1 = t.emptyAreaRev(a, b, size);
    worst = Math.max(worst, t.searchSteps);
    const r2 = t.emptyArea(a, b, size);
    worst = Math.max(worst, t.searchSteps);
    if (q < 500) {
      assert.equal(r1, m.emptyAreaRev(a, b, size), `seed=${seed} emptyAreaRev(${a}, ${b}, ${size})`);
      assert.equal(r2, m.emptyArea(a, b, size), `seed=${seed} emptyArea(${a}, ${b}, ${size})`);
    }
  }
  assert.ok(worst <= bound, `seed=${seed}: a search visited ${worst} nodes, height ${t.height}`);
});

test('gap searches at the edges of min, max and the index space', () => {
  const t = new RbTree({ capacity: 64 });
  // Empty tree: the whole index space is one hole.
  assert.equal(t.emptyArea(0, RB_MAX, 1), 0);
  assert.equal(t.emptyAreaRev(0, RB_MAX, 1), RB_MAX);
  assert.equal(t.emptyAreaRev(0, RB_MAX, RB_MAX + 1), 0);
  assert.equal(t.emptyArea(3, 3, 1), 3);
  assert.equal(t.emptyArea(3, 3, 2), -1);
  assert.equal(t.emptyAreaRev(10, 5, 1), -1);
  assert.equal(t.emptyAreaRev(0, 10, 0), -1);
  // [0,9] and [RB_MAX-9, RB_MAX] taken: no hole at either end.
  t.storeRange(0, 9, 1);
  t.storeRange(RB_MAX - 9, RB_MAX, 2);
  t.storeRange(100, 199, 3);
  t.validate();
  assert.equal(t.emptyArea(0, RB_MAX, 1), 10);
  assert.equal(t.emptyArea(0, RB_MAX, 90), 10);
  assert.equal(t.emptyArea(0, RB_MAX, 91), 200);
  assert.equal(t.emptyArea(11, 99, 89), 11);
  assert.equal(t.emptyArea(11, 99, 90), -1);
  assert.equal(t.emptyArea(10, 98, 89), 10);
  assert.equal(t.emptyArea(10, 98, 90), -1);
  assert.equal(t.emptyAreaRev(0, RB_MAX, 1), RB_MAX - 10);
  assert.equal(t.emptyAreaRev(0, RB_MAX, RB_MAX - 219), 210);
  assert.equal(t.emptyAreaRev(0, RB_MAX, RB_MAX - 209), 200);
  assert.equal(t.emptyAreaRev(0, RB_MAX, RB_MAX - 208), -1);
  assert.equal(t.emptyArea(0, RB_MAX, RB_MAX - 209), 200);
  assert.equal(t.emptyArea(0, RB_MAX, RB_MAX - 208), -1);
  assert.equal(t.emptyAreaRev(0, 150, 90), 10);
  assert.equal(t.emptyAreaRev(0, 150, 91), -1);
  assert.equal(t.emptyAreaRev(0, 99, 90), 10);
  assert.equal(t.emptyAreaRev(11, 99, 89), 11);
  assert.equal(t.emptyAreaRev(11, 99, 90), -1);
  assert.equal(t.emptyAreaRev(0, 9, 1), -1);
  assert.equal(t.emptyAreaRev(RB_MAX - 9, RB_MAX, 1), -1);
  assert.equal(t.emptyArea(RB_MAX - 10, RB_MAX, 1), RB_MAX - 10);
  assert.equal(t.emptyArea(RB_MAX - 9, RB_MAX, 1), -1);
  // insertRange / storeRange at the edges.
  assert.equal(t.insertRange(9, 10, 4), EEXIST);
  assert.equal(t.insertRange(10, 10, 4), 0);
  assert.equal(t.insertRange(RB_MAX - 10, RB_MAX - 10, 5), 0);
  assert.throws(() => t.storeRange(RB_MAX - 11, RB_MAX - 10, 6), RbTreeError);
  assert.throws(() => t.storeRange(5, 4, 6), RbTreeError);
  assert.throws(() => t.storeRange(0, RB_MAX + 1, 6), RbTreeError);
  assert.throws(() => t.storeRange(300, 300, 0), RbTreeError);
  assert.throws(() => t.storeRange(300, 300, 2 ** 31), RbTreeError);
  t.validate();
  assert.equal(t.load(RB_MAX), 2);
  assert.equal(t.load(RB_MAX + 1), 0);
  assert.equal(t.load(-1), 0);
  assert.deepEqual(t.find(RB_MAX - 10), { first: RB_MAX - 10, last: RB_MAX - 10, value: 5 });
  assert.deepEqual(t.find(200, 299), undefined);
  assert.deepEqual(t.findRev(99), { first: 10, last: 10, value: 4 });
  assert.equal(t.erase(RB_MAX), 2);
  assert.equal(t.emptyAreaRev(0, RB_MAX, 1), RB_MAX);
  assert.equal(t.emptyAreaRev(0, RB_MAX, 10), RB_MAX - 9);
  t.validate();
  t.clear();
  t.validate();
  assert.equal(t.size, 0);
  assert.equal(t.arena.inUse(), 0);
});

test('a full arena throws (ENOMEM) and leaves the tree intact', () => {
  const t = new RbTree({ capacity: 4 });
  t.storeRange(0, 0, 1);
  t.storeRange(2, 2, 2);
  t.storeRange(4, 4, 3);
  assert.throws(() => t.storeRange(6, 6, 4), /ENOMEM/);
  t.validate();
  assert.equal(t.size, 3);
});

test('validate() names the node with a broken invariant', () => {
  const t = new RbTree({ capacity: 64 });
  for (let i = 0; i < 20; i++) t.storeRange(i * 100, i * 100 + 9, i + 1);
  t.validate();
  // Corrupt one subtree gap through the shared arena, as a stray write would.
  const f64 = t.arena.f64;
  let rec = 0;
  for (let r = 1; r < 64; r++) if (t.arena.isLive(r) && f64[r * 8] === 500) rec = r;
  const saved = f64[rec * 8 + 3]!;
  f64[rec * 8 + 3] = saved + 1;
  assert.throws(() => t.validate(), new RegExp(`node ${rec} \\[500, 509\\]: rb_subtree_gap`));
  f64[rec * 8 + 3] = saved;
  t.validate();
});

// ---------------------------------------------------------------------------------------------------------
// Real layouts.

const fixtureDir = fileURLToPath(new URL('../../test/fixtures/maps/', import.meta.url));
const fixtures = readdirSync(fixtureDir).filter((f) => f.endsWith('.maps')).sort();

/** Loads a fixture's VMAs as byte ranges [start, end - 1] → line number. */
function loadLayout(file: string): { t: RbTree; m: Model } {
  const entries = mmEntries(parseMaps(readFileSync(join(fixtureDir, file), 'utf8'), file));
  const t = new RbTree({ capacity: entries.length + 8, name: file });
  const m = new Model();
  for (const e of entries) {
    t.storeRange(e.start, e.end - 1, e.line);
    m.insert(e.start, e.end - 1, e.line);
  }
  return { t, m };
}

for (const f of fixtures) {
  test(`real layout ${f}: loads, lookups and unmapped-area searches agree with the model`, () => {
    const { t, m } = loadLayout(f);
    t.validate();
    sameEntries(t, m, f);
    const seed = testSeed();
    const rng = new Prng(seed);
    const mmapMin = 0x10000; // vm.mmap_min_addr
    const taskSize = 2 ** 47 - 4096; // TASK_SIZE on x86-64 with 4-level paging
    for (const e of m.m) {
      assert.equal(t.load(e.first), e.value);
      assert.equal(t.load(e.last), e.value);
      assert.equal(t.load(e.first - 1), m.load(e.first - 1));
      assert.deepEqual(t.find(e.last + 1), m.find(e.last + 1, RB_MAX));
    }
    for (let q = 0; q < 2000; q++) {
      const size = 4096 * (rng.chance(0.5) ? 1 + rng.below(16) : 1 + rng.below(1 << 20));
      let max = taskSize - 1;
      // mmap_base-like limits just below some VMA, as get_unmapped_area's topdown search uses.
      if (rng.chance(0.5) && m.m.length > 0) max = rng.pick(m.m).first - 1;
      const min = rng.chance(0.8) ? mmapMin : Math.min(max, rng.pick(m.m).last + 1);
      if (max < min) continue;
      const ctx = `${f} seed=${seed} q=${q}`;
      assert.equal(t.emptyAreaRev(min, max, size), m.emptyAreaRev(min, max, size), `${ctx}: emptyAreaRev(${min}, ${max}, ${size})`);
      assert.equal(t.emptyArea(min, max, size), m.emptyArea(min, max, size), `${ctx}: emptyArea(${min}, ${max}, ${size})`);
    }
    // munmap every other VMA, then the rest, validating on the way.
    for (let i = 0; i < m.m.length; i += 2) assert.equal(t.erase(m.m[i]!.first), m.m[i]!.value);
    t.validate();
    t.clear();
    t.validate();
  });
}

// ---------------------------------------------------------------------------------------------------------
// Shared memory: a worker attaches and sees the same tree.

test('RbTree.attach(handle) on a worker sees the same contents', async () => {
  const { t } = loadLayout('node-249vmas.maps');
  const moduleUrl = new URL('../src/rbtree/index.js', import.meta.url).href;
  const want = [...t.entries()];
  const probes = want.map((e) => e.first + 4096);
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(moduleUrl)}).then(({ RbTree }) => {
      const t = RbTree.attach(workerData.handle);
      t.validate();
      parentPort.postMessage({
        entries: [...t.entries()],
        loads: workerData.probes.map((i) => t.load(i)),
        rev: t.emptyAreaRev(0x10000, 2 ** 47 - 4097, 1 << 20),
        size: t.size,
      });
    }).catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
  const w = new Worker(src, { eval: true, workerData: { handle: t.handle(), probes } });
  let timer: NodeJS.Timeout | undefined;
  try {
    const got = await new Promise<{ entries: RbEntry[]; loads: number[]; rev: number; size: number; error?: string }>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error('worker did not answer within 15 s')), 15_000);
      w.once('message', resolve);
      w.once('error', reject);
    });
    assert.equal(got.error, undefined);
    assert.deepEqual(got.entries, want);
    assert.deepEqual(got.loads, probes.map((i) => t.load(i)));
    assert.equal(got.rev, t.emptyAreaRev(0x10000, 2 ** 47 - 4097, 1 << 20));
    assert.equal(got.size, t.size);
  } finally {
    clearTimeout(timer);
    await w.terminate();
  }
});
