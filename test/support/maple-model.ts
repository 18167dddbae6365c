/**
 * The trivially correct model the maple tree is tested against: sorted parallel arrays of non-overlapping
 * ranges [first, last] → value, every operation a binary search plus a splice.
 */
export const MODEL_MAX = Number.MAX_SAFE_INTEGER;

export interface ModelEntry {
  first: number;
  last: number;
  value: number;
}

export class RangeModel {
  f: number[] = [];
  l: number[] = [];
  v: number[] = [];

  get size(): number {
    return this.f.length;
  }

  /** First entry whose last >= index. */
  private idx(index: number): number {
    let lo = 0;
    let hi = this.l.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.l[mid]! < index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private at(i: number): ModelEntry {
    return { first: this.f[i]!, last: this.l[i]!, value: this.v[i]! };
  }

  load(index: number): number {
    const i = this.idx(index);
    return i < this.f.length && this.f[i]! <= index ? this.v[i]! : 0;
  }

  store(first: number, last: number, value: number): void {
    const i = this.idx(first);
    let j = i;
    while (j < this.f.length && this.f[j]! <= last) j++;
    const nf: number[] = [];
    const nl: number[] = [];
    const nv: number[] = [];
    if (i < j && this.f[i]! < first) {
      nf.push(this.f[i]!);
      nl.push(first - 1);
      nv.push(this.v[i]!);
    }
    if (value !== 0) {
      nf.push(first);
      nl.push(last);
      nv.push(value);
    }
    if (i < j && this.l[j - 1]! > last) {
      nf.push(last + 1);
      nl.push(this.l[j - 1]!);
      nv.push(this.v[j - 1]!);
    }
    this.f.splice(i, j - i, ...nf);
    this.l.splice(i, j - i, ...nl);
    this.v.splice(i, j - i, ...nv);
  }

  /** Is any index of [first, last] occupied? */
  occupied(first: number, last: number): boolean {
    const i = this.idx(first);
    return i < this.f.length && this.f[i]! <= last;
  }

  erase(index: number): number {
    const i = this.idx(index);
    if (!(i < this.f.length && this.f[i]! <= index)) return 0;
    const v = this.v[i]!;
    this.f.splice(i, 1);
    this.l.splice(i, 1);
    this.v.splice(i, 1);
    return v;
  }

  find(index: number, max: number): ModelEntry | undefined {
    const i = this.idx(index);
    return i < this.f.length && this.f[i]! <= max ? this.at(i) : undefined;
  }

  findRev(index: number, min: number): ModelEntry | undefined {
    let i = this.idx(index);
    if (!(i < this.f.length && this.f[i]! <= index)) i--;
    return i >= 0 && this.l[i]! >= min ? this.at(i) : undefined;
  }

  entries(): ModelEntry[] {
    return this.f.map((_, i) => this.at(i));
  }

  /** Gaps in increasing order, each [a, b]. */
  private gapAt(k: number): [number, number] {
    // gap k lies before entry k (k = size: the gap after the last entry)
    const a = k === 0 ? 0 : this.l[k - 1]! + 1;
    const b = k === this.f.length ? MODEL_MAX : this.f[k]! - 1;
    return [a, b];
  }

  emptyArea(min: number, max: number, size: number): number {
    if (max - min + 1 < size) return -1;
    for (let k = this.idx(min); k <= this.f.length; k++) {
      const [a, b] = this.gapAt(k);
      if (a > b) continue;
      const s = Math.max(a, min);
      const e = Math.min(b, max);
      if (s > max) return -1;
      if (e - s + 1 >= size) return s;
    }
    return -1;
  }

  emptyAreaRev(min: number, max: number, size: number): number {
    if (max - min + 1 < size) return -1;
    for (let k = Math.min(this.idx(max), this.f.length); k >= 0; k--) {
      const [a, b] = this.gapAt(k);
      if (a > b) continue;
      const e = Math.min(b, max);
      if (e < min) return -1;
      const s = e - size + 1;
      if (s >= Math.max(a, min)) return s;
    }
    return -1;
  }
}
