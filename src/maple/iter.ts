import { MAPLE_MAX, MH, MN } from './layout.js';
import { count10, slot16 } from './scan.js';

/** One entry of the tree: the value stored over [first, last]. */
export interface MapleEntry {
  first: number;
  last: number;
  value: number;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true as const });

/**
 * mas_find / mas_next over [from, to] as an iterator object (cheaper than a generator). It keeps its leaf
 * between calls and walks again from the root when it leaves the leaf, or when the writer has replaced the
 * leaf since the last call (the leaf is dead: parent === self). An entry met on such a fresh walk that
 * started before the resume point is reported from the resume point on, so every index is reported once.
 */
export class EntryIterator implements IterableIterator<MapleEntry> {
  private index: number;
  private node = 0;
  private i = 0;
  private end = -1; // < 0: no leaf held, walk at `index`
  private min = 0; // first index of slot i
  private resumed = false;
  private seq = 0; // the tree's write sequence when the leaf was read (non-RCU mode)

  constructor(
    private readonly f64: Float64Array,
    private readonly i32: Int32Array,
    private readonly hdr: Int32Array,
    private readonly allocRange: boolean,
    from: number,
    private readonly to: number,
  ) {
    this.index = from;
    if (!(from >= 0 && from <= to && to <= MAPLE_MAX)) this.index = Infinity;
  }

  [Symbol.iterator](): IterableIterator<MapleEntry> {
    return this;
  }

  next(): IteratorResult<MapleEntry, undefined> {
    const f64 = this.f64;
    const i32 = this.i32;
    for (;;) {
      if (this.end < 0) {
        if (!this.descend()) return DONE;
      } else if (i32[this.node * MN.I32 + MN.PARENT] === this.node || this.hdr[MH.SEQ] !== this.seq) {
        this.end = -1; // dead leaf (RCU mode) or changed in place by the caller: walk again from here
        continue;
      }
      const pb = this.node * MN.F64;
      const ib = this.node * MN.I32;
      while (this.i <= this.end) {
        const first = this.min;
        if (first > this.to) return this.finish();
        const last = f64[pb + this.i]!;
        const v = i32[ib + MN.SLOT + this.i]!;
        this.i++;
        this.min = last + 1;
        this.index = last + 1;
        if (v !== 0) return { value: { first, last, value: v }, done: false };
      }
      if (this.index > this.to) return this.finish();
      this.end = -1;
    }
  }

  private finish(): IteratorReturnResult<undefined> {
    this.index = Infinity;
    this.end = -1;
    return DONE;
  }

  private descend(): boolean {
    const index = this.index;
    if (index > this.to) return false;
    this.seq = this.hdr[MH.SEQ]!;
    const r = this.hdr[MH.ROOT]!;
    if (r === 0) return false;
    const f64 = this.f64;
    const i32 = this.i32;
    let node = r >>> 4;
    let h = r & 15;
    let min = 0;
    for (;;) {
      const pb = node * MN.F64;
      const i = h === 1 || !this.allocRange ? slot16(f64, pb, index) : count10(f64, pb, index);
      if (i > 0) min = f64[pb + i - 1]! + 1;
      if (--h === 0) {
        this.node = node;
        this.i = i;
        this.end = i32[node * MN.I32 + MN.END]!;
        this.min = this.resumed && min < index ? index : min;
        this.resumed = true;
        return true;
      }
      node = i32[node * MN.I32 + MN.SLOT + i]!;
    }
  }
}

/** The mirror image (mas_prev / mas_for_each_rev): entries overlapping [to, from], from `from` down. */
export class ReverseEntryIterator implements IterableIterator<MapleEntry> {
  private index: number;
  private node = 0;
  private i = -1; // < 0: no leaf held, walk at `index`
  private lmin = 0; // the leaf's min
  private resumed = false;
  private seq = 0; // the tree's write sequence when the leaf was read (non-RCU mode)
  private cap = Infinity; // after a fresh walk: report nothing above the resume point

  constructor(
    private readonly f64: Float64Array,
    private readonly i32: Int32Array,
    private readonly hdr: Int32Array,
    private readonly allocRange: boolean,
    from: number,
    private readonly to: number,
  ) {
    this.index = from;
    if (!(to >= 0 && to <= from && from <= MAPLE_MAX)) this.index = -Infinity;
  }

  [Symbol.iterator](): IterableIterator<MapleEntry> {
    return this;
  }

  next(): IteratorResult<MapleEntry, undefined> {
    const f64 = this.f64;
    const i32 = this.i32;
    for (;;) {
      if (this.i < 0) {
        if (!this.descend()) return DONE;
      } else if (i32[this.node * MN.I32 + MN.PARENT] === this.node || this.hdr[MH.SEQ] !== this.seq) {
        this.i = -1;
        continue;
      }
      const pb = this.node * MN.F64;
      const ib = this.node * MN.I32;
      while (this.i >= 0) {
        const i = this.i;
        let last = f64[pb + i]!;
        if (last < this.to) return this.finish();
        if (last > this.cap) last = this.cap; // only after a fresh walk over a changed range
        const first = i > 0 ? f64[pb + i - 1]! + 1 : this.lmin;
        const v = i32[ib + MN.SLOT + i]!;
        this.i--;
        this.index = first - 1;
        if (v !== 0) {
          if (first <= this.to || first === 0) this.index = -Infinity; // the last one
          return { value: { first, last, value: v }, done: false };
        }
        if (first <= this.to || first === 0) return this.finish();
      }
      if (this.index < this.to) return this.finish();
      this.i = -1;
    }
  }

  private finish(): IteratorReturnResult<undefined> {
    this.index = -Infinity;
    this.i = -1;
    return DONE;
  }

  private descend(): boolean {
    const index = this.index;
    if (index < this.to) return false;
    this.seq = this.hdr[MH.SEQ]!;
    const r = this.hdr[MH.ROOT]!;
    if (r === 0) return false;
    const f64 = this.f64;
    const i32 = this.i32;
    let node = r >>> 4;
    let h = r & 15;
    let min = 0; // min of `node`
    for (;;) {
      const pb = node * MN.F64;
      const i = h === 1 || !this.allocRange ? slot16(f64, pb, index) : count10(f64, pb, index);
      if (--h === 0) {
        this.node = node;
        this.i = i;
        this.lmin = min;
        this.cap = this.resumed ? index : Infinity;
        this.resumed = true;
        return true;
      }
      if (i > 0) min = f64[pb + i - 1]! + 1;
      node = i32[node * MN.I32 + MN.SLOT + i]!;
    }
  }
}
