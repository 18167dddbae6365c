/**
 * A list of int32 values (record numbers) that keeps its storage: clear() and removeAt() never give it
 * back, so a list filled and emptied on every operation of a hot path (the VMAs a write section opened,
 * the VMAs an munmap takes out) allocates only while it grows to its largest. A JavaScript array emptied
 * with `length = 0` frees its storage and allocates it again on the next push.
 */
export class IntList {
  private items = new Int32Array(16);
  length = 0;

  push(value: number): void {
    if (this.length === this.items.length) {
      const bigger = new Int32Array(this.items.length * 2);
      bigger.set(this.items);
      this.items = bigger;
    }
    this.items[this.length++] = value;
  }

  at(i: number): number {
    return this.items[i]!;
  }

  indexOf(value: number): number {
    for (let i = 0; i < this.length; i++) if (this.items[i] === value) return i;
    return -1;
  }

  /** Removes the i-th value, keeping the order of the others. */
  removeAt(i: number): void {
    this.items.copyWithin(i, i + 1, this.length);
    this.length--;
  }

  clear(): void {
    this.length = 0;
  }
}
