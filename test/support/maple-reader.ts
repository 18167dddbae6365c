/**
 * A lockless maple tree reader for the RCU concurrency test: it attaches to the tree and the RCU domain,
 * then loads, finds, iterates and searches gaps until told to stop, publishing how many it made, checking every answer against the
 * encoding of the stored values (each value names the range it was stored over) and against the
 * permanent entries the writer never touches. Reports its counts or the first violation.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MapleTree, type MapleTreeHandle } from '../../src/maple/index.js';
import { Rcu, type RcuHandle } from '../../src/sync/rcu.js';
import { Prng } from '../../src/util/prng.js';
import { BLOCK, BLOCKS, BASE, decodeFirst, decodeLast, PERM_LEN, permValue } from './maple-rcu-shared.js';

interface ReaderData {
  tree: MapleTreeHandle;
  rcu: RcuHandle;
  control: SharedArrayBuffer; // [stop, readers ready, operations of each reader]
  index: number;
  seed: number;
}

const data = workerData as ReaderData;
const ctl = new Int32Array(data.control);
const tree = MapleTree.attach(data.tree);
const rcu = Rcu.attach(data.rcu);
const rng = new Prng(data.seed);
const END = BASE + BLOCKS * BLOCK; // first index past the test's window

function fail(what: string): never {
  throw new Error(`reader: ${what}`);
}

/** A value found over [first, last] must have been stored over a range containing it. */
function checkEntry(first: number, last: number, value: number, what: string): void {
  if (!(value > 0)) fail(`${what}: value ${value}`);
  const f = decodeFirst(value);
  const l = decodeLast(value);
  if (!(f <= first && last <= l && first <= last)) fail(`${what}: [${first}, ${last}] holds ${value}, stored over [${f}, ${l}] (torn or invented)`);
}

function isPerm(i: number): boolean {
  return i >= BASE && i < END && (i - BASE) % BLOCK < PERM_LEN;
}

/** The first permanent entry whose range ends at or after i (its first index), or Infinity. */
function nextPerm(i: number): number {
  if (i < BASE) return BASE;
  const k = Math.floor((i - BASE) / BLOCK);
  const off = (i - BASE) % BLOCK;
  const p = off < PERM_LEN ? BASE + k * BLOCK : BASE + (k + 1) * BLOCK;
  return p < END ? p : Infinity;
}

/** The last permanent entry starting at or before i (its first index), or -Infinity. */
function prevPerm(i: number): number {
  if (i < BASE) return -Infinity;
  const k = Math.min(Math.floor((i - BASE) / BLOCK), BLOCKS - 1);
  return BASE + k * BLOCK;
}

const counts = { load: 0, find: 0, findRev: 0, iterate: 0, emptyArea: 0, entries: 0, reversed: 0 };

function oneOp(): void {
  const i = BASE + rng.below(BLOCKS * BLOCK);
  const r = rng.below(100);
  if (r < 40) {
    const v = tree.load(i);
    counts.load++;
    if (isPerm(i)) {
      const k = Math.floor((i - BASE) / BLOCK);
      if (v !== permValue(k)) fail(`load(${i}) = ${v} inside permanent entry ${k}`);
    } else if (v !== 0) checkEntry(i, i, v, `load(${i})`);
  } else if (r < 55) {
    const max = i + rng.below(3 * BLOCK);
    const v = tree.findValue(i, max);
    counts.find++;
    const p = nextPerm(i);
    if (v === 0) {
      if (p <= max) fail(`find(${i}, ${max}) found nothing, permanent entry at ${p}`);
      return;
    }
    const first = tree.rangeFirst;
    const last = tree.rangeLast;
    if (!(last >= i && first <= max)) fail(`find(${i}, ${max}) returned [${first}, ${last}]`);
    if (first > p) fail(`find(${i}, ${max}) returned [${first}, ${last}], skipping permanent entry at ${p}`);
    checkEntry(first, last, v, `find(${i}, ${max})`);
  } else if (r < 65) {
    const min = Math.max(0, i - rng.below(3 * BLOCK));
    const v = tree.findRevValue(i, min);
    counts.findRev++;
    const p = prevPerm(i);
    if (v === 0) {
      if (p + PERM_LEN - 1 >= min) fail(`findRev(${i}, ${min}) found nothing, permanent entry at ${p}`);
      return;
    }
    const first = tree.rangeFirst;
    const last = tree.rangeLast;
    if (!(first <= i && last >= min)) fail(`findRev(${i}, ${min}) returned [${first}, ${last}]`);
    if (last < p) fail(`findRev(${i}, ${min}) returned [${first}, ${last}], skipping permanent entry at ${p}`);
    checkEntry(first, last, v, `findRev(${i}, ${min})`);
  } else if (r < 80) {
    // A walk over two or three blocks: in order, disjoint, every permanent entry present.
    const from = i;
    const to = Math.min(i + 2 * BLOCK + rng.below(BLOCK), END - 1);
    let prev = -1;
    let perms = 0;
    const each = (first: number, last: number, v: number): void => {
      if (first <= prev) fail(`iteration over [${from}, ${to}]: [${first}, ${last}] after ${prev}`);
      prev = last;
      if (isPerm(first)) {
        const k = Math.floor((first - BASE) / BLOCK);
        if (v !== permValue(k) || last !== first + PERM_LEN - 1) fail(`iteration: permanent entry ${k} reads [${first}, ${last}] = ${v}`);
        perms++;
      } else checkEntry(first, last, v, `iteration over [${from}, ${to}]`);
    };
    const how = rng.below(3);
    if (how === 0) {
      tree.forEach(each, from, to);
      counts.iterate++;
    } else if (how === 1) {
      for (const e of tree.entries(from, to)) each(e.first, e.last, e.value);
      counts.entries++;
    } else {
      // downwards: check the order, then feed the same checks in increasing order
      const got: Array<[number, number, number]> = [];
      let below = Infinity;
      for (const e of tree.entriesReversed(to, from)) {
        if (e.last >= below) fail(`reverse iteration over [${from}, ${to}]: [${e.first}, ${e.last}] after ${below}`);
        below = e.first;
        got.push([e.first, e.last, e.value]);
      }
      for (let k = got.length - 1; k >= 0; k--) each(got[k]![0], got[k]![1], got[k]![2]);
      counts.reversed++;
    }
    let want = 0;
    for (let p = nextPerm(from); p <= to; p += BLOCK) want++;
    if (perms !== want) fail(`iteration over [${from}, ${to}] met ${perms} permanent entries, expected ${want}`);
  } else {
    const min = i;
    const max = Math.min(i + rng.below(4 * BLOCK), END - 1);
    const size = 1 + rng.below(64);
    const rev = rng.chance(0.5);
    const s = rev ? tree.emptyAreaRev(min, max, size) : tree.emptyArea(min, max, size);
    counts.emptyArea++;
    if (s === -1) return;
    if (!(s >= min && s + size - 1 <= max)) fail(`emptyArea(${min}, ${max}, ${size}) = ${s} outside the window`);
    for (let p = nextPerm(s); p <= s + size - 1; p += BLOCK) fail(`emptyArea(${min}, ${max}, ${size}) = ${s} covers permanent entry at ${p}`);
    if (isPerm(s)) fail(`emptyArea(${min}, ${max}, ${size}) = ${s} inside a permanent entry`);
  }
}

rcu.registerThread();
Atomics.add(ctl, 1, 1);
try {
  let ops = 0;
  while (Atomics.load(ctl, 0) === 0) {
    rcu.readLock();
    oneOp();
    rcu.readUnlock();
    rcu.quiescentState();
    Atomics.store(ctl, 2 + data.index, ++ops); // the writer keeps pace with it
  }
  rcu.unregisterThread();
  parentPort!.postMessage({ ok: true, ops, counts });
} catch (e) {
  Atomics.store(ctl, 0, 1); // stop everyone: the test has failed
  parentPort!.postMessage({ ok: false, error: String((e as Error).stack ?? e) });
}
