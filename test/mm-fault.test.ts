// The fault core and the PTE-range operations, driven by a minimal fault entry that finds VMAs in a plain
// list (the locking designs come later and reach the same core).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  _PAGE_ACCESSED,
  accessError,
  changePteRange,
  FAULT_FLAG_WRITE,
  FaultVma,
  FrameTable,
  handleMmFault,
  MmuGather,
  movePtes,
  PAGE_SIZE,
  PageCache,
  PageTables,
  PG_anon,
  pteMapped,
  ptePfn,
  UserAccess,
  UserFaultError,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_MAYREAD,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  ZERO_PFN,
  zapPteRange,
  type FaultContext,
} from '../src/mm/index.js';
import { DeferredFree } from '../src/mm/deferred-free.js';
import { Rcu } from '../src/sync/rcu.js';
import { setWaitLimit } from '../src/sync/sleep.js';

setWaitLimit(10_000);

interface TestVma {
  start: number;
  end: number;
  pgoff: number;
  flags: number;
  file: number;
  anonVma: number;
}

function world(opts: { frames?: number; debug?: boolean } = {}) {
  const frames = FrameTable.create({ frames: opts.frames ?? 256, debug: opts.debug ?? true });
  const pt = PageTables.create({ tables: 64, debug: true });
  const pagecache = PageCache.create(frames, { pages: 256 });
  const rcu = Rcu.create();
  rcu.registerThread();
  const vmas: TestVma[] = [];
  let anonVmas = 0;
  const ctx: FaultContext = {
    frames,
    pt,
    pagecache,
    speculative: false,
    revalidate: () => true,
    assertFaultLocked: () => {}, // the test's faults run one at a time: nothing to lock
    anonVmaPrepare: (v) => {
      if (v.anonVma === 0) v.anonVma = vmas[v.vma]!.anonVma = ++anonVmas;
      return 0;
    },
  };
  const snap = new FaultVma();
  const fault = (addr: number, flags: number) => {
    const i = vmas.findIndex((x) => addr >= x.start && addr < x.end);
    if (i < 0) return VM_FAULT_SIGSEGV;
    const x = vmas[i]!;
    Object.assign(snap, { vma: i, start: x.start, end: x.end, pgoff: x.pgoff, flags: x.flags, file: x.file, anonVma: x.anonVma });
    return handleMmFault(ctx, snap, addr, flags, false);
  };
  const user = new UserAccess(pt, frames, rcu, fault);
  const deferred = DeferredFree.create(frames.nframes + pt.arena.capacity + 1);
  deferred.bind(frames, pt);
  const tlb = new MmuGather(frames, pt, rcu, deferred);
  const done = () => {
    rcu.barrier();
    rcu.unregisterThread();
  };
  return { frames, pt, pagecache, rcu, vmas, ctx, user, tlb, fault, done };
}

const RW = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE;
const BASE = 0x7f0000000000;

function tmpFile(bytes: Uint8Array): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-'));
  const p = path.join(dir, 'data.bin');
  fs.writeFileSync(p, bytes);
  return p;
}

test('anonymous memory: reads see the zero page, a write gets a private zeroed page', () => {
  const w = world();
  w.vmas.push({ start: BASE, end: BASE + 16 * PAGE_SIZE, pgoff: 0, flags: RW, file: 0, anonVma: 0 });
  assert.equal(w.user.load32(BASE + 8), 0);
  assert.equal(ptePfn(Atomics.load(w.pt.i32, w.pt.pteSlot(BASE))), ZERO_PFN);
  w.user.store32(BASE + 8, 0x12345678);
  assert.equal(w.user.load32(BASE + 8), 0x12345678);
  const pfn = ptePfn(Atomics.load(w.pt.i32, w.pt.pteSlot(BASE)));
  assert.notEqual(pfn, ZERO_PFN);
  assert.ok(w.frames.flags(pfn) & PG_anon);
  assert.equal(w.vmas[0]!.anonVma, 1, 'the first write fault prepared the anon_vma');
  w.user.write(BASE + PAGE_SIZE - 2, new Uint8Array([1, 2, 3, 4])); // straddles two pages
  assert.deepEqual([...w.user.read(BASE + PAGE_SIZE - 2, 4)], [1, 2, 3, 4]);
  w.done();
});

test('fresh anonymous pages read zero even when their frame held data before (no leaks)', () => {
  const w = world({ frames: 4 });
  w.vmas.push({ start: BASE, end: BASE + 4 * PAGE_SIZE, pgoff: 0, flags: RW, file: 0, anonVma: 0 });
  for (let p = 0; p < 4; p++) w.user.write(BASE + p * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(0xee));
  zapPteRange(w.pt, BASE, BASE + 4 * PAGE_SIZE, w.tlb);
  w.tlb.finish();
  w.rcu.barrier(); // the grace period: the frames go back
  w.frames.drainCache();
  assert.equal(w.frames.freeFrames(), 4);
  for (let p = 0; p < 4; p++) {
    w.user.store8(BASE + p * PAGE_SIZE, 1); // reuses the frames just freed
    const page = w.user.read(BASE + p * PAGE_SIZE, PAGE_SIZE);
    assert.equal(page[0], 1);
    assert.ok(page.subarray(1).every((b) => b === 0), `page ${p} leaked old data`);
  }
  w.done();
});

test('a spurious fault does not mark a PTE young once a zap has cleared it (no stray bits in an empty PTE)', () => {
  const w = world();
  w.vmas.push({ start: BASE, end: BASE + PAGE_SIZE, pgoff: 0, flags: RW, file: 0, anonVma: 0 });
  w.user.store8(BASE, 9);
  const slot = w.pt.pteSlot(BASE);
  Atomics.and(w.pt.i32, slot, ~_PAGE_ACCESSED); // aged, as reclaim's ptep_test_and_clear_young leaves it
  // The fault reads the PTE (present and writable: another thread handled it first), then a racing
  // MADV_DONTNEED zaps it before the fault marks it young. Atomics.load is wrapped to zap right after the
  // fault's read of the slot — the one interleaving that matters, made deterministic.
  const load = Atomics.load;
  let armed = true;
  Atomics.load = ((ta: Int32Array, i: number) => {
    const v = load(ta, i);
    if (armed && ta === w.pt.i32 && i === slot) {
      armed = false;
      zapPteRange(w.pt, BASE, BASE + PAGE_SIZE, w.tlb);
    }
    return v;
  }) as typeof Atomics.load;
  let r: number;
  try {
    r = w.fault(BASE, FAULT_FLAG_WRITE);
  } finally {
    Atomics.load = load;
  }
  assert.equal(armed, false, 'the zap ran inside the fault');
  assert.equal(r, 0);
  assert.equal(Atomics.load(w.pt.i32, slot), 0, 'the zapped PTE must stay empty');
  w.pt.validate();
  w.tlb.finish();
  w.done();
});

test('unmapped pages are freed only after a grace period (the TLB flush)', () => {
  const w = world();
  w.vmas.push({ start: BASE, end: BASE + PAGE_SIZE, pgoff: 0, flags: RW, file: 0, anonVma: 0 });
  w.user.store8(BASE, 9);
  const pfn = ptePfn(Atomics.load(w.pt.i32, w.pt.pteSlot(BASE)));
  assert.equal(zapPteRange(w.pt, BASE, BASE + PAGE_SIZE, w.tlb), 1);
  w.tlb.finish();
  assert.equal(w.frames.refcount(pfn), 1, 'still referenced until the grace period ends');
  w.vmas.pop();
  assert.throws(() => w.user.load8(BASE), (e: Error) => e instanceof UserFaultError && e.signal === 'SIGSEGV');
  w.rcu.barrier();
  assert.ok(w.frames.arena.isPoisoned(pfn), 'freed (and poisoned) after the grace period');
  w.done();
});

test('private file mappings copy on write and never change the page cache or the file', () => {
  const w = world();
  const data = new Uint8Array(2 * PAGE_SIZE).map((_, i) => i & 255);
  const file = tmpFile(data);
  const f = w.pagecache.openFile(file);
  w.vmas.push({ start: BASE, end: BASE + 2 * PAGE_SIZE, pgoff: 0, flags: RW, file: f, anonVma: 0 });
  assert.equal(w.user.load8(BASE + 5), 5);
  const cached = ptePfn(Atomics.load(w.pt.i32, w.pt.pteSlot(BASE)));
  w.user.store8(BASE + 5, 200);
  assert.equal(w.user.load8(BASE + 5), 200);
  assert.notEqual(ptePfn(Atomics.load(w.pt.i32, w.pt.pteSlot(BASE))), cached, 'the write copied the page');
  assert.equal(w.frames.bytes[cached * PAGE_SIZE + 5], 5, 'the page cache kept the file data');
  w.user.store8(BASE + PAGE_SIZE, 77); // a write fault with no prior read: do_cow_fault
  w.pagecache.writeback(f);
  assert.deepEqual(fs.readFileSync(file), Buffer.from(data), 'the file never changed');
  w.done();
});

test('shared file mappings write into the page cache and, on writeback, the file', () => {
  const w = world();
  const file = tmpFile(new Uint8Array(PAGE_SIZE + 10));
  const f = w.pagecache.openFile(file);
  w.vmas.push({ start: BASE, end: BASE + 2 * PAGE_SIZE, pgoff: 0, flags: RW | VM_SHARED, file: f, anonVma: 0 });
  w.user.load8(BASE); // read fault maps it read-only
  w.user.store8(BASE + 1, 42); // write-protect fault: wp_page_shared
  w.user.store8(BASE + PAGE_SIZE + 3, 43); // write fault on a missing page: do_shared_fault
  assert.equal(w.pagecache.writeback(f), 2);
  const after = fs.readFileSync(file);
  assert.equal(after[1], 42);
  assert.equal(after[PAGE_SIZE + 3], 43);
  assert.equal(w.vmas[0]!.anonVma, 0, 'shared mappings need no anon_vma');
  assert.equal(w.user.load8(BASE + PAGE_SIZE + 100), 0, 'past EOF but inside the last page reads zero, no SIGBUS');
  w.done();
});

test('signals: SIGBUS past the end of the file, SIGSEGV outside a VMA or against its permissions', () => {
  const w = world();
  const f = w.pagecache.syntheticFile(PAGE_SIZE);
  w.vmas.push({ start: BASE, end: BASE + 3 * PAGE_SIZE, pgoff: 0, flags: VM_READ | VM_MAYREAD, file: f, anonVma: 0 });
  w.user.load8(BASE + 10);
  assert.equal(w.fault(BASE + PAGE_SIZE, 0), VM_FAULT_SIGBUS);
  assert.throws(() => w.user.load8(BASE + 2 * PAGE_SIZE), (e: Error) => (e as UserFaultError).signal === 'SIGBUS');
  assert.throws(() => w.user.store8(BASE, 1), (e: Error) => (e as UserFaultError).signal === 'SIGSEGV');
  assert.throws(() => w.user.load8(BASE + 3 * PAGE_SIZE), (e: Error) => (e as UserFaultError).signal === 'SIGSEGV');
  const v = new FaultVma();
  v.flags = 0;
  assert.equal(accessError(v, 0), true, 'PROT_NONE allows nothing');
  v.flags = VM_WRITE;
  assert.equal(accessError(v, FAULT_FLAG_WRITE), false);
  w.done();
});

test('mprotect: read-only PTEs fault on write, PROT_NONE PTEs on any access, data survives', () => {
  const w = world();
  const vma = { start: BASE, end: BASE + 2 * PAGE_SIZE, pgoff: 0, flags: RW, file: 0, anonVma: 0 };
  w.vmas.push(vma);
  w.user.store32(BASE, 1234);
  vma.flags = VM_READ | VM_MAYREAD | VM_MAYWRITE;
  changePteRange(w.pt, vma.start, vma.end, true, false);
  assert.equal(w.user.load32(BASE), 1234);
  assert.throws(() => w.user.store32(BASE, 1), (e: Error) => (e as UserFaultError).signal === 'SIGSEGV');
  vma.flags = VM_MAYREAD | VM_MAYWRITE;
  changePteRange(w.pt, vma.start, vma.end, false, false);
  assert.ok(pteMapped(Atomics.load(w.pt.i32, w.pt.pteSlot(BASE))), 'PROT_NONE keeps the page mapped');
  assert.throws(() => w.user.load32(BASE), (e: Error) => (e as UserFaultError).signal === 'SIGSEGV');
  vma.flags = RW;
  changePteRange(w.pt, vma.start, vma.end, true, true);
  assert.equal(w.user.load32(BASE), 1234);
  w.user.store32(BASE, 99); // a write-protect fault re-grants write on our own anonymous page
  assert.equal(w.user.load32(BASE), 99);
  w.done();
});

test('mremap: moved PTEs carry the data to the new address', () => {
  const w = world();
  const vma = { start: BASE, end: BASE + 3 * PAGE_SIZE, pgoff: 0, flags: RW, file: 0, anonVma: 0 };
  w.vmas.push(vma);
  for (let p = 0; p < 3; p++) w.user.store32(BASE + p * PAGE_SIZE, 100 + p);
  const to = BASE + 1024 * PAGE_SIZE + 7 * PAGE_SIZE; // another PTE table
  assert.ok(movePtes(w.pt, BASE, to, 3 * PAGE_SIZE));
  vma.start = to;
  vma.end = to + 3 * PAGE_SIZE;
  for (let p = 0; p < 3; p++) assert.equal(w.user.load32(to + p * PAGE_SIZE), 100 + p);
  assert.equal(Atomics.load(w.pt.i32, w.pt.pteSlot(BASE)), 0);
  w.done();
});
