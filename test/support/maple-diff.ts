import assert from 'node:assert/strict';
import { EEXIST, MAPLE_MAX, MapleTree } from '../../src/maple/index.js';
import { Rcu } from '../../src/sync/rcu.js';
import type { Prng } from '../../src/util/prng.js';
import { RangeModel } from './maple-model.js';

/** Differential run of `ops` random operations in a window of the index space starting at `base`. */
export function differential(
  rng: Prng,
  ops: number,
  allocRange: boolean,
  base: number,
  span: number,
  opts: { rcu?: boolean; debug?: boolean } = {},
): void {
  const rcu = opts.rcu ? Rcu.create() : undefined;
  const t = new MapleTree({ allocRange, capacity: 1 << 15, rcu, debug: opts.debug });
  const m = new RangeModel();
  const key = (): number => base + rng.below(span);
  let phase = 0; // 0 grow, 1 churn, 2 shrink
  const GROW = [45, 45, 70, 72];
  const CHURN = [40, 41, 55, 65];
  const SHRINK = [8, 14, 18, 85];
  const batch = 1000;
  let op = 0;
  try {
    for (; op < ops; op++) {
      step(op);
    }
  } catch (e) {
    // Keep the tree and the model on the error, for a debugger or a replay script.
    Object.assign(e as object, { tree: t, model: m, op });
    throw e;
  }
  t.validate();

  function step(op: number): void {
    // Phases: grow, churn, and shrink, which lasts until the tree is empty again.
    if (op % 5000 === 0 && phase !== 2) phase = rng.below(3);
    if (phase === 2 && m.size === 0) phase = 0;
    const ctx = (): string => `op ${op}`;
    // Operation mix: [store, wide NULL store, insert, erase, load, find] cumulative %, the rest gap searches.
    const mix = phase === 0 ? GROW : phase === 1 ? CHURN : SHRINK;
    let r = rng.below(100);
    if (r < mix[0]!) {
      // store a range: mostly short, sometimes wide (spans many nodes), sometimes NULL
      const first = key();
      const len = rng.chance(0.03) ? rng.below(span / 4) : rng.chance(0.5) ? rng.below(4) : rng.below(64);
      const last = Math.min(first + len, base + span - 1, MAPLE_MAX);
      const value = rng.chance(phase === 2 ? 0.5 : 0.1) ? 0 : rng.int(1, 0x7fffffff);
      t.storeRange(first, last, value);
      m.store(first, last, value);
    } else if (r < mix[1]!) {
      // erase a wide stretch: a NULL store spanning many nodes
      const first = key();
      const last = Math.min(first + rng.below(span / 3), base + span - 1, MAPLE_MAX);
      t.storeRange(first, last, 0);
      m.store(first, last, 0);
    } else if (r < mix[2]!) {
      const first = key();
      const last = Math.min(first + rng.below(32), MAPLE_MAX);
      const value = rng.int(1, 0x7fffffff);
      const want = m.occupied(first, last) ? EEXIST : 0;
      assert.equal(t.insertRange(first, last, value), want, ctx());
      if (want === 0) m.store(first, last, value);
    } else if (r < mix[3]!) {
      const i = phase === 2 && m.size > 0 && rng.chance(0.9) ? m.f[rng.below(m.size)]! : key();
      assert.equal(t.erase(i), m.erase(i), ctx());
    } else {
      // queries: the same split in both phases
      r = 65 + Math.floor(((r - mix[3]!) * 35) / (100 - mix[3]!));
      if (r < 80) {
        const i = key();
        assert.equal(t.load(i), m.load(i), ctx());
      } else if (r < 88) {
        const i = key();
        const lim = rng.chance(0.2) ? MAPLE_MAX : Math.min(i + rng.below(span / 8), MAPLE_MAX);
        if (rng.chance(0.5)) assert.deepEqual(t.find(i, lim), m.find(i, lim), ctx());
        else {
          const lo = rng.chance(0.2) ? 0 : Math.max(i - rng.below(span / 8), 0);
          assert.deepEqual(t.findRev(i, lo), m.findRev(i, lo), ctx());
        }
      } else {
        // gap searches, often pinned to the window's edges or the whole space
        let min = key();
        let max = Math.min(min + rng.below(span), MAPLE_MAX);
        if (rng.chance(0.15)) min = base;
        if (rng.chance(0.15)) max = Math.min(base + span - 1, MAPLE_MAX);
        if (rng.chance(0.05)) min = 0;
        if (rng.chance(0.05)) max = MAPLE_MAX;
        const size = rng.chance(0.1) ? max - min + 1 : 1 + rng.below(rng.chance(0.5) ? 8 : 256);
        assert.equal(t.emptyArea(min, max, size), m.emptyArea(min, max, size), `${ctx()} emptyArea(${min}, ${max}, ${size})`);
        assert.equal(t.emptyAreaRev(min, max, size), m.emptyAreaRev(min, max, size), `${ctx()} emptyAreaRev(${min}, ${max}, ${size})`);
      }
    }
    if (op % batch === batch - 1) {
      t.validate();
      if (rcu && rng.chance(0.3)) t.rcuBarrier();
      assert.equal(t.size, m.size, ctx());
      const got: number[] = [];
      t.forEach((f, l, v) => got.push(f, l, v));
      const want: number[] = [];
      for (let i = 0; i < m.size; i++) want.push(m.f[i]!, m.l[i]!, m.v[i]!);
      assert.deepEqual(got, want, `${ctx()}: forEach`);
      // partial iterations, both directions
      const a = key();
      const b = Math.min(a + rng.below(span / 4), MAPLE_MAX);
      const inside = m.entries().filter((e) => e.last >= a && e.first <= b);
      assert.deepEqual([...t.entries(a, b)], inside, `${ctx()}: entries(${a}, ${b})`);
      assert.deepEqual([...t.entriesReversed(b, a)], inside.reverse(), `${ctx()}: entriesReversed(${b}, ${a})`);
      if (op % (batch * 10) === batch * 10 - 1) {
        assert.deepEqual([...t.entries()], m.entries(), `${ctx()}: entries`);
        assert.deepEqual([...t.entriesReversed()], m.entries().reverse(), `${ctx()}: entriesReversed`);
      }
    }
  }
}

