import type { LockingDesign, VmaLookup } from '../mm/design.js';
import { MmPages, type MmPagesHandle } from '../mm/memory.js';
import { MmStruct, type MmFile, type MmHandle } from '../mm/mm.js';
import { UserAccess } from '../mm/uaccess.js';
import { Rcu, type RcuHandle } from '../sync/rcu.js';
import { Srcu, type SrcuHandle } from '../sync/srcu.js';
import { lookupVmaUnderMmapLock } from './common.js';
import { designInfo, DesignDefinitionError, loadDesignModule } from './registry.js';

export interface AddressSpaceOptions {
  /** A registered design's name (DESIGNS, a mutant, or one loaded with loadDesignModule). */
  design: string;
  /** Physical frames (4 KiB each) behind the address space. */
  frames: number;
  /** Page-table pages; default scales with frames. */
  tables?: number;
  /** Page-cache pages; default = frames. */
  cachePages?: number;
  /** Open files (struct file records); default 1024. */
  files?: number;
  /** Poison freed VMAs, frames and tables, and check it (slower). */
  debug?: boolean;
  /** mm->mmap_base; default 0x7ffff7fff000 (x86-64 without randomisation, 8 MiB stack). */
  mmapBase?: number;
  /** VMA records. */
  capacity?: number;
  /** Threads that may attach at most (RCU and SRCU slots). */
  maxThreads?: number;
  /** Back the frames and page tables with host memory now, before anything is measured (the lab does). */
  populate?: boolean;
}

/** What a worker passes to AddressSpace.attach (post it in workerData). */
export interface AddressSpaceHandle {
  readonly kind: 'mmsplit.address-space';
  readonly design: string;
  /** The module a loaded design came from (AddressSpace.open imports it in the worker). */
  readonly designSource?: string;
  readonly mm: MmHandle;
  readonly pages: MmPagesHandle;
  readonly rcu: RcuHandle;
  readonly srcu: SrcuHandle;
  /** The mm's struct files when the handle was taken (the file table is per thread). */
  readonly files: [number, MmFile][];
}

/**
 * One thread of a process whose address space runs under one locking design: the mm, its memory, the RCU
 * and SRCU domains, the design (its fault entry and its writer-side hooks, installed in the mm) and the
 * user-access path through which the thread touches memory. Make it with create() on one thread and
 * attach() on each worker; every thread may both fault (user.load32 …) and call sys* on `mm`.
 *
 * The thread is a registered RCU reader: call quiescentState() between operations (a page fault, a
 * syscall) and exit() before the thread ends.
 */
export class AddressSpace {
  readonly user: UserAccess;
  readonly design: LockingDesign;
  private readonly designSource: string | undefined;

  static create(opts: AddressSpaceOptions): AddressSpace {
    const info = designInfo(opts.design);
    const rcu = Rcu.create({ maxThreads: opts.maxThreads ?? 64 });
    rcu.registerThread();
    const srcu = Srcu.create({ maxThreads: opts.maxThreads ?? 64 });
    const pages = MmPages.create({ frames: opts.frames, tables: opts.tables, cachePages: opts.cachePages, files: opts.files, debug: opts.debug, populate: opts.populate }, rcu);
    const mm = new MmStruct({
      mmapBase: opts.mmapBase ?? 0x7ffff7fff000, pages, index: info.index ?? 'maple', debug: opts.debug, capacity: opts.capacity,
      vmaWords: info.vmaWords, mmWords: info.mmWords, ...(info.typesafeByRcu ? { typesafeByRcu: info.typesafeByRcu } : {}),
    });
    return new AddressSpace(opts.design, mm, pages, rcu, srcu);
  }

  /** attach() on a worker, after importing the design's module there if it was loaded from a file. */
  static async open(h: AddressSpaceHandle): Promise<AddressSpace> {
    if (h?.designSource !== undefined) await loadDesignModule(h.designSource);
    return AddressSpace.attach(h);
  }

  /** A thread's view of an address space made by create() on another thread (a built-in design: see open()). */
  static attach(h: AddressSpaceHandle): AddressSpace {
    if (h?.kind !== 'mmsplit.address-space') throw new TypeError('not an address-space handle');
    const rcu = Rcu.attach(h.rcu);
    rcu.registerThread();
    const pages = MmPages.attach(h.pages, rcu);
    const mm = new MmStruct({ mmapBase: 0, attach: h.mm, pages });
    for (const [id, f] of h.files) mm.files[id] = f;
    return new AddressSpace(h.design, mm, pages, rcu, Srcu.attach(h.srcu));
  }

  private constructor(
    readonly designName: string,
    readonly mm: MmStruct,
    readonly pages: MmPages,
    readonly rcu: Rcu,
    readonly srcu: Srcu,
  ) {
    const info = designInfo(designName);
    // Lockless faults walk the tree under RCU: from now on it copies on write and frees late.
    if (info.lockless) mm.setInRcu(rcu);
    const design = info.make({ mm, pages, rcu, srcu });
    const declared = Object.keys(info.counters ?? {}).sort().join(', ');
    const kept = Object.keys(design.stats?.extra ?? {}).sort().join(', ');
    if (declared !== kept) throw new DesignDefinitionError(`design '${designName}': its stats.extra has counters [${kept}] but its definition declares [${declared}]`);
    this.designSource = info.source;
    this.design = design;
    mm.hooks = design;
    this.user = new UserAccess(pages.pt, pages.frames, rcu, (addr, flags) => design.fault(addr, flags));
  }

  /** A VMA lookup that is not a fault (LockingDesign.lookupVma; under mmap_read_lock for designs without one). */
  lookupVma(addr: number, out: VmaLookup): boolean {
    const d = this.design;
    return d.lookupVma !== undefined ? d.lookupVma(addr, out) : lookupVmaUnderMmapLock(this.mm, addr, out);
  }

  handle(): AddressSpaceHandle {
    const files: [number, MmFile][] = [];
    this.mm.files.forEach((f, id) => f !== undefined && files.push([id, f]));
    return { kind: 'mmsplit.address-space', design: this.designName, ...(this.designSource ? { designSource: this.designSource } : {}), mm: this.mm.handle(), pages: this.pages.handle(), rcu: this.rcu.handle(), srcu: this.srcu.handle(), files };
  }

  /** rcu_quiescent_state(): this thread holds nothing RCU protects (call between operations). */
  quiescentState(): void {
    this.rcu.quiescentState();
  }

  /**
   * The thread is done: waits until every callback it queued has run (VMAs, frames, tables it freed),
   * hands its cached frames back and leaves RCU and SRCU.
   */
  exit(): void {
    this.srcu.barrier();
    this.rcu.barrier();
    this.pages.frames.drainCache();
    this.rcu.unregisterThread();
    this.srcu.unregisterThread();
  }

  /**
   * On the thread that created it, once no thread will touch it again (the lab's workers have ended): the
   * address space is gone for good, and the host memory behind its frames, page tables and files backs the
   * next one created here with `populate` (the lab's next round) instead of being backed anew, a page at a
   * time.
   */
  release(): void {
    this.pages.release();
  }
}
