import { UNREACHABLE_WHEN_LOCKED } from '../mm/paths.js';
import { DesignStats, type DesignContext, type DesignDefinition, type LockingDesign, type VmaLookup } from '../mm/design.js';
import { FAULT_FLAG_VMA_LOCK, FaultVma } from '../mm/fault.js';
import type { MmStruct } from '../mm/mm.js';
import { schedPoint } from '../sync/relax.js';
import { futexWait, futexWake } from '../sync/sleep.js';
import { faultUnderVmaLock, lookupVmaUnderMmapLock, readVmaLookup, type VmaReadLocking } from './common.js';

/**
 * Per-VMA locks as Linux has them since 6.15 (Suren Baghdasaryan, "reimplement per-vma lock as a
 * refcount"), in 7.0's words (Lorenzo Stoakes renamed VMA_LOCK_OFFSET to VM_REFCNT_EXCLUDE_READERS_FLAG,
 * __vma_enter/exit_locked to __vma_start/end_exclude_readers): the VMA lock is a reference count,
 * vm_refcnt, and VMAs come from a SLAB_TYPESAFE_BY_RCU cache, so a VMA freed by munmap may be reused at
 * once for another mapping while a fault that found it in the tree still holds its address.
 *
 *   vm_refcnt:  0 detached (or free) · 1 attached · 1 + n with n readers · + VM_REFCNT_EXCLUDE_READERS_FLAG
 *               while a writer excludes readers (VM_REFCNT_LIMIT = the flag - 1 caps the readers, so the
 *               flag makes every new reader fail)
 *
 *   lock_vma_under_rcu(mm, addr):
 *     rcu_read_lock()
 *   retry:
 *     vma = mas_walk(&mm->mm_mt, addr)            none → fail
 *     vma_start_read(mm, vma):
 *       vm_lock_seq == mm_lock_seq → NULL          (write-locked in the current section)
 *       __refcount_inc_not_zero_limited_acquire(&vm_refcnt, VM_REFCNT_LIMIT) fails →
 *         old count 0 → -EAGAIN                    (detached: the area was replaced; walk again)
 *         else → NULL                              (a writer excludes readers)
 *       vm_mm != mm → put; NULL                    (reused by another mm)
 *       vm_lock_seq == mm_lock_seq → put; NULL     (write-locked while we took it)
 *     addr outside [vm_start, vm_end) → vma_end_read; fail      ("is the vma we locked the right one?" —
 *                                                               it may have been freed and reused)
 *     rcu_read_unlock()
 *   vma_end_read = vma_refcount_put: refcount_dec; a writer left alone with the count
 *                  (__vma_are_readers_excluded) is woken
 *
 *   vma_start_write(vma): if vm_lock_seq != mm_lock_seq (odd: the mmap_lock is write-locked):
 *     __vma_start_exclude_readers: refcount_add_not_zero(FLAG), then sleep until vm_refcnt == FLAG + 1
 *                                  (the readers drained; rcuwait on mm->vma_writer_wait)
 *     vm_lock_seq = mm_lock_seq
 *     __vma_end_exclude_readers:   refcount_sub(FLAG)     (new readers see vm_lock_seq and fail)
 *   vma_mark_attached(vma):  write-locked; refcount_set_release(&vm_refcnt, 1)
 *   vma_mark_detached(vma):  refcount_dec_and_test, else wait for the readers that pinned it meanwhile
 *   munmap:  vma_start_write; detach; vm_area_free() straight back to the cache — no grace period
 *
 * A read-locked VMA cannot change, so the fault needs no validation, and its page tables stay. Its first
 * anonymous page needs an anon_vma, which looks at the neighbouring VMAs: vmf_anon_prepare() (6.10, Matthew
 * Wilcox) takes the mmap_lock for read if it can at once, and gives up (VM_FAULT_RETRY) only if not.
 *
 * madvise(MADV_DONTNEED, MADV_FREE) on a range inside one VMA runs under lock_vma_under_rcu() too (6.17,
 * Barry Song), not under the mmap_lock.
 *
 * Lookups that are not faults speculate on the mmap_lock (6.14, Andrii Nakryiko and Suren Baghdasaryan, for
 * uprobes): mm_lock_seq is a seqcount, odd while the mmap_lock is write-locked.
 *
 *   find_active_uprobe_speculative(addr):
 *     rcu_read_lock()
 *     mmap_lock_speculate_try_begin(mm, &seq) fails (odd) → the mmap_lock lookup
 *     vma = vma_lookup(mm, addr)                  none → the mmap_lock lookup
 *     file, offset = vma->vm_file, vm_pgoff + (addr - vm_start)   (no lock, no reference: maybe torn, maybe
 *                                                                  a freed and reused VMA's)
 *     mmap_lock_speculate_retry(mm, seq) → the mmap_lock lookup   (a writer came: what was read may be stale)
 *   the mmap_lock lookup: mmap_read_lock(); vma_lookup(); file, offset; mmap_read_unlock()
 *
 * Here every VMA cache belongs to one mm (an address space has its own arena), so a reused VMA is always
 * this mm's: the vm_mm check cannot fail and is left out; the range check catches a reuse. The writer
 * sleeps on the vm_refcnt word itself rather than on a per-mm rcuwait: a futex wakes it when the count may
 * have changed, and the cache never gives the word's memory back.
 */

/** Added to vm_refcnt while a writer excludes readers (6.15: VMA_LOCK_OFFSET). */
const VM_REFCNT_EXCLUDE_READERS_FLAG = 1 << 30;
/** At most this many references: a count with the flag in it is above it, so readers fail (6.15: VMA_REF_LIMIT). */
const VM_REFCNT_LIMIT = VM_REFCNT_EXCLUDE_READERS_FLAG - 1;

/** What vma_start_read() returns: the VMA locked, NULL (fall back), or -EAGAIN (it was detached: walk again). */
const LOCKED = 1;
const NULL = 0;
const EAGAIN = -1;

export class PerVmaLock70Design implements LockingDesign, VmaReadLocking {
  /** abort: lock_vma_under_rcu failed (vma_lock_abort); miss: found detached and walked again (vma_lock_miss); lookupLocked: lookups not done speculatively. */
  readonly stats = new DesignStats({ miss: 0, abort: 0, lookupLocked: 0 });
  private readonly v = new FaultVma();
  /** Where vm_refcnt and vm_lock_seq live in a VMA record. */
  protected readonly vmRefcnt: number;
  protected readonly vmLockSeq: number;

  constructor(
    private readonly ctx: DesignContext,
    readonly name = 'per-vma-lock-7.0',
  ) {
    this.vmRefcnt = ctx.mm.vmas.wordOffset('vmRefcnt');
    this.vmLockSeq = ctx.mm.vmas.wordOffset('vmLockSeq');
  }

  fault(addr: number, flags: number): number {
    return faultUnderVmaLock(this.ctx, this, this.stats, this.v, addr, flags, flags | FAULT_FLAG_VMA_LOCK);
  }

  /**
   * find_active_uprobe_speculative(), then find_active_uprobe_rcu()'s mmap_lock lookup if speculation fails:
   * what was read without a lock counts only if no writer took the mmap_lock meanwhile — a VMA changed in
   * place, or freed and reused (SLAB_TYPESAFE_BY_RCU), is caught by the retry, not by looking at it.
   */
  lookupVma(addr: number, out: VmaLookup): boolean {
    const { mm, rcu } = this.ctx;
    rcu.readLock();
    const seq = mm.mmapLockSpeculateTryBegin();
    if (seq !== -1) {
      const vma = mm.tree.load(addr); // vma_lookup()
      if (vma !== 0) {
        schedPoint('find_active_uprobe_speculative: found the VMA');
        readVmaLookup(mm.vmas, vma, addr, out);
        if (!this.speculationFailed(mm, seq)) {
          rcu.readUnlock();
          return true;
        }
      }
    }
    rcu.readUnlock();
    this.stats.extra.lookupLocked++;
    return lookupVmaUnderMmapLock(mm, addr, out);
  }

  /** mmap_lock_speculate_retry(). */
  protected speculationFailed(mm: MmStruct, seq: number): boolean {
    return mm.mmapLockSpeculateRetry(seq);
  }

  /**
   * lock_next_vma() (6.17): the next VMA for a /proc/PID/maps read, read-locked without the mmap_lock. A VMA
   * that starts above `from` may hide a false gap — found before a writer moved its start up (a split, or
   * a neighbour that took its first pages) — so if the address space may have changed since the walk
   * (mmap_lock_speculate_retry), it must still be the next one. Anything it cannot lock is locked under
   * mmap_read_lock, which it then drops (lock_next_vma_under_mmap_lock): the reader always moves on.
   */
  lockNextVma(from: number): number {
    const { mm, rcu } = this.ctx;
    const t = mm.vmas;
    rcu.readLock();
    for (;;) {
      const seq = mm.mmapLockSpeculateTryBegin();
      const vma = mm.tree.findValue(from); // vma_next()
      if (vma === 0) {
        rcu.readUnlock();
        return 0;
      }
      const r = this.vmaStartRead(mm, vma);
      if (r === EAGAIN) {
        schedPoint('lock_next_vma: found detached, walk again');
        continue;
      }
      if (r === LOCKED) {
        schedPoint('lock_next_vma: locked the VMA');
        if (from < t.end(vma) && (from >= t.start(vma) || !this.mayHideFalseGap(mm, seq, from, vma))) {
          rcu.readUnlock();
          return vma;
        }
        this.vmaEndRead(vma);
      }
      break;
    }
    rcu.readUnlock();
    return this.lockNextVmaUnderMmapLock(from);
  }

  /** The address space may have changed since `seq`, and `vma` is no longer the next VMA after `from`. */
  protected mayHideFalseGap(mm: MmStruct, seq: number, from: number, vma: number): boolean {
    if (seq !== -1 && !mm.mmapLockSpeculateRetry(seq)) return false;
    return mm.tree.findValue(from) !== vma;
  }

  /** lock_next_vma_under_mmap_lock(): vma_start_read_locked() — no writer can exclude readers now. */
  private lockNextVmaUnderMmapLock(from: number): number {
    const mm = this.ctx.mm;
    mm.mmapReadLock();
    const vma = mm.tree.findValue(from);
    if (vma !== 0) Atomics.add(mm.vmas.i32, mm.vmas.word(vma, this.vmRefcnt), 1);
    mm.mmapReadUnlock();
    return vma;
  }

  /** madvise's try_vma_read_lock() (6.17): lock_vma_under_rcu(). */
  tryVmaReadLock(addr: number): number {
    return this.lockVmaUnderRcu(addr);
  }

  vmaReadUnlock(vma: number): void {
    this.vmaEndRead(vma);
  }

  /** The VMA containing addr, read-locked; 0 if none could be locked. */
  lockVmaUnderRcu(addr: number): number {
    const { mm, rcu } = this.ctx;
    rcu.readLock();
    for (;;) {
      const vma = mm.tree.load(addr); // mas_walk()
      if (vma === 0) break;
      const r = this.vmaStartRead(mm, vma);
      if (r === EAGAIN) {
        this.stats.extra.miss++;
        schedPoint('lock_vma_under_rcu: found detached, walk again');
        continue;
      }
      if (r === NULL) break;
      if (!this.isTheVmaWeLookedFor(vma, addr)) {
        this.vmaEndRead(vma);
        break;
      }
      rcu.readUnlock();
      return vma;
    }
    rcu.readUnlock();
    return 0;
  }

  /**
   * Pinned now, the VMA cannot change — but between the walk and the pin it may have been detached, freed
   * and reused for another range (SLAB_TYPESAFE_BY_RCU): "Check if the vma we locked is the right one."
   */
  protected isTheVmaWeLookedFor(vma: number, addr: number): boolean {
    const t = this.ctx.mm.vmas;
    return addr >= t.start(vma) && addr < t.end(vma);
  }

  private vmaStartRead(mm: MmStruct, vma: number): number {
    const t = mm.vmas;
    const seqWord = t.word(vma, this.vmLockSeq);
    // The early check is only a shortcut; the one after the pin is the one that counts.
    if (Atomics.load(t.i32, seqWord) === mm.mmLockSeq) return NULL;
    // __refcount_inc_not_zero_limited_acquire(&vma->vm_refcnt, &oldcnt, VM_REFCNT_LIMIT)
    const w = t.word(vma, this.vmRefcnt);
    let old = Atomics.load(t.i32, w);
    for (;;) {
      if (old === 0) return EAGAIN;
      if (old >= VM_REFCNT_LIMIT) return NULL;
      const seen = Atomics.compareExchange(t.i32, w, old, old + 1);
      if (seen === old) break;
      old = seen;
    }
    if (Atomics.load(t.i32, seqWord) === mm.mmLockSeq) {
      this.vmaRefcountPut(vma);
      return NULL;
    }
    return LOCKED;
  }

  vmaEndRead(vma: number): void {
    this.vmaRefcountPut(vma);
  }

  /** vma_refcount_put(): the last reader out wakes a writer waiting alone with the count. */
  private vmaRefcountPut(vma: number): void {
    const t = this.ctx.mm.vmas;
    const w = t.word(vma, this.vmRefcnt);
    const left = Atomics.sub(t.i32, w, 1) - 1;
    if (left !== 0 && vmaAreReadersExcluded(left)) futexWake(t.i32, w);
  }

  /** Called with the mmap_lock held for write, so mm_lock_seq cannot move under it. */
  vmaStartWrite(mm: MmStruct, vma: number): void {
    const t = mm.vmas;
    const seq = mm.mmLockSeq;
    if (Atomics.load(t.i32, t.word(vma, this.vmLockSeq)) === seq) return; // __is_vma_write_locked
    // A detached VMA (a new one not yet attached) has no readers to exclude.
    const exclusive = this.vmaStartExcludeReaders(mm, vma, false);
    Atomics.store(t.i32, t.word(vma, this.vmLockSeq), seq);
    if (exclusive && this.vmaEndExcludeReaders(mm, vma)) throw new Error(`vma_start_write: VMA ${vma} became detached while write-locked`);
  }

  /**
   * __vma_start_exclude_readers(): adds the flag unless the count is 0 (detached: false), which makes every
   * new reader fail, then sleeps until only the writer is left with the count (and the tree's reference
   * unless `detaching`).
   */
  protected vmaStartExcludeReaders(mm: MmStruct, vma: number, detaching: boolean): boolean {
    const t = mm.vmas;
    const w = t.word(vma, this.vmRefcnt);
    let c = Atomics.load(t.i32, w);
    for (;;) {
      if (c === 0) return false;
      const seen = Atomics.compareExchange(t.i32, w, c, c + VM_REFCNT_EXCLUDE_READERS_FLAG);
      if (seen === c) break;
      c = seen;
    }
    this.waitForReaders(mm, vma, VM_REFCNT_EXCLUDE_READERS_FLAG + (detaching ? 0 : 1));
    return true;
  }

  /** rcuwait_wait_event(&mm->vma_writer_wait, refcount_read(&vma->vm_refcnt) == target). */
  protected waitForReaders(mm: MmStruct, vma: number, target: number): void {
    const t = mm.vmas;
    const w = t.word(vma, this.vmRefcnt);
    for (;;) {
      const c = Atomics.load(t.i32, w);
      if (c === target) return;
      schedPoint('vma_start_write: waiting for readers to drain');
      futexWait(t.i32, w, c, 'vma_start_write');
    }
  }

  /** __vma_end_exclude_readers(): takes the flag back; true if that left the count at 0 (detached). */
  private vmaEndExcludeReaders(mm: MmStruct, vma: number): boolean {
    const t = mm.vmas;
    return Atomics.sub(t.i32, t.word(vma, this.vmRefcnt), VM_REFCNT_EXCLUDE_READERS_FLAG) - VM_REFCNT_EXCLUDE_READERS_FLAG === 0;
  }

  /** vma_mark_attached(): a new VMA, write-locked, gets the tree's reference. */
  vmaMarkAttached(mm: MmStruct, vma: number): void {
    this.vmaStartWrite(mm, vma);
    Atomics.store(mm.vmas.i32, mm.vmas.word(vma, this.vmRefcnt), 1); // refcount_set_release
  }

  /** mmap_write_unlock() bumps mm_lock_seq itself (vma_end_write_all). */
  vmaEndWriteAll(): void {}

  /**
   * vma_mark_detached(), then vm_area_free(): the tree's reference goes, readers that pinned the VMA
   * since the walk are waited out (they will see it write-locked and let go), and the record goes straight
   * back to the cache — a fault that still holds its address finds the count 0, or the record reused.
   */
  retireVma(mm: MmStruct, vma: number): void {
    const t = mm.vmas;
    if (Atomics.sub(t.i32, t.word(vma, this.vmRefcnt), 1) - 1 !== 0) {
      if (this.vmaStartExcludeReaders(mm, vma, true) && !this.vmaEndExcludeReaders(mm, vma)) throw new Error(`vma_mark_detached: VMA ${vma} still referenced after its readers drained`);
    }
    mm.vmaFree(vma);
  }

  // Lockdep-lite's questions read plainly, not with Atomics: an assertion must not be a yield point of the
  // checker's scheduler (it would change the interleavings it explores).

  /** vma_assert_write_locked(): __is_vma_write_locked — vm_lock_seq is the current mm_lock_seq. */
  vmaIsWriteLocked(mm: MmStruct, vma: number): boolean {
    return mm.vmas.i32[mm.vmas.word(vma, this.vmLockSeq)] === mm.words[mm.mmLockSeqWord];
  }

  /** vma_assert_locked(): a reference besides the tree's (a reader), or write-locked. */
  vmaIsLocked(mm: MmStruct, vma: number): boolean {
    return (mm.vmas.i32[mm.vmas.word(vma, this.vmRefcnt)]! & VM_REFCNT_LIMIT) > 1 || this.vmaIsWriteLocked(mm, vma);
  }
}

/**
 * __vma_are_readers_excluded() (6.15: is_vma_writer_only): a writer holds the flag and no reader is left —
 * the count is the flag (detaching) or the flag plus the tree's reference.
 */
function vmaAreReadersExcluded(refcnt: number): boolean {
  return (refcnt & VM_REFCNT_EXCLUDE_READERS_FLAG) !== 0 && refcnt <= VM_REFCNT_EXCLUDE_READERS_FLAG + 1;
}

/** Mutant: lock_vma_under_rcu() trusts the VMA it pinned, without checking that it still covers the address — a freed and reused VMA goes unnoticed. */
class PerVmaLock70NoReuseCheck extends PerVmaLock70Design {
  protected override isTheVmaWeLookedFor(): boolean {
    return true;
  }
}

/** Mutant: the speculative VMA lookup keeps what it read without mmap_lock_speculate_retry(). */
class PerVmaLock70NoSpecRetry extends PerVmaLock70Design {
  protected override speculationFailed(): boolean {
    return false;
  }
}

/** Mutant: lock_next_vma() without the false-gap check: a VMA whose start moved up is reported as it is now. */
class PerVmaLock70NoGapCheck extends PerVmaLock70Design {
  protected override mayHideFalseGap(): boolean {
    return false;
  }
}

/** Mutant: vma_start_write() excludes new readers but does not wait for those inside to drain. */
class PerVmaLock70NoDrain extends PerVmaLock70Design {
  protected override waitForReaders(): void {}
}

export const perVmaLock70: DesignDefinition = {
  name: 'per-vma-lock-7.0',
  summary: 'Linux 6.15–7.0: per-VMA locks as a reference count (vm_refcnt), VMAs TYPESAFE_BY_RCU',
  description: 'Linux 6.15–7.0: vm_refcnt pinned under RCU, writers drain readers; VMAs freed at once and reused (SLAB_TYPESAFE_BY_RCU), so a fault re-checks what it pinned',
  color: '#9c6b9e',
  lockless: true,
  counters: {
    miss: 'vma_lock_miss: lock_vma_under_rcu found the VMA detached (count 0) and walked again',
    abort: 'vma_lock_abort: no VMA could be read-locked (none there, write-locked, or another range after reuse): done under the mmap_lock',
    lookupLocked: 'VMA lookups (not faults) done under mmap_read_lock: the mmap_lock was write-locked, taken meanwhile (mmap_lock_speculate_retry), or nothing was there',
  },
  unreachable: UNREACHABLE_WHEN_LOCKED,
  // vm_refcnt 0: detached until vma_mark_attached. vm_lock_seq -1 (UINT_MAX): no mm_lock_seq equals it.
  vmaWords: { vmRefcnt: 0, vmLockSeq: -1 },
  typesafeByRcu: ['vmRefcnt'],
  quiescentVma: (mm, vma) => {
    const c = Atomics.load(mm.vmas.i32, mm.vmas.word(vma, mm.vmas.wordOffset('vmRefcnt')));
    return c === 1 ? undefined : `its vm_refcnt is ${c >= VM_REFCNT_EXCLUDE_READERS_FLAG ? `VM_REFCNT_EXCLUDE_READERS_FLAG + ${c - VM_REFCNT_EXCLUDE_READERS_FLAG}` : c}, not 1 (attached, no readers)`;
  },
  mutants: {
    'per-vma-lock-7.0-noreuse': { summary: 'lock_vma_under_rcu without the range check after the pin: a reused VMA is taken for the one looked up', make: (ctx) => new PerVmaLock70NoReuseCheck(ctx, 'per-vma-lock-7.0-noreuse') },
    'per-vma-lock-7.0-nospecretry': { summary: 'the speculative VMA lookup without mmap_lock_speculate_retry: a VMA changed or reused meanwhile is read as it was', make: (ctx) => new PerVmaLock70NoSpecRetry(ctx, 'per-vma-lock-7.0-nospecretry') },
    'per-vma-lock-7.0-nogapcheck': { summary: 'lock_next_vma without the false-gap check: a /proc/PID/maps read reports a gap that was never there', make: (ctx) => new PerVmaLock70NoGapCheck(ctx, 'per-vma-lock-7.0-nogapcheck') },
    'per-vma-lock-7.0-nodrain': { summary: 'vma_start_write excludes new readers but does not wait for present ones', make: (ctx) => new PerVmaLock70NoDrain(ctx, 'per-vma-lock-7.0-nodrain') },
  },
  make: (ctx) => new PerVmaLock70Design(ctx),
};
