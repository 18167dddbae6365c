import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameTable, GFP_NOWAIT, PAGE_SIZE, PG_locked, ZERO_PFN } from '../src/mm/frames.js';
import { DeferredFree } from '../src/mm/deferred-free.js';
import { MmuGather } from '../src/mm/pte-range.js';
import { mkPte, PageTables, PMD_SIZE, ptePfn, ptePresent, PUD_SIZE, TASK_SIZE } from '../src/mm/pagetable.js';
import { setWaitLimit } from '../src/sync/sleep.js';
import { Prng } from '../src/util/prng.js';
import { testSeed } from './support/seed.js';
import { eventually, onWorker } from './support/threads.js';

setWaitLimit(10_000);

test('frames: zeroed allocation, references, the zero page, OOM and GFP_NOWAIT', () => {
  const ft = FrameTable.create({ frames: 40, debug: true });
  const a = ft.allocZeroed();
  assert.ok(a > 0);
  assert.ok(ft.bytes.subarray(a * PAGE_SIZE, (a + 1) * PAGE_SIZE).every((b) => b === 0));
  ft.bytes.fill(0xab, a * PAGE_SIZE, (a + 1) * PAGE_SIZE);
  ft.getPage(a);
  ft.putPage(a);
  assert.equal(ft.refcount(a), 1);
  ft.putPage(a); // last reference: freed and poisoned (debug)
  assert.ok(ft.arena.isPoisoned(a));
  const b = ft.allocZeroed(); // whatever frame comes back reads zero: no data leaks between mappings
  assert.ok(ft.bytes.subarray(b * PAGE_SIZE, (b + 1) * PAGE_SIZE).every((x) => x === 0));
  assert.ok(ft.bytes.subarray(ZERO_PFN * PAGE_SIZE, PAGE_SIZE).every((x) => x === 0));
  const held = [b];
  for (;;) {
    const f = ft.alloc(GFP_NOWAIT);
    if (f < 0) break;
    held.push(f);
  }
  assert.equal(held.length, 40);
  assert.equal(ft.alloc(), -1, 'GFP_KERNEL reports OOM after waiting');
  for (const f of held) ft.putPage(f);
  ft.drainCache();
  assert.equal(ft.freeFrames(), 40);
  ft.validate();
});

test('frames: a thread keeps at most 32 freed frames and gives the coldest 16 back at once; every frame stays accounted for', () => {
  const ft = FrameTable.create({ frames: 100 });
  const mine: number[] = [];
  for (let f = ft.alloc(GFP_NOWAIT); f > 0; f = ft.alloc(GFP_NOWAIT)) mine.push(f);
  assert.equal(mine.length, 100);
  for (const f of mine) ft.putPage(f);
  const kept = ft.arena.inUse();
  assert.ok(kept >= 16 && kept <= 32, `the cache keeps 16 to 32 frames (${kept})`);
  assert.equal(ft.freeFrames(), 100 - kept);
  ft.validate();
  // The hottest frame, the last freed, is the first handed out again.
  assert.equal(ft.alloc(GFP_NOWAIT), mine[99]);
  ft.putPage(mine[99]!);
  ft.drainCache();
  assert.equal(ft.freeFrames(), 100);
  const again = new Set<number>();
  for (let f = ft.alloc(GFP_NOWAIT); f > 0; f = ft.alloc(GFP_NOWAIT)) again.add(f);
  assert.equal(again.size, 100, 'every frame comes back once');
  ft.validate();
});

test('frames: a waiting allocator gets a frame another thread frees; thread caches drain on demand', async () => {
  const ft = FrameTable.create({ frames: 64 });
  const mine: number[] = [];
  for (let f = ft.alloc(GFP_NOWAIT); f > 0; f = ft.alloc(GFP_NOWAIT)) mine.push(f);
  assert.equal(mine.length, 64);
  // The worker says when it found the pool empty and is about to wait (its direct reclaim runs then). An
  // allocation gives up after OOM_WAIT_MS (50 ms): if this thread is kept off the CPU that long, the
  // worker asks again rather than fail the test.
  const waiting = new Int32Array(new SharedArrayBuffer(4));
  const { done } = onWorker<number>(
    `const { FrameTable } = await import(${JSON.stringify(new URL('../src/mm/frames.js', import.meta.url).href)});
     const ft = FrameTable.attach(data.h); const waiting = new Int32Array(data.waiting);
     ft.reclaim = () => (Atomics.store(waiting, 0, 1), false);
     for (;;) { const f = ft.alloc(); if (f > 0) return f; }`,
    { h: ft.handle(), waiting: waiting.buffer },
  );
  await eventually(() => Atomics.load(waiting, 0) === 1, 'the worker to wait for a frame');
  ft.putPage(mine.pop()!); // lands in this thread's cache ...
  ft.drainCache(); // ... which the worker's DRAIN request makes us return (done here explicitly)
  const got = await done;
  assert.ok(got > 0, 'the worker got the freed frame');
});

test('frames: an allocator waits for the pages of a zap under way rather than report OOM', async () => {
  const ft = FrameTable.create({ frames: 64 });
  const pt = PageTables.create({ tables: 8 });
  const tlb = new MmuGather(ft, pt, null, DeferredFree.create(64));
  const mine: number[] = [];
  for (let f = ft.alloc(GFP_NOWAIT); f > 0; f = ft.alloc(GFP_NOWAIT)) mine.push(f);
  // A zap took every page from its PTE and is preempted before its TLB flush: the pages are on their way.
  for (const f of mine) tlb.removePage(f);
  const waiting = new Int32Array(new SharedArrayBuffer(4));
  const { done } = onWorker<number>(
    `const { FrameTable } = await import(${JSON.stringify(new URL('../src/mm/frames.js', import.meta.url).href)});
     const ft = FrameTable.attach(data.h); const waiting = new Int32Array(data.waiting);
     ft.reclaim = () => (Atomics.store(waiting, 0, 1), 0);
     return ft.alloc();`,
    { h: ft.handle(), waiting: waiting.buffer },
  );
  await eventually(() => Atomics.load(waiting, 0) === 1, 'the worker to wait for a frame');
  // Longer than an allocation waits with nothing on its way (OOM_WAIT_MS, 50 ms): it must still be waiting.
  await new Promise((r) => setTimeout(r, 150));
  tlb.finish();
  ft.drainCache();
  assert.ok((await done) > 0, 'the worker got a frame the zap gave back, not OOM');
});

test('page tables: an allocation waits for tables a grace period holds rather than report OOM; GFP_NOWAIT does not', async () => {
  const pt = PageTables.create({ tables: 8 });
  let k = 0;
  while (pt.pteAlloc(k * PUD_SIZE, GFP_NOWAIT) >= 0) k++; // a PMD and a PTE table for each GiB, until none is left
  assert.ok(k >= 2);
  assert.equal(pt.pteAlloc(k * PUD_SIZE, GFP_NOWAIT), -1);
  assert.equal(pt.pteAlloc(k * PUD_SIZE), -1, 'GFP_KERNEL with nothing to wait for: OOM');
  // Tables unlinked by munmap wait for a grace period (held here, as by a preempted reader): the worker's
  // reclaim sees them pending, and it waits for them however long that takes.
  const shared = new Int32Array(new SharedArrayBuffer(8)); // [the worker waits, tables pending]
  Atomics.store(shared, 1, 1);
  const { done } = onWorker<number>(
    `const { PageTables } = await import(${JSON.stringify(new URL('../src/mm/pagetable.js', import.meta.url).href)});
     const pt = PageTables.attach(data.h); const shared = new Int32Array(data.shared);
     pt.reclaim = () => (Atomics.store(shared, 0, 1), Atomics.load(shared, 1));
     return pt.pteAlloc(data.addr);`,
    { h: pt.handle(), shared: shared.buffer, addr: PMD_SIZE }, // a PTE table under the first GiB's PMD table
  );
  await eventually(() => Atomics.load(shared, 0) === 1, 'the worker to wait for a table');
  // Longer than an allocation waits with nothing on its way (OOM_WAIT_MS, 50 ms): it must still be waiting.
  await new Promise((r) => setTimeout(r, 150));
  pt.freePgtables(0, PMD_SIZE, 0, PMD_SIZE, (t) => pt.freeTable(t)); // the grace period ends: the first PTE table is freed
  Atomics.store(shared, 1, 0);
  assert.ok((await done) >= 0, 'the worker got the table, not OOM');
});

test('frames: lock_page waiters sleep until unlock_page', async () => {
  const ft = FrameTable.create({ frames: 8 });
  const f = ft.alloc();
  ft.lockPage(f);
  assert.equal(ft.trylockPage(f), false);
  const { done } = onWorker<number>(
    `const { FrameTable } = await import(${JSON.stringify(new URL('../src/mm/frames.js', import.meta.url).href)});
     const ft = FrameTable.attach(data.h); ft.waitOnPageLocked(data.f); return ft.bytes[data.f * 4096];`,
    { h: ft.handle(), f },
  );
  await eventually(() => (ft.flags(f) & 16) !== 0, 'the waiter to sleep on the page');
  ft.bytes[f * PAGE_SIZE] = 77; // the "I/O" completes
  ft.unlockPage(f);
  assert.equal(await done, 77);
  assert.equal(ft.flags(f) & PG_locked, 0);
});

test('page tables: differential against a Map of PTEs, with table freeing (seeded)', () => {
  const seed = testSeed();
  const rnd = new Prng(seed);
  const pt = PageTables.create({ tables: 4096, debug: true });
  const model = new Map<number, number>(); // addr -> pte
  const regions = [0x400000, 0x7f0000000000, 0x7ffff7dd0000, PUD_SIZE * 3 - PMD_SIZE, TASK_SIZE - 256 * 4096];
  const pageIn = (base: number) => base + rnd.below(256) * 4096;
  for (let step = 0; step < 20_000; step++) {
    const addr = pageIn(rnd.pick(regions));
    const r = rnd.below(10);
    if (r < 6) {
      const slot = pt.pteAlloc(addr);
      assert.ok(slot >= 0, `seed ${seed}`);
      const pte = mkPte(1 + rnd.below(1000), 0);
      pt.ptLock(slot);
      Atomics.store(pt.i32, slot, pte);
      pt.ptUnlock(slot);
      model.set(addr, pte);
    } else if (r < 9) {
      const slot = pt.pteSlot(addr);
      if (slot >= 0) Atomics.store(pt.i32, slot, 0);
      model.delete(addr);
    } else {
      // Zap a whole region, free its tables within [region, region + 1 MiB) as the free span.
      const base = rnd.pick(regions);
      for (let a = base; a < base + 256 * 4096; a += 4096) {
        const slot = pt.pteSlot(a);
        if (slot >= 0) Atomics.store(pt.i32, slot, 0);
        model.delete(a);
      }
      pt.freePgtables(base, base + 256 * 4096, base - (base % PMD_SIZE), base - (base % PMD_SIZE) + PMD_SIZE, (t) => pt.freeTable(t));
    }
    if (step % 2000 === 0 || step === 19_999) {
      for (const base of regions) {
        for (let i = 0; i < 256; i++) {
          const a = base + i * 4096;
          const slot = pt.pteSlot(a);
          const pte = slot < 0 ? 0 : Atomics.load(pt.i32, slot);
          assert.equal(pte, model.get(a) ?? 0, `seed ${seed} step ${step}: PTE of 0x${a.toString(16)}`);
          if (pte) assert.ok(ptePresent(pte) && ptePfn(pte) >= 1);
        }
      }
      const v = pt.validate();
      assert.equal(v.ptes, model.size, `seed ${seed}`);
    }
  }
  // Unmap everything: every table but the PGD goes back.
  for (const base of regions) {
    for (let a = base; a < base + 256 * 4096; a += 4096) {
      const slot = pt.pteSlot(a);
      if (slot >= 0) Atomics.store(pt.i32, slot, 0);
    }
  }
  pt.freePgtables(0, TASK_SIZE, 0, TASK_SIZE + 4096, (t) => pt.freeTable(t));
  assert.equal(pt.tablesInUse(), 1);
  pt.arena.validate();
});

test('page tables: free_pgtables keeps tables a neighbour still uses', () => {
  const pt = PageTables.create({ tables: 64 });
  const a = 0x40000000; // a PMD-aligned 2 MiB span
  const neighbour = a + PMD_SIZE - 4096; // the last page of the same PTE table belongs to another VMA
  Atomics.store(pt.i32, pt.pteAlloc(neighbour), mkPte(5, 0));
  pt.pteAlloc(a);
  const freed = pt.freePgtables(a, a + 4096, a, neighbour, (t) => pt.freeTable(t));
  assert.equal(freed, 0, 'the PTE table is shared with the neighbour: it must stay');
  assert.ok(pt.pteSlot(neighbour) >= 0);
  assert.throws(() => pt.freePgtables(a, a + 4096, 0, TASK_SIZE, (t) => pt.freeTable(t)), /still maps pages/);
});
