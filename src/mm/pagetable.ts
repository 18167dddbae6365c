import { sharedBuffer } from '../shm/buffers.js';
import { LockAssertionError } from './lockdep.js';
import { Arena, type ArenaHandle } from '../shm/arena.js';
import { defineLayout } from '../shm/layout.js';
import { spinLock, spinUnlock } from '../sync/spinlock.js';
import { GFP_KERNEL, GFP_NOWAIT } from './frames.js';
import { ReclaimWait } from './reclaim.js';

/**
 * x86-64 four-level page tables (PGD → PUD → PMD → PTE, 512 entries each) in shared memory.
 *
 * A PTE is one Int32 changed only with Atomics: a frame number and the present/write/dirty/accessed bits.
 * Upper-level entries hold the index of the next table, 0 when absent. Each table page carries its own
 * spinlock — the split PTE lock (ptlock) that serialises changes to the PTEs in it; installing a missing
 * table takes the mm-wide page_table_lock. Walkers may run without any lock (under RCU): tables are
 * therefore unlinked first and freed only after a grace period, through the `retire` callback the caller
 * gives (the kernel's RCU table freeing, tlb_remove_table).
 */
export const PTRS_PER_TABLE = 512;
export const PMD_SIZE = 2 ** 21;

/**
 * pmd_addr_end(): where the run of [addr, end) that one PTE table maps ends — the next 2 MiB boundary, or
 * end. The walkers of a range (zap, mprotect, mremap) take one table's PTEs at a time, under its ptl.
 */
export function pmdAddrEnd(addr: number, end: number): number {
  const boundary = (Math.floor(addr / PMD_SIZE) + 1) * PMD_SIZE;
  return boundary < end ? boundary : end;
}
export const PUD_SIZE = 2 ** 30;
export const PGDIR_SIZE = 2 ** 39;
/** x86-64 user space ends here (TASK_SIZE_MAX: 2^47 minus one page). */
export const TASK_SIZE = 2 ** 47 - 4096;

export const _PAGE_PRESENT = 1 << 0;
export const _PAGE_RW = 1 << 1;
export const _PAGE_DIRTY = 1 << 2;
export const _PAGE_ACCESSED = 1 << 3;
/** Not present for the MMU, but the page is still mapped: mprotect(PROT_NONE) (the kernel's _PAGE_PROTNONE). */
export const _PAGE_PROTNONE = 1 << 4;
const PFN_SHIFT = 5;

export function mkPte(pfn: number, bits: number): number {
  return (pfn << PFN_SHIFT) | bits | _PAGE_PRESENT;
}

export function ptePfn(pte: number): number {
  return pte >>> PFN_SHIFT;
}

export function ptePresent(pte: number): boolean {
  return (pte & _PAGE_PRESENT) !== 0;
}

/** A PTE that maps a page, accessible or not (pte_present() in the kernel's sense, PROT_NONE included). */
export function pteMapped(pte: number): boolean {
  return (pte & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0;
}

export function pteWrite(pte: number): boolean {
  return (pte & _PAGE_RW) !== 0;
}

/** A table page: 512 entries, its split lock, and its level (for validation). */
const TABLE = defineLayout({ i32: ['entry[512]', 'ptl', 'level'] });
const LEVEL_PGD = 4;
const LEVEL_PTE = 1;

export interface PageTablesHandle {
  readonly kind: 'mmsplit.pagetables';
  readonly tables: ArenaHandle;
  readonly control: SharedArrayBuffer;
}

const PGD = 0; // control: the root table
const PAGE_TABLE_LOCK = 1; // control: mm->page_table_lock
const FREED = 2; // control: bumped by frees while an allocator waits for a table page
const WAITERS = 3;

export class PageTables {
  readonly arena: Arena;
  /** All table entries and locks: PTE slots returned by the walkers index this array. */
  readonly i32: Int32Array;
  private readonly control: Int32Array;
  private readonly waiting: ReclaimWait;
  /**
   * This thread's direct reclaim, as the frames' (FrameTable.reclaim): frees the unlinked tables whose grace
   * period has ended and returns how many still wait for one.
   */
  reclaim: (() => number) | undefined;

  static create(opts: { tables: number; debug?: boolean; populate?: boolean }): PageTables {
    const tables = Arena.create({ name: 'page table', capacity: opts.tables, layout: TABLE, debug: opts.debug ?? false, populate: opts.populate ?? false });
    const control = sharedBuffer(16);
    const pt = new PageTables({ kind: 'mmsplit.pagetables', tables: tables.handle(), control });
    const pgd = pt.newTable(LEVEL_PGD, GFP_NOWAIT);
    if (pgd < 0) throw new Error('page tables: no room for the PGD');
    Atomics.store(pt.control, PGD, pgd);
    pt.pgd = pgd;
    return pt;
  }

  static attach(h: PageTablesHandle): PageTables {
    if (h?.kind !== 'mmsplit.pagetables') throw new TypeError('not a page tables handle');
    return new PageTables(h);
  }

  /** The root table: allocated at creation and never freed. */
  private pgd = 0;

  private constructor(private readonly h: PageTablesHandle) {
    this.arena = Arena.attach(h.tables);
    this.i32 = this.arena.i32;
    this.control = new Int32Array(h.control);
    this.waiting = new ReclaimWait(this.control, FREED, WAITERS);
    this.pgd = Atomics.load(this.control, PGD);
  }

  handle(): PageTablesHandle {
    return this.h;
  }

  /**
   * A zeroed table page, or -1. Tables that munmap unlinked wait for a grace period before they come back
   * (a walker without a lock may still be reading them), so a GFP_KERNEL caller short of them reclaims and
   * waits as a frame allocation does: beside busy processes a preempted reader held a grace period up while
   * the churn worker unlinked a table per munmap, the pool ran dry and the fault failed with OOM.
   */
  private newTable(level: number, gfp: number): number {
    let t = this.arena.zalloc();
    if (t < 0 && gfp === GFP_KERNEL) t = this.waiting.allocSlow(() => this.arena.zalloc(), () => this.reclaim?.() ?? 0, () => false, 'pte_alloc');
    if (t > 0) this.i32[TABLE.i32Base(t) + TABLE.i32.level] = level;
    return t;
  }

  // The four table indices of the address being walked, set by split(): one division per walk.
  private idx4 = 0;
  private idx3 = 0;
  private idx2 = 0;
  private idx1 = 0;

  private split(addr: number): void {
    const vpn = Math.floor(addr / 4096);
    const lo = vpn % 2 ** 18; // PMD and PTE index bits
    const hi = (vpn - lo) / 2 ** 18; // PGD and PUD index bits
    this.idx4 = (hi >>> 9) & 511;
    this.idx3 = hi & 511;
    this.idx2 = lo >>> 9;
    this.idx1 = lo & 511;
  }

  private index(level: number): number {
    return level === 4 ? this.idx4 : level === 3 ? this.idx3 : level === 2 ? this.idx2 : this.idx1;
  }

  /**
   * pte_offset_map(): the slot of `addr`'s PTE, or -1 if a table on the way is missing. Lockless: the
   * caller holds the mmap_lock, or is in an RCU read section (then tables it sees stay allocated).
   */
  pteSlot(addr: number): number {
    const i32 = this.i32;
    this.split(addr);
    let t = Atomics.load(i32, TABLE.i32Base(this.pgd) + this.idx4);
    if (t === 0) return -1;
    t = Atomics.load(i32, TABLE.i32Base(t) + this.idx3);
    if (t === 0) return -1;
    t = Atomics.load(i32, TABLE.i32Base(t) + this.idx2);
    if (t === 0) return -1;
    return TABLE.i32Base(t) + this.idx1;
  }

  /** The PTE table that holds `addr`'s PTE (what a speculative walker re-checks), or 0. */
  pteTable(addr: number): number {
    const slot = this.pteSlot(addr);
    return slot < 0 ? 0 : this.tableOf(slot);
  }

  /**
   * pte_alloc(): like pteSlot(), allocating missing tables; -1 if out of table pages (at once with
   * GFP_NOWAIT, after reclaiming and waiting with GFP_KERNEL). A table allocated by a racing thread first
   * wins; ours is given back (__pte_alloc's pmd_populate under the lock).
   */
  pteAlloc(addr: number, gfp = GFP_KERNEL): number {
    const slot = this.pteSlot(addr);
    if (slot >= 0) return slot;
    const i32 = this.i32;
    let t = this.pgd;
    for (let level = 4; level > 1; level--) {
      const at = TABLE.i32Base(t) + this.index(level);
      let next = Atomics.load(i32, at);
      if (next === 0) {
        const fresh = this.newTable(level - 1, gfp);
        if (fresh < 0) return -1;
        spinLock(this.control, PAGE_TABLE_LOCK);
        next = Atomics.load(i32, at);
        if (next === 0) {
          Atomics.store(i32, at, fresh); // publish the zeroed table
          next = fresh;
        }
        spinUnlock(this.control, PAGE_TABLE_LOCK);
        if (next !== fresh) this.freeTable(fresh);
      }
      t = next;
    }
    return TABLE.i32Base(t) + this.idx1;
  }

  /** The split PTE lock of the table holding PTE slot `slot` (pte_lockptr). */
  ptlOf(slot: number): number {
    return slot - (slot % TABLE.i32Stride) + TABLE.i32.ptl;
  }

  /** The table a PTE slot lies in. */
  tableOf(slot: number): number {
    return Math.floor(slot / TABLE.i32Stride);
  }

  ptLock(slot: number): void {
    spinLock(this.i32, this.ptlOf(slot));
  }

  ptUnlock(slot: number): void {
    spinUnlock(this.i32, this.ptlOf(slot));
  }

  /**
   * Lockdep-lite's "PTE lock held" (debug mode): a PTE is changed only under its table's ptl. A plain read,
   * not an Atomics operation, so that the assertion is no yield point of the checker.
   */
  assertPtlHeld(slot: number, when: string): void {
    if (this.arena.debug && this.i32[this.ptlOf(slot)] === 0) throw new LockAssertionError(`PTE lock not held ${when} (a PTE may change only under its table's ptl)`);
  }

  /**
   * free_pgtables(): unlinks the tables that map only [start, end) within the free span [floor, ceiling)
   * — the neighbouring VMAs end at floor and start at ceiling — and hands each to `retire` (which frees it
   * after a grace period). Their PTEs must already be zapped. Caller holds the mmap_lock for write.
   */
  freePgtables(start: number, end: number, floor: number, ceiling: number, retire: (table: number) => void): number {
    const pgd = Atomics.load(this.control, PGD);
    return this.freeLevel(pgd, 4, 0, start, end, floor, ceiling, retire);
  }

  private freeLevel(t: number, level: number, base: number, start: number, end: number, floor: number, ceiling: number, retire: (table: number) => void): number {
    const span = level === 4 ? PGDIR_SIZE : level === 3 ? PUD_SIZE : PMD_SIZE; // what one entry maps
    let freed = 0;
    const first = Math.max(0, Math.floor((start - base) / span));
    const last = Math.min(511, Math.floor((end - 1 - base) / span));
    for (let i = first; i <= last; i++) {
      const at = TABLE.i32Base(t) + i;
      const child = Atomics.load(this.i32, at);
      if (child === 0) continue;
      const lo = base + i * span;
      const hi = lo + span;
      if (level > 2) freed += this.freeLevel(child, level - 1, lo, start, end, floor, ceiling, retire);
      // The child table maps [lo, hi): free it only if nothing outside the free span can use it.
      if (lo < floor || hi > ceiling) continue;
      if (!this.isEmpty(child)) {
        if (level === 2) throw new Error(`free_pgtables: PTE table ${child} at 0x${lo.toString(16)} still maps pages`);
        continue;
      }
      spinLock(this.control, PAGE_TABLE_LOCK);
      Atomics.store(this.i32, at, 0); // unlink: new walkers no longer find it
      spinUnlock(this.control, PAGE_TABLE_LOCK);
      retire(child);
      freed++;
    }
    return freed;
  }

  private isEmpty(t: number): boolean {
    const b = TABLE.i32Base(t);
    for (let i = 0; i < PTRS_PER_TABLE; i++) if (Atomics.load(this.i32, b + i) !== 0) return false;
    return true;
  }

  /** Frees a table page that retire() was given, once no walker can see it. */
  freeTable(t: number): void {
    this.arena.free(t);
    this.waiting.freed();
  }

  /** Table pages in use, the PGD included. */
  tablesInUse(): number {
    return this.arena.inUse();
  }

  /*
   * The walks below are for observers — validate(), the checker's invariants, explore's recorder — which
   * look while every thread of the address space is stopped (done, or waiting at a yield point): they read
   * the tables with plain loads, like Arena.peekGeneration(), so that looking is no yield point and costs
   * no Atomics call (on the checker's controller they were a tenth of its time, 2,000 entries a walk).
   */

  /** Calls `fn(addr, pte)` for every non-empty PTE, walking only the tables that exist. For observers (above). */
  forEachPte(fn: (addr: number, pte: number) => void): void {
    this.forEachPteTable((base, t) => {
      for (let i = 0; i < PTRS_PER_TABLE; i++) {
        const e = this.i32[TABLE.i32Base(t) + i]!;
        if (e !== 0) fn(base + i * 4096, e);
      }
    });
  }

  /**
   * Calls `fn(base, table, ptl)` for every PTE-level table linked into the tree: the address it starts
   * mapping at, its record, and the index of its split PTE lock word. For observers.
   */
  forEachPteTable(fn: (base: number, table: number, ptl: number) => void): void {
    const walk = (t: number, level: number, base: number) => {
      if (level === LEVEL_PTE) return fn(base, t, TABLE.i32Base(t) + TABLE.i32.ptl);
      const span = level === 4 ? PGDIR_SIZE : level === 3 ? PUD_SIZE : PMD_SIZE;
      for (let i = 0; i < PTRS_PER_TABLE; i++) {
        const e = this.i32[TABLE.i32Base(t) + i]!;
        if (e !== 0 && (level !== 4 || i < 256)) walk(e, level - 1, base + i * span); // user half only
      }
    };
    walk(this.pgd, LEVEL_PGD, 0);
  }

  /** Walks every reachable table: levels must match and every entry must point at a live table. For observers. */
  validate(): { tables: number; ptes: number } {
    let tables = 0;
    let ptes = 0;
    const walk = (t: number, level: number) => {
      tables++;
      if (!this.arena.isLive(t)) throw new Error(`page tables: table ${t} (level ${level}) is not allocated`);
      if (this.i32[TABLE.i32Base(t) + TABLE.i32.level] !== level) throw new Error(`page tables: table ${t} is not level ${level}`);
      if (this.i32[TABLE.i32Base(t) + TABLE.i32.ptl] !== 0) throw new Error(`page tables: table ${t} ptlock held at quiescence`);
      for (let i = 0; i < PTRS_PER_TABLE; i++) {
        const e = this.i32[TABLE.i32Base(t) + i]!;
        if (e === 0) continue;
        if (level === LEVEL_PTE) {
          // Empty, or mapping a page: anything else (bits left on a cleared PTE) every fault would trip on.
          if (!pteMapped(e)) throw new Error(`page tables: PTE ${i} of table ${t} holds 0x${e.toString(16)}, which maps nothing`);
          ptes++;
        } else walk(e, level - 1);
      }
    };
    walk(this.control[PGD]!, LEVEL_PGD);
    return { tables, ptes };
  }
}
