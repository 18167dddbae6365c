import type { Rcu } from '../sync/rcu.js';
import { FrameTable, PAGE_SIZE } from './frames.js';
import { FAULT_FLAG_WRITE, VM_FAULT_OOM, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV } from './fault.js';
import { _PAGE_PRESENT, _PAGE_RW, PageTables, ptePfn } from './pagetable.js';

/** A user access that the kernel would answer with a signal (or, for OOM, by killing the task). */
export class UserFaultError extends Error {
  override name = 'UserFaultError';
  constructor(
    readonly signal: 'SIGSEGV' | 'SIGBUS' | 'OOM',
    readonly addr: number,
    readonly write: boolean,
  ) {
    super(`${signal} at 0x${addr.toString(16)} (${write ? 'write' : 'read'})`);
  }
}

/** The design's fault entry (do_user_addr_fault): 0 when the PTE is now there, else VM_FAULT_* bits. */
export type FaultEntry = (addr: number, flags: number) => number;

/**
 * A user thread touching memory: what the MMU does in hardware, done by hand. Each access walks the page
 * tables without a lock, inside an RCU read section (page tables and frames unmapped meanwhile are freed
 * only after a grace period — the "TLB flush"); a missing or too weak PTE leaves the section and enters
 * the fault handler of the design, then the access is tried again. One object per thread.
 *
 * The thread must be a registered, online reader of `rcu` and report quiescent states between operations.
 */
export class UserAccess {
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private readonly i32: Int32Array;
  /** Faults taken by this thread (a handled fault, or one that raised a signal). */
  faults = 0;

  constructor(
    private readonly pt: PageTables,
    frames: FrameTable,
    private readonly rcu: Rcu,
    private readonly fault: FaultEntry,
  ) {
    this.bytes = frames.bytes;
    this.words = frames.words;
    this.i32 = pt.i32;
  }

  /** The byte offset of `addr` in the frames, or -1 if its PTE is missing or (for a write) read-only. */
  private translate(addr: number, write: boolean): number {
    const slot = this.pt.pteSlot(addr);
    if (slot < 0) return -1;
    const pte = Atomics.load(this.i32, slot);
    if ((pte & _PAGE_PRESENT) === 0 || (write && (pte & _PAGE_RW) === 0)) return -1;
    return ptePfn(pte) * PAGE_SIZE + (addr % PAGE_SIZE);
  }

  private faultIn(addr: number, write: boolean): void {
    this.faults++;
    const r = this.fault(addr, write ? FAULT_FLAG_WRITE : 0);
    if (r === 0) return;
    if (r & VM_FAULT_SIGSEGV) throw new UserFaultError('SIGSEGV', addr, write);
    if (r & VM_FAULT_SIGBUS) throw new UserFaultError('SIGBUS', addr, write);
    if (r & VM_FAULT_OOM) throw new UserFaultError('OOM', addr, write);
    // VM_FAULT_RETRY and friends: the access is simply tried again.
  }

  load8(addr: number): number {
    for (;;) {
      this.rcu.readLock();
      const at = this.translate(addr, false);
      const v = at >= 0 ? this.bytes[at]! : 0;
      this.rcu.readUnlock();
      if (at >= 0) return v;
      this.faultIn(addr, false);
    }
  }

  store8(addr: number, value: number): void {
    for (;;) {
      this.rcu.readLock();
      const at = this.translate(addr, true);
      if (at >= 0) this.bytes[at] = value;
      this.rcu.readUnlock();
      if (at >= 0) return;
      this.faultIn(addr, true);
    }
  }

  /** A 32-bit little-endian load; `addr` must be 4-byte aligned (as a word never straddles a page). */
  load32(addr: number): number {
    if (addr % 4 !== 0) throw new RangeError(`load32: unaligned address 0x${addr.toString(16)}`);
    for (;;) {
      this.rcu.readLock();
      const at = this.translate(addr, false);
      const v = at >= 0 ? Atomics.load(this.words, at >>> 2) : 0;
      this.rcu.readUnlock();
      if (at >= 0) return v;
      this.faultIn(addr, false);
    }
  }

  store32(addr: number, value: number): void {
    if (addr % 4 !== 0) throw new RangeError(`store32: unaligned address 0x${addr.toString(16)}`);
    for (;;) {
      this.rcu.readLock();
      const at = this.translate(addr, true);
      if (at >= 0) Atomics.store(this.words, at >>> 2, value);
      this.rcu.readUnlock();
      if (at >= 0) return;
      this.faultIn(addr, true);
    }
  }

  /** copy_from_user(): `len` bytes from `addr`, page by page. */
  read(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let done = 0; done < len; ) {
      const a = addr + done;
      const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
      for (;;) {
        this.rcu.readLock();
        const at = this.translate(a, false);
        if (at >= 0) out.set(this.bytes.subarray(at, at + n), done);
        this.rcu.readUnlock();
        if (at >= 0) break;
        this.faultIn(a, false);
      }
      done += n;
    }
    return out;
  }

  /** copy_to_user(): writes `data` at `addr`, page by page. */
  write(addr: number, data: Uint8Array): void {
    for (let done = 0; done < data.length; ) {
      const a = addr + done;
      const n = Math.min(data.length - done, PAGE_SIZE - (a % PAGE_SIZE));
      for (;;) {
        this.rcu.readLock();
        const at = this.translate(a, true);
        if (at >= 0) this.bytes.set(data.subarray(done, done + n), at);
        this.rcu.readUnlock();
        if (at >= 0) break;
        this.faultIn(a, true);
      }
      done += n;
    }
  }
}
