// A design that is not in mmsplit: the per-VMA lock as a reference count that writers drain, instead of
// an rwsem (6.4) or a seqcount the fault validates (spf). It is close to what Linux 6.15 merged
// (vm_refcnt, "mm: replace vm_lock and detached flag with a reference count"), simplified: one word per
// VMA, the tree's reference plus one per fault, and a writer bit.
//
//   fault:            rcu_read_lock(); vma = mas_walk(&mm->mm_mt, addr)
//                     pin: refcount_inc unless 0 (detached) or the writer bit is set; else the mmap_lock fault
//                     rcu_read_unlock()
//                     handle_mm_fault(vma, addr)        // may sleep: the pin keeps the VMA as it is
//                     unpin: refcount_dec; the last fault out wakes a waiting writer
//   vma_start_write:  set the writer bit (new faults fall back), then sleep until only the tree's reference
//                     is left; the VMA stays write-locked until mmap_write_unlock()
//   munmap:           vma_start_write; detach (count 0); free it after an RCU grace period (a fault that
//                     found it under RCU may still try to pin it)
//
// A pinned VMA cannot change, so the fault needs no validation and its page tables stay. Run it with
//   npx mmsplit check --design ./examples/refcount-lock.js
//   npx mmsplit bench --design ./examples/refcount-lock.js --workloads page_fault1,churn
// (docs/writing-a-design.md walks through it).
import { DesignStats, faultUnderMmapLock } from 'mmsplit/designs';
import { FaultVma, handleMmFault, VM_FAULT_RETRY } from 'mmsplit/mm';
import { futexWait, futexWake, schedPoint } from 'mmsplit/sync';

/** The writer bit: set by vma_start_write, cleared by mmap_write_unlock. Below it, the references. */
const WRITER = 0x40000000;

/** @implements {import('mmsplit/designs').LockingDesign} */
export class RefcountLockDesign {
  /** @param {import('mmsplit/designs').DesignContext} ctx */
  constructor(ctx, name = 'refcount-lock', { drain = true } = {}) {
    this.ctx = ctx;
    this.name = name;
    this.drain = drain; // the mutant does not wait for the faults inside
    // vma_lock_success / _retry / fallback, and this design's own two counters (declared in the definition).
    this.stats = new DesignStats({ busy: 0, gone: 0 });
    this.v = new FaultVma(); // one per thread: no allocation per fault
    this.ref = ctx.mm.vmas.wordOffset('vmRefcnt'); // where our per-VMA word lives in each record
    /** VMAs this writer has write-locked in the current mmap_write_lock section. */
    this.locked = [];
  }

  fault(addr, flags) {
    const { mm, rcu, pages } = this.ctx;
    rcu.readLock();
    const vma = mm.tree.findValue(addr);
    const pinned = vma !== 0 && this.pin(vma, addr);
    rcu.readUnlock();
    if (pinned) {
      const r = handleMmFault(pages, pages.snapshot(vma, this.v), addr, flags, false);
      this.unpin(vma);
      if ((r & VM_FAULT_RETRY) === 0) {
        this.stats.fastPath++;
        return r;
      }
      this.stats.retry++;
    }
    this.stats.fallback++;
    return faultUnderMmapLock(this.ctx, addr, flags);
  }

  /** refcount_inc unless detached (0) or write-locked; then the range must still hold addr. */
  pin(vma, addr) {
    const t = this.ctx.mm.vmas;
    const w = t.word(vma, this.ref);
    let c = Atomics.load(t.i32, w);
    for (;;) {
      if (c === 0 || (c & WRITER) !== 0) {
        if (c === 0) this.stats.extra.gone++;
        else this.stats.extra.busy++;
        return false;
      }
      const seen = Atomics.compareExchange(t.i32, w, c, c + 1);
      if (seen === c) break;
      c = seen;
    }
    // Pinned: no writer can change it now. It may have changed between the walk and the pin, though.
    if (addr < t.start(vma) || addr >= t.end(vma)) {
      this.unpin(vma);
      return false;
    }
    return true;
  }

  unpin(vma) {
    const t = this.ctx.mm.vmas;
    const w = t.word(vma, this.ref);
    // The last fault out of a write-locked VMA wakes the writer waiting in vmaStartWrite.
    if (Atomics.sub(t.i32, w, 1) - 1 === (WRITER | 1)) futexWake(t.i32, w);
  }

  /** vma_start_write(): called with the mmap_lock held for write, before the VMA changes. */
  vmaStartWrite(mm, vma) {
    const t = mm.vmas;
    const w = t.word(vma, this.ref);
    if ((Atomics.load(t.i32, w) & WRITER) !== 0) return; // already ours in this section
    Atomics.or(t.i32, w, WRITER); // from now on faults fall back
    this.locked.push(vma);
    if (!this.drain) return;
    for (;;) {
      const c = Atomics.load(t.i32, w);
      if ((c & ~WRITER) === 1) return; // only the tree's reference is left
      schedPoint('vma_start_write: waiting for faults to drain');
      futexWait(t.i32, w, c, 'vma_start_write');
    }
  }

  /** mmap_write_unlock(): every VMA write-locked in this section is released. */
  vmaEndWriteAll(mm) {
    const t = mm.vmas;
    for (const vma of this.locked) Atomics.and(t.i32, t.word(vma, this.ref), ~WRITER);
    this.locked.length = 0;
  }

  /** Detached, write-locked, drained: drop the tree's reference; free it once no RCU walker can reach it. */
  retireVma(mm, vma) {
    const t = mm.vmas;
    Atomics.store(t.i32, t.word(vma, this.ref), 0);
    const k = this.locked.indexOf(vma);
    if (k >= 0) this.locked.splice(k, 1);
    this.ctx.rcu.callRcu(() => mm.vmaFree(vma));
  }

  // Lockdep-lite: what "write-locked" and "locked" mean here, so that mm can assert it in debug mode. Plain
  // reads, not Atomics: in the checker every Atomics operation is a point where threads may switch, and an
  // assertion should not change the interleavings it explores.
  vmaIsWriteLocked(mm, vma) {
    return (mm.vmas.i32[mm.vmas.word(vma, this.ref)] & WRITER) !== 0;
  }

  vmaIsLocked(mm, vma) {
    return (mm.vmas.i32[mm.vmas.word(vma, this.ref)] & ~WRITER) > 1;
  }
}

/** @type {import('mmsplit/designs').DesignDefinition} */
export default {
  name: 'refcount-lock',
  summary: 'per-VMA lock as a refcount that writers drain (after 6.15)',
  description: 'the fault pins its VMA with a reference; vma_start_write sets a writer bit and waits for the pins to drain',
  color: '#9c755f',
  lockless: true, // faults walk the maple tree under RCU
  counters: {
    busy: 'vma_lock_abort: the VMA was write-locked when the fault tried to pin it: done under the mmap_lock',
    gone: 'vma_lock_miss: the VMA was detached (count 0) when the fault tried to pin it',
  },
  vmaWords: { vmRefcnt: 1 }, // a new VMA holds the tree's reference
  quiescentVma: (mm, vma) => {
    const c = Atomics.load(mm.vmas.i32, mm.vmas.word(vma, mm.vmas.wordOffset('vmRefcnt')));
    return c === 1 ? undefined : `vm_refcnt is 0x${c.toString(16)} at rest (only the tree's reference should be left)`;
  },
  mutants: {
    // The bug to catch: the writer sets the bit but does not wait for faults already inside the VMA.
    'refcount-lock-nodrain': { summary: 'refcount-lock whose writer does not wait for pinned faults', make: (ctx) => new RefcountLockDesign(ctx, 'refcount-lock-nodrain', { drain: false }) },
  },
  make: (ctx) => new RefcountLockDesign(ctx),
};
