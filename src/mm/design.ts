import type { Rcu } from '../sync/rcu.js';
import type { Srcu } from '../sync/srcu.js';
import type { MmPages } from './memory.js';
import type { MmStruct } from './mm.js';
import type { VmaIndexKind } from './vma-index.js';
import type { DesignWords } from './vma.js';

/**
 * The seam between the mm and a locking design: what every call that changes the address space does for
 * the faults that may run beside it. The mm calls these with the mmap_lock held for write (see
 * docs/writing-a-design.md for which call makes which hook call, and when).
 */
export interface MmHooks {
  /** Called before a VMA that readers may see is changed in place, split, merged or detached (vma_start_write). */
  vmaStartWrite(mm: MmStruct, vma: number): void;
  /**
   * Called for a new VMA just before it enters the tree (vma_iter_store_new → vma_mark_attached): by
   * vma_link (mmap, brk, mremap's new VMA) and __split_vma. For designs whose VMAs carry their own
   * attached state (6.15's vm_refcnt: 1 = attached); the others leave it out.
   */
  vmaMarkAttached?(mm: MmStruct, vma: number): void;
  /**
   * madvise's try_vma_read_lock(): madvise(MADV_DONTNEED, MADV_FREE) on a range inside one VMA runs under
   * that VMA's read lock, not the mmap_lock (6.17). The VMA containing addr, read-locked
   * (lock_vma_under_rcu), or 0: then madvise takes the mmap_lock. vmaReadUnlock() is its vma_end_read().
   * Designs that did not do this (every one before 6.17) leave both out.
   */
  tryVmaReadLock?(addr: number): number;
  vmaReadUnlock?(vma: number): void;
  /**
   * lock_next_vma() (6.17): the first VMA ending above `from`, read-locked, or 0 past the last — what a
   * /proc/PID/maps read (readMapsVmas) takes one VMA at a time instead of the mmap_lock. Released with
   * vmaReadUnlock(). It must never report a gap that was not there: a VMA found before the address space
   * changed may no longer be the next one. Designs without it are read under mmap_read_lock.
   */
  lockNextVma?(from: number): number;
  /** Called once a VMA is detached from the tree; must eventually free the record (mm.vmaFree). */
  retireVma(mm: MmStruct, vma: number): void;
  /** Called by mmap_write_unlock() and mmap_write_downgrade() before they release: every VMA changed meanwhile is done. */
  vmaEndWriteAll(mm: MmStruct): void;
  /**
   * vma_assert_write_locked(): whether no fault can be using `vma` now — true once vmaStartWrite() ran for it
   * in this write section (per-VMA locks: vm_lock_seq == mm_lock_seq). Designs whose faults never use a VMA
   * without the mmap_lock, or that validate instead of excluding, leave it out. In debug mode the mm asserts
   * it after every vmaStartWrite() and before it detaches a VMA.
   */
  vmaIsWriteLocked?(mm: MmStruct, vma: number): boolean;
  /**
   * vma_assert_locked(): whether this thread's fault holds `vma` locked (for designs whose faults lock a VMA
   * instead of the mmap_lock). In debug mode the fault core asserts, for every fault that is not speculative,
   * that the mmap_lock is held or this says the VMA is locked (assert_fault_locked).
   */
  vmaIsLocked?(mm: MmStruct, vma: number): boolean;
}

/**
 * A locking design: how a page fault finds and pins its VMA while the address space may change, and what
 * the writers of the address space do for it — mark a VMA they are about to change (vmaStartWrite) and
 * retire one they removed (retireVma: free it now, or once no fault can still hold it). The mm calls the
 * hooks; the user-access path calls fault(). Everything else — the fault core, the calls' VMA and page
 * work — is shared, so designs differ only where the thread's proposals differ.
 *
 * One object per thread: designs keep thread-local state (RCU readers, scratch VMA snapshots).
 */
export interface LockingDesign extends MmHooks {
  readonly name: string;
  /** do_user_addr_fault(): 0 when the access may be tried again, else VM_FAULT_* bits (a signal). */
  fault(addr: number, flags: number): number;
  /**
   * A VMA lookup that is not a fault — find_active_uprobe_rcu()'s question on every uprobe hit: which file,
   * at which page offset, is mapped at `addr`? Fills `out` and returns true, or false if nothing is mapped
   * there. A design that leaves it out looks up under mmap_read_lock (lookupVmaUnderMmapLock), as Linux
   * did before 6.14's mmap_lock speculation.
   */
  lookupVma?(addr: number, out: VmaLookup): boolean;
  /** How its faults went, as /proc/vmstat's vma_lock_* counters show it. */
  readonly stats: DesignStats;
}

/** What a VMA lookup found (LockingDesign.lookupVma): the struct file mapped at an address (0: anonymous) and the page's offset in it. */
export class VmaLookup {
  file = 0;
  /** vm_pgoff + the pages from vm_start to the address. */
  pgoff = 0;
}

/**
 * How a design's faults went, as /proc/vmstat's vma_lock_* events show it (docs/results-format.md):
 * every fault ends either on the fast path or on the slower path, so fastPath + fallback = faults.
 */
export class DesignStats<Extra extends Record<string, number> = Record<string, number>> {
  /** vma_lock_success: faults completed without the mmap_lock. */
  fastPath = 0;
  /** vma_lock_retry: fast-path attempts given up part-way (VM_FAULT_RETRY, a failed validation). */
  retry = 0;
  /** vma_lock_abort + vma_lock_miss: faults completed on the design's slower path. */
  fallback = 0;
  constructor(
    /** The design's own counters (abort, miss, gfpNowaitFail …), all present from the start. */
    readonly extra: Extra = {} as Extra,
  ) {}
}

/** What a design works on, on the thread it runs on (attached views of the shared address space). */
export interface DesignContext {
  readonly mm: MmStruct;
  readonly pages: MmPages;
  /** The RCU domain user accesses and lockless walkers read under; this thread is registered. */
  readonly rcu: Rcu;
  /** The mm's SRCU domain (vma_srcu), for the designs whose faults may sleep inside a read section. */
  readonly srcu: Srcu;
}

/** A deliberately broken variant of a design, for the checker: it must be caught. */
export interface MutantDefinition {
  /** One line: what is broken, in the kernel's words. */
  readonly summary: string;
  readonly make: (ctx: DesignContext) => LockingDesign;
}

/**
 * Everything about a design, in the file that implements it: what the lab, the checker, the report and
 * --help know of it. Export one (or an array) as the default export of a module to load it with
 * `--design ./file.js`; the built-in ones are listed in src/designs/registry.ts.
 */
export interface DesignDefinition {
  /** Its name on the command line and in results: lower case, digits, '-', '.', '_'. */
  readonly name: string;
  /** One line for tables and --help. */
  readonly summary: string;
  /** A sentence for the report's key: what its fault takes and what its munmap does. */
  readonly description: string;
  /** A baseline has no fast path: every fault takes the mmap_lock, so its vma_lock_* counters stay 0. */
  readonly baseline?: boolean;
  /** Its colour in every chart (#rrggbb). */
  readonly color: string;
  /** Where the mm keeps its VMAs: the maple tree (default) or the pre-6.1 rbtree. */
  readonly index?: VmaIndexKind;
  /** Its faults walk the VMA tree without the mmap_lock: the tree must be in RCU mode. */
  readonly lockless: boolean;
  /** Its own counters (stats.extra), each with what it counts as /proc/vmstat would name it. */
  readonly counters?: Readonly<Record<string, string>>;
  /** Int32 words it needs in every VMA, with the value a new VMA starts with (mm lays them out: vmas.wordOffset). */
  readonly vmaWords?: DesignWords;
  /**
   * VMAs come from a SLAB_TYPESAFE_BY_RCU cache (Linux 6.15's vm_area_cachep): retireVma may free a VMA at
   * once, and the record may be reused for another VMA while a lockless reader still holds its index — the
   * reader must pin it and check that it is still the VMA it looked for. Lists the vmaWords that keep their
   * value across free and reuse (the reference count a reader pins with; debug poison never covers them).
   */
  readonly typesafeByRcu?: readonly string[];
  /** Int32 words it needs once per mm, with their initial values (mm.wordIndex). */
  readonly mmWords?: DesignWords;
  /**
   * What must hold of a VMA in the tree when no thread runs (its lock words released, its reference
   * counts back to the tree's own): a sentence saying what is wrong, or undefined. The checker asks after
   * every schedule.
   */
  readonly quiescentVma?: (mm: MmStruct, vma: number) => string | undefined;
  /**
   * Paths of the fault core (MM_PATHS, in its words) that its faults cannot take by construction, each with
   * why: `mmsplit check --coverage` lists them with the reason, apart from the paths no run reached.
   */
  readonly unreachable?: Readonly<Record<string, string>>;
  /** Its deliberately broken variants by name, for `mmsplit check` (never run by the lab). */
  readonly mutants?: Readonly<Record<string, MutantDefinition>>;
  /** The design object of one thread. */
  readonly make: (ctx: DesignContext) => LockingDesign;
}

/** A module that does not implement DesignDefinition, or a design whose name is taken: one line, naming the file. */
export class DesignDefinitionError extends Error {
  override readonly name = 'DesignDefinitionError';
}
