// Every locking design under the same storm: user threads fault on a region while the writer maps (anonymous,
// private file, shared file), unmaps, mprotects, mremaps, merges and zaps the same pages. Frames, page
// tables and VMAs are poisoned when freed (a VMA or frame written after its free is caught when reused,
// and a lockless fault that copies a freed VMA throws); nobody may read poison, a write may not land in a
// page while it is read-only, the designs' fast paths must actually be taken, and at the end every PTE lies
// inside a VMA that allows it and no frame is leaked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { AddressSpace } from '../src/designs/address-space.js';
import { DESIGNS } from '../src/designs/index.js';
import { designInfo } from '../src/designs/registry.js';
import {
  MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_READ,
  PROT_WRITE,
} from '../src/mm/uapi.js';
import { VmaLookup } from '../src/mm/design.js';
import { sysMadvise } from '../src/mm/madvise.js';
import type { MmPages } from '../src/mm/memory.js';
import { sysMmap, sysMunmap } from '../src/mm/mmap.js';
import { sysMprotect } from '../src/mm/mprotect.js';
import { sysMremap } from '../src/mm/mremap.js';
import { PG_anon, ZERO_PFN } from '../src/mm/frames.js';
import { pteMapped, ptePfn } from '../src/mm/pagetable.js';
import { setWaitLimit, sleepMs } from '../src/sync/sleep.js';
import { Prng } from '../src/util/prng.js';
import { eventually } from './support/threads.js';
import { testSeed } from './support/seed.js';

const LONG = !!process.env.MMSPLIT_LONG;
const WAIT_LIMIT = 20_000;
setWaitLimit(WAIT_LIMIT);
/** The writer's storm: this many operations, however long the machine takes. */
const STORM_OPS = LONG ? 100_000 : 4_000;

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;
const NPAGES = 64;
const FILE_PAGES = 512;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/**
 * The words of the region's pages the workers write (read straight from the frames), by page: undefined
 * while nothing can have been written there (no PTE, or the zero page that a read fault maps even into a
 * read-only VMA); null for a page-cache page, which other (shared, writable) mappings may change.
 */
function snapshot(pages: MmPages, addr: number, workers: number): number[] | undefined | null {
  const slot = pages.pt.pteSlot(addr);
  if (slot < 0) return undefined;
  const pte = Atomics.load(pages.pt.i32, slot);
  if (!pteMapped(pte) || ptePfn(pte) === ZERO_PFN) return undefined;
  const pfn = ptePfn(pte);
  if ((pages.frames.flags(pfn) & PG_anon) === 0) return null;
  const base = (pfn * PAGE) / 4;
  return Array.from({ length: workers }, (_, w) => Atomics.load(pages.frames.words, base + w));
}

for (const design of Object.keys(DESIGNS)) {
  test(`${design}: faults on 2 workers against mmap/munmap/mprotect/mremap/madvise of the same pages`, { timeout: 120_000 }, async () => {
    const seed = testSeed();
    const rnd = new Prng(seed);
    const as = AddressSpace.create({ design, frames: 8192, debug: true });
    const { mm, pages, rcu } = as;
    // Misses on this file sleep: faults block inside their SRCU section, and RCU faults must give up.
    const file = mm.addFile({ path: 'storm', dev: '00:00', inode: 7, writable: true, readable: true, size: FILE_PAGES * PAGE, shmem: false, latencyUs: 20 });
    const region = sysMmap(mm, 0, NPAGES * PAGE, RW, ANON, 0, 0);
    const scratch = sysMmap(mm, 0, NPAGES * PAGE, RW, ANON, 0, 0); // where mremap moves pages to and back
    assert.ok(region > 0 && scratch > 0);
    const workers = 2;
    const ctl = new SharedArrayBuffer(16); // [stop, a worker failed, accesses made by worker 0, by worker 1]
    const threads = Array.from({ length: workers }, (_, worker) =>
      new Worker(new URL('./support/fault-worker.js', import.meta.url), {
        workerData: { as: as.handle(), region, npages: NPAGES, file, filePages: FILE_PAGES, worker, seed, ctl, waitLimitMs: WAIT_LIMIT },
      }),
    );
    const results = threads.map(
      (t, i) =>
        new Promise<Record<string, number>>((resolve, reject) => {
          t.once('message', (m: { ok: boolean; stats: Record<string, number>; error: string }) => (m.ok ? resolve(m.stats) : reject(new Error(`seed ${seed} worker ${i}: ${m.error}`))));
          t.once('error', reject);
        }),
    );
    const c = new Int32Array(ctl);
    const behind = (n: number) => Atomics.load(c, 1) === 0 && [0, 1].some((w) => Atomics.load(c, 2 + w) < n);
    await eventually(() => !behind(1), 'the workers to start faulting', WAIT_LIMIT);
    // However the machine schedules them, the workers stay in the storm: every 64 operations the writer
    // waits, asleep (offline for RCU), until each has made at least as many accesses as it made operations.
    const keepPace = (ops: number) => {
      const deadline = performance.now() + WAIT_LIMIT;
      while (behind(ops)) {
        assert.ok(performance.now() < deadline, `seed ${seed}: a worker made no progress for ${WAIT_LIMIT} ms`);
        sleepMs(1, 'the writer waiting for the fault workers');
      }
    };
    // Pages made read-only, with what the workers' words held once every access in flight was over.
    const readOnly = new Map<number, number[] | undefined | null>();
    const checkReadOnly = (from: number, to: number) => {
      for (const [addr, words] of readOnly) {
        const now = snapshot(pages, addr, workers);
        if (now !== null || words !== undefined) assert.deepEqual(now, words, `seed ${seed}: a write landed in read-only page 0x${addr.toString(16)}`);
        if (addr >= from && addr < to) readOnly.delete(addr);
      }
    };
    let ops = 0;
    try {
      for (; ops < STORM_OPS && Atomics.load(c, 1) === 0; ops++) {
        if ((ops & 63) === 0) keepPace(ops);
        const a = region + rnd.below(NPAGES) * PAGE;
        const len = (1 + rnd.below(Math.min(8, (region + NPAGES * PAGE - a) / PAGE))) * PAGE;
        const kind = rnd.below(8);
        checkReadOnly(a, kind === 1 ? a : a + len); // every change but a new mprotect(PROT_READ) ends the read-only stint
        let r = 0;
        switch (kind) {
          case 0: // unmap, then map fresh anonymous memory again
            r = sysMunmap(mm, a, len);
            if (r === 0) r = sysMmap(mm, a, len, RW, ANON | MAP_FIXED, 0, 0) === a ? 0 : -1;
            break;
          case 1: // read-only for a while: wait until no access that saw the old PTEs is in flight (the TLB flush)
            r = sysMprotect(mm, a, len, PROT_READ);
            rcu.synchronize();
            for (let p = a; p < a + len; p += PAGE) {
              const words = snapshot(pages, p, workers);
              if (words !== null) readOnly.set(p, words);
            }
            break;
          case 2:
            r = sysMprotect(mm, a, len, RW);
            break;
          case 3:
            r = sysMadvise(mm, a, len, MADV_DONTNEED);
            break;
          case 4: // move away and back: the data must come back with the pages
            r = sysMremap(mm, a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, scratch) === scratch ? 0 : -1;
            if (r === 0) r = sysMremap(mm, scratch, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, a) === a ? 0 : -1;
            break;
          case 5: // MAP_FIXED over the range replaces whatever was there
            r = sysMmap(mm, a, len, RW, ANON | MAP_FIXED, 0, 0) === a ? 0 : -1;
            break;
          default: {
            // A page-aligned window of the file, private (copy on write) or shared (writes reach the cache).
            const off = rnd.below(FILE_PAGES - len / PAGE) * PAGE;
            const how = kind === 6 ? MAP_PRIVATE : MAP_SHARED;
            r = sysMmap(mm, a, len, RW, how | MAP_FIXED, file, off) === a ? 0 : -1;
          }
        }
        assert.equal(r, 0, `seed ${seed}: op ${kind} at 0x${a.toString(16)}+${len} failed (${r})`);
        as.quiescentState();
      }
    } finally {
      Atomics.store(c, 0, 1);
    }
    rcu.threadOffline(); // only waiting now: hold up no grace period the exiting workers wait for
    const stats = await Promise.all(results);
    await Promise.all(threads.map((t) => t.terminate()));
    rcu.threadOnline();
    checkReadOnly(0, Infinity);
    mm.validate(false);
    pages.validate();
    const total = (k: string) => stats.reduce((s, x) => s + (x[k] ?? 0), 0);
    for (const s of stats) assert.ok(s.stores! > 0, `seed ${seed}: a worker never stored`);
    if (DESIGNS[design]!.lockless) assert.equal(total("fastPath") + total("fallback"), total("faults"), `seed ${seed}: every fault ends on the fast path or the slow one`);
    if (DESIGNS[design]!.lockless) assert.ok(total('fastPath') > total('faults') / 4, `seed ${seed}: ${design} rarely took its fast path`);
    if (design === 'rcu-fault') assert.ok(total('gfpNowaitFail') > 0, `seed ${seed}: no RCU fault had to give up a sleep`);
    // Nothing leaks: with the region and scratch gone, the only frames left are the page cache's.
    assert.equal(sysMunmap(mm, region, NPAGES * PAGE), 0);
    assert.equal(sysMunmap(mm, scratch, NPAGES * PAGE), 0);
    as.exit();
    assert.equal(mm.vmas.arena.inUse(), 0, `seed ${seed}: VMAs leaked`);
    assert.equal(pages.frames.arena.inUse(), pages.pagecache.cachedPages(), `seed ${seed}: frames leaked`);
    as.srcu.validate();
    console.log(`# ${design}: seed ${seed}, ${ops} writer operations; workers ${JSON.stringify(stats)}`);
  });
}

test('madvise(MADV_DONTNEED) inside one VMA runs under its VMA lock where the design has one (per-vma-lock-7.0, 6.17), otherwise under the mmap_lock', () => {
  for (const design of ['per-vma-lock', 'per-vma-lock-7.0']) {
    const as = AddressSpace.create({ design, frames: 256, debug: true });
    const mm = as.mm;
    const a = sysMmap(mm, 0, 8 * PAGE, RW, ANON, 0, 0);
    const b = sysMmap(mm, a - 4 * PAGE, 4 * PAGE, PROT_READ, ANON, 0, 0); // below a, not mergeable with it
    assert.equal(b, a - 4 * PAGE);
    for (let i = 0; i < 8; i++) as.user.store8(a + i * PAGE, 7);
    let mmapLocked = 0;
    const readLock = mm.mmapReadLock.bind(mm);
    mm.mmapReadLock = () => {
      mmapLocked++;
      readLock();
    };
    assert.equal(sysMadvise(mm, a + 2 * PAGE, 4 * PAGE, MADV_DONTNEED), 0);
    assert.equal(mmapLocked, design === 'per-vma-lock-7.0' ? 0 : 1, `${design}: a range inside one VMA`);
    assert.equal(as.user.load8(a + 2 * PAGE), 0, 'the page was zapped');
    assert.equal(as.user.load8(a), 7, 'the page outside the range stayed');
    mmapLocked = 0;
    assert.equal(sysMadvise(mm, b, 6 * PAGE, MADV_DONTNEED), 0);
    assert.equal(mmapLocked, 1, `${design}: a range over two VMAs takes the mmap_lock`);
    assert.equal(as.user.load8(a), 0);
    assert.equal(as.user.load8(a + 7 * PAGE), 7);
    as.exit();
  }
});

test('VMA lookups (a uprobe hit): the file and page offset at an address, under mmap_read_lock or speculating on mm_lock_seq (per-vma-lock-7.0)', () => {
  for (const design of ['mmap-lock', 'per-vma-lock-7.0']) {
    const as = AddressSpace.create({ design, frames: 256, debug: true });
    const mm = as.mm;
    const file = mm.addFile({ path: 'lookup', dev: '00:00', inode: 3, writable: true, readable: true, size: 64 * PAGE, shmem: false, latencyUs: 0 });
    const a = sysMmap(mm, 0, 4 * PAGE, PROT_READ, MAP_PRIVATE, file, 8 * PAGE);
    const out = new VmaLookup();
    assert.ok(as.lookupVma(a + 2 * PAGE + 123, out));
    assert.deepEqual([out.file, out.pgoff], [file, 10]);
    assert.equal(as.lookupVma(a + 4 * PAGE, out), false, 'nothing mapped there');
    assert.equal(as.lookupVma(a - PAGE, out), false, 'nor there');
    assert.equal(sysMunmap(mm, a, 4 * PAGE), 0);
    assert.equal(as.lookupVma(a, out), false, 'gone after munmap');
    const seq = mm.mmLockSeq;
    assert.equal(seq % 2, 0, 'mm_lock_seq is even while nobody holds the mmap_lock for write');
    mm.mmapWriteLock();
    assert.equal(mm.mmLockSeq, seq + 1);
    assert.equal(mm.mmapLockSpeculateTryBegin(), -1, 'no speculation while the mmap_lock is write-locked');
    mm.mmapWriteUnlock();
    assert.ok(mm.mmapLockSpeculateRetry(seq), 'a writer came and went: what was read may be stale');
    as.exit();
  }
});

test('/proc/PID/maps under per-vma-lock-7.0 is read one VMA lock at a time (6.17), with the same text as under the mmap_lock, which is taken a page of text at a time', () => {
  for (const vmas of [3, 301]) {
    const texts: string[] = [];
    for (const design of ['mmap-lock', 'per-vma-lock-7.0']) {
      const as = AddressSpace.create({ design, frames: 256, debug: true });
      const mm = as.mm;
      const a = sysMmap(mm, 0, (vmas + 5) * PAGE, RW, ANON, 0, 0);
      // Every other page read-only: `vmas` VMAs in all.
      for (let k = 1; k < vmas; k += 2) assert.equal(sysMprotect(mm, a + k * PAGE, PAGE, PROT_READ), 0);
      let mmapLocked = 0;
      const readLock = mm.mmapReadLock.bind(mm);
      mm.mmapReadLock = () => {
        mmapLocked++;
        readLock();
      };
      texts.push(mm.formatMaps());
      // seq_file's m_start/m_stop: the lock is held while a page of text fills, and dropped in between.
      const pages = Math.ceil(texts.at(-1)!.length / PAGE);
      if (design === 'mmap-lock') assert.ok(mmapLocked >= pages && mmapLocked <= pages + 1, `${vmas} VMAs: the mmap_lock taken ${mmapLocked} times for ${pages} pages of text`);
      else assert.equal(mmapLocked, 0, `${design}: the mmap_lock taken by the read`);
      mm.forEachVma((v) => assert.equal(designInfo(design).quiescentVma?.(mm, v), undefined, 'every VMA lock released'));
      as.exit();
    }
    assert.equal(texts[1], texts[0]);
    assert.equal(texts[0]!.trimEnd().split('\n').length, vmas);
  }
});
