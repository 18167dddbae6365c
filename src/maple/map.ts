import { MAPLE_MAX } from './layout.js';
import { EEXIST, MapleTree, type MapleTreeOptions } from './tree.js';

/** An entry of a MapleMap. */
export interface MapleMapEntry<T> {
  first: number;
  last: number;
  value: T;
}

/**
 * MapleMap<T>: the maple tree over plain JavaScript values, for single-threaded use (JS objects cannot be
 * shared between workers). Values live in a side table; the tree stores their handles (index + 1). A store
 * that splits a range leaves one handle in two ranges, so handles are not counted: when the table holds
 * more than twice the live entries, a sweep over the tree frees the handles no range uses any more.
 */
export class MapleMap<T> {
  readonly tree: MapleTree;
  private values: Array<T | undefined> = [undefined];
  private freeHandles: number[] = [];
  private live = 0;

  constructor(opts: Omit<MapleTreeOptions, 'rcu' | 'attach'> = {}) {
    this.tree = new MapleTree(opts);
  }

  get size(): number {
    return this.tree.size;
  }

  private handleFor(value: T): number {
    const h = this.freeHandles.pop() ?? this.values.length;
    this.values[h] = value;
    this.live++;
    return h + 0;
  }

  private sweep(): void {
    if (this.live <= 2 * this.tree.size + 64) return;
    const used = new Uint8Array(this.values.length);
    this.tree.forEach((_f, _l, h) => {
      used[h] = 1;
    });
    this.freeHandles.length = 0;
    this.live = 0;
    for (let h = this.values.length - 1; h >= 1; h--) {
      if (used[h]) this.live++;
      else {
        this.values[h] = undefined;
        this.freeHandles.push(h);
      }
    }
  }

  /** [first, last] holds `value` (undefined erases). */
  storeRange(first: number, last: number, value: T | undefined): void {
    if (value === undefined) this.tree.storeRange(first, last, 0);
    else this.tree.storeRange(first, last, this.handleFor(value));
    this.sweep();
  }

  store(index: number, value: T | undefined): void {
    this.storeRange(index, index, value);
  }

  /** 0, or EEXIST (-17) if any index in [first, last] is occupied. */
  insertRange(first: number, last: number, value: T): number {
    if (this.tree.walk(first) !== 0 || this.tree.rangeLast < last) return EEXIST;
    this.storeRange(first, last, value);
    return 0;
  }

  load(index: number): T | undefined {
    return this.values[this.tree.load(index)];
  }

  erase(index: number): T | undefined {
    const v = this.values[this.tree.erase(index)];
    this.sweep();
    return v;
  }

  find(index: number, max: number = MAPLE_MAX): MapleMapEntry<T> | undefined {
    const e = this.tree.find(index, max);
    return e && { first: e.first, last: e.last, value: this.values[e.value] as T };
  }

  findRev(index: number, min = 0): MapleMapEntry<T> | undefined {
    const e = this.tree.findRev(index, min);
    return e && { first: e.first, last: e.last, value: this.values[e.value] as T };
  }

  *entries(from = 0, to: number = MAPLE_MAX): IterableIterator<MapleMapEntry<T>> {
    for (const e of this.tree.entries(from, to)) yield { first: e.first, last: e.last, value: this.values[e.value] as T };
  }

  *entriesReversed(from: number = MAPLE_MAX, to = 0): IterableIterator<MapleMapEntry<T>> {
    for (const e of this.tree.entriesReversed(from, to)) yield { first: e.first, last: e.last, value: this.values[e.value] as T };
  }

  [Symbol.iterator](): IterableIterator<MapleMapEntry<T>> {
    return this.entries();
  }

  emptyArea(min: number, max: number, size: number): number {
    return this.tree.emptyArea(min, max, size);
  }

  emptyAreaRev(min: number, max: number, size: number): number {
    return this.tree.emptyAreaRev(min, max, size);
  }

  validate(): void {
    this.tree.validate();
    this.tree.forEach((f, l, h) => {
      if (this.values[h] === undefined) throw new Error(`MapleMap: [${f}, ${l}] holds freed handle ${h}`);
    });
  }
}
