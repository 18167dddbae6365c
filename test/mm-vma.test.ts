/**
 * The address space (src/mm/mm.ts and the calls) on its own: placement, splits and merges on small cases
 * worked out from the kernel's rules, the retire seam, and a differential test against a page-level model
 * (a Map from page to protection) with a seeded generator that prints its seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EEXIST, EFAULT, EINVAL, ENOMEM, MADV_DOFORK, MADV_DONTFORK, MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_POPULATE_WRITE,
  MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_LOCKED, MAP_POPULATE, MAP_PRIVATE, MREMAP_MAYMOVE,
  PROT_EXEC, PROT_READ, PROT_WRITE,
} from '../src/mm/uapi.js';
import { MmStruct } from '../src/mm/mm.js';
import type { MmHooks } from '../src/mm/design.js';
import { sysBrk, sysMmap, sysMunmap } from '../src/mm/mmap.js';
import { sysMprotect } from '../src/mm/mprotect.js';
import { sysMadvise } from '../src/mm/madvise.js';
import { sysMremap } from '../src/mm/mremap.js';
import { Prng } from '../src/util/prng.js';
import { testSeed } from './support/seed.js';
import type { MmPages } from '../src/mm/memory.js';
import { describeError, unwinding, whileUnwinding } from '../src/util/unwind.js';

const P = 4096;
const BASE = 0x7ffff7fff000;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const FIXED = MAP_FIXED;
const RW = PROT_READ | PROT_WRITE;

function layout(mm: MmStruct): string[] {
  return mm.formatMaps().trimEnd().split('\n').filter((l) => l !== '').map((l) => l.replace(/ +$/, ''));
}

test('un-hinted mmaps go top-down from mmap_base and merge with equal neighbours', () => {
  const mm = new MmStruct({ mmapBase: BASE });
  const a = sysMmap(mm, 0, 2 * P, RW, ANON, 0, 0);
  assert.equal(a, BASE - 2 * P);
  const b = sysMmap(mm, 0, P, RW, ANON, 0, 0);
  assert.equal(b, BASE - 3 * P);
  assert.deepEqual(layout(mm), [`7ffff7ffc000-7ffff7fff000 rw-p 00000000 00:00 0`]);
  // A different protection does not merge.
  const c = sysMmap(mm, 0, P, PROT_READ, ANON, 0, 0);
  assert.equal(c, BASE - 4 * P);
  assert.equal(mm.mapCount, 2);
  mm.validate(true);
});

test('mprotect splits, and merges back at the edges; holes give ENOMEM after changing what precedes', () => {
  const mm = new MmStruct({ mmapBase: BASE });
  const a = sysMmap(mm, 0, 8 * P, RW, ANON, 0, 0);
  assert.equal(sysMprotect(mm, a + 2 * P, 2 * P, PROT_READ), 0);
  assert.equal(mm.mapCount, 3);
  assert.equal(sysMprotect(mm, a + 2 * P, 2 * P, RW), 0);
  assert.equal(mm.mapCount, 1, 'merged back with both neighbours');
  assert.equal(sysMunmap(mm, a + 4 * P, P), 0);
  assert.equal(sysMprotect(mm, a, 8 * P, PROT_READ), -ENOMEM);
  assert.deepEqual(layout(mm).map((l) => l.slice(0, 30)), [
    '7ffff7ff7000-7ffff7ffb000 r--p',
    '7ffff7ffc000-7ffff7fff000 rw-p',
  ]);
  assert.equal(sysMprotect(mm, a + 1, P, PROT_READ), -EINVAL);
  assert.equal(sysMprotect(mm, a, P, 0x10), -EINVAL, 'a bit no PROT_ flag has');
  mm.validate(true);
});

test('MAP_FIXED_NOREPLACE, munmap checks, brk', () => {
  const mm = new MmStruct({ mmapBase: BASE });
  const a = sysMmap(mm, 0, 4 * P, RW, ANON, 0, 0);
  assert.equal(sysMmap(mm, a + P, P, RW, ANON | MAP_FIXED_NOREPLACE, 0, 0), -EEXIST);
  assert.equal(sysMmap(mm, a + P, P, PROT_READ, ANON | FIXED, 0, 0), a + P);
  assert.equal(mm.mapCount, 3);
  assert.equal(sysMunmap(mm, a + 1, P), -EINVAL);
  assert.equal(sysMunmap(mm, a, 0), -EINVAL);
  assert.equal(sysMunmap(mm, a, 4 * P), 0);
  assert.equal(mm.mapCount, 0);
  mm.startBrk = mm.brk = 0x555555560000;
  assert.equal(sysBrk(mm, 0), 0x555555560000, 'a query returns the break');
  assert.equal(sysBrk(mm, 0x555555562001), 0x555555562001);
  assert.deepEqual(layout(mm), ['555555560000-555555563000 rw-p 00000000 00:00 0                          [heap]']);
  assert.equal(sysBrk(mm, 0x555555561000), 0x555555561000);
  assert.deepEqual(layout(mm), ['555555560000-555555561000 rw-p 00000000 00:00 0                          [heap]']);
  assert.equal(sysBrk(mm, 0x555555550000), 0x555555561000, 'below start_brk: refused');
  mm.validate(true);
});

test('hints, the stack guard gap below VM_GROWSDOWN, and THP alignment of 2 MiB anonymous mappings', () => {
  const mm = new MmStruct({ mmapBase: BASE });
  const hint = 0x7fff00000000;
  assert.equal(sysMmap(mm, hint + 123, P, RW, ANON, 0, 0), hint, 'a free hint is taken, rounded down');
  const g = sysMmap(mm, 0, 4 * P, RW, ANON | MAP_GROWSDOWN, 0, 0);
  assert.equal(g, BASE - 4 * P);
  const below = sysMmap(mm, 0, P, PROT_READ, ANON, 0, 0);
  assert.equal(below, g - 256 * P - P, 'the next search leaves stack_guard_gap below the growsdown VMA');
  const thp = sysMmap(mm, 0, 2 << 20, RW, ANON, 0, 0);
  assert.equal(thp % (2 << 20), 0, '2 MiB anonymous mapping is PMD-aligned');
  const mm2 = new MmStruct({ mmapBase: BASE, thp: false });
  assert.equal(sysMmap(mm2, 0, 2 << 20, RW, ANON, 0, 0), BASE - (2 << 20));
  mm.validate();
});

test('anon_vma decides merges: populated neighbours with different anon_vmas stay apart', () => {
  const mm = new MmStruct({ mmapBase: BASE });
  const a = sysMmap(mm, 0, 2 * P, RW, ANON | MAP_POPULATE, 0, 0); // faulted, own anon_vma
  const b = sysMmap(mm, a - 2 * P, 2 * P, RW, ANON | FIXED, 0, 0);
  assert.equal(mm.mapCount, 1, 'an unfaulted neighbour merges with a faulted one');
  assert.equal(sysMunmap(mm, b, 2 * P), 0);
  const c = sysMmap(mm, b, 2 * P, RW, ANON | FIXED | MAP_POPULATE, 0, 0);
  assert.equal(c, b);
  // MAP_POPULATE after the merge attempt: the new VMA merged already; its anon_vma is a's.
  assert.equal(mm.mapCount, 1);
  assert.equal(sysMadvise(mm, a, P, MADV_DONTFORK), 0);
  assert.equal(mm.mapCount, 3);
  assert.equal(sysMadvise(mm, a, P, MADV_DOFORK), 0);
  assert.equal(mm.mapCount, 1);
  assert.equal(sysMadvise(mm, a + 8 * P, P, MADV_POPULATE_WRITE), -ENOMEM);
  mm.validate(true);
});

test('mremap: shrink, grow in place, move', () => {
  const mm = new MmStruct({ mmapBase: BASE });
  const a = sysMmap(mm, 0, 4 * P, RW, ANON, 0, 0);
  assert.equal(sysMremap(mm, a, 4 * P, 2 * P, 0, 0), a);
  assert.equal(sysMremap(mm, a, 2 * P, 4 * P, 0, 0), a, 'grows back in place');
  const b = sysMmap(mm, 0, P, PROT_READ, ANON, 0, 0);
  assert.equal(b, a - P);
  assert.equal(sysMremap(mm, b, P, 2 * P, 0, 0), -ENOMEM, 'blocked by a, no MAYMOVE');
  const m = sysMremap(mm, b, P, 2 * P, MREMAP_MAYMOVE, 0);
  assert.ok(m > 0 && m !== b);
  assert.equal(sysMremap(mm, 0x7ffff0000000, P, 2 * P, MREMAP_MAYMOVE, 0), -EFAULT, 'nothing mapped there');
  mm.validate();
});

test('the retire seam: removed VMAs go through retireVma, changed ones through vmaStartWrite first', () => {
  const retired: number[] = [];
  let writes = 0;
  let unlocks = 0;
  const hooks: MmHooks = {
    vmaStartWrite() { writes++; },
    retireVma(mm, v) { retired.push(v); mm.vmaFree(v); },
    vmaEndWriteAll() { unlocks++; },
  };
  const mm = new MmStruct({ mmapBase: BASE, hooks });
  const a = sysMmap(mm, 0, 4 * P, RW, ANON, 0, 0);
  assert.equal(sysMunmap(mm, a + P, P), 0);
  assert.equal(retired.length, 1);
  assert.ok(writes >= 1, 'the split VMA was write-marked');
  assert.equal(sysMunmap(mm, a, 4 * P), 0);
  assert.equal(retired.length, 3);
  assert.ok(writes >= 4, 'every VMA that left was write-marked first');
  assert.equal(unlocks, 3, 'mmap_write_unlock ends the write section of each call');
  assert.equal(mm.vmas.arena.inUse(), 0);
});

test('differential: random mmap/munmap/mprotect against a page model (seed printed)', (t) => {
  const seed = testSeed();
  t.diagnostic(`seed ${seed} (MMSPLIT_SEED=${seed} reproduces)`);
  const rng = new Prng(seed);
  const mm = new MmStruct({ mmapBase: BASE });
  const ARENA = BASE - 512 * P;
  const model = new Map<number, number>(); // page index in the arena → prot
  const rounds = process.env.MMSPLIT_LONG === '1' ? 50_000 : 4_000;
  for (let i = 0; i < rounds; i++) {
    const first = rng.below(256);
    const n = 1 + rng.below(16);
    const addr = ARENA + first * P;
    const prot = rng.below(8);
    const op = rng.below(3);
    let r: number;
    if (op === 0) {
      r = sysMmap(mm, addr, n * P, prot, ANON | FIXED, 0, 0);
      assert.equal(r, addr, `seed ${seed} step ${i}`);
      for (let p = first; p < first + n; p++) model.set(p, prot);
    } else if (op === 1) {
      r = sysMunmap(mm, addr, n * P);
      assert.equal(r, 0);
      for (let p = first; p < first + n; p++) model.delete(p);
    } else {
      r = sysMprotect(mm, addr, n * P, prot);
      let want = model.has(first) ? 0 : -ENOMEM;
      for (let p = first; p < first + n && want === 0; p++) {
        if (!model.has(p)) want = -ENOMEM;
        else model.set(p, prot);
      }
      assert.equal(r, want, `seed ${seed} step ${i}: mprotect`);
    }
    mm.validate(true);
    // Compare page by page.
    const got = new Map<number, number>();
    mm.forEachVma((v) => {
      const s = mm.vmas.start(v), e = mm.vmas.end(v), f = mm.vmas.flags(v) & 7;
      for (let a = s; a < e; a += P) got.set((a - ARENA) / P, f);
    });
    assert.equal(got.size, model.size, `seed ${seed} step ${i}: mapped page count`);
    for (const [p, pr] of model) assert.equal(got.get(p), pr, `seed ${seed} step ${i}: page ${p}`);
  }
});

test('the map-count limit: mmap refuses above it, splits at it; munmap may punch only with room for one more', () => {
  const mm = new MmStruct({ mmapBase: BASE, maxMapCount: 4 });
  const addrs: number[] = [];
  for (let i = 0; i < 5; i++) addrs.push(sysMmap(mm, 0, 4 * P, i % 2 ? PROT_READ : RW, ANON, 0, 0));
  assert.ok(addrs.every((a) => a > 0), 'map_count may reach max + 1');
  assert.equal(mm.mapCount, 5);
  assert.equal(sysMmap(mm, 0, P, PROT_EXEC, ANON, 0, 0), -ENOMEM, 'map_count > max: refused');
  assert.equal(sysMprotect(mm, addrs[0]! + P, P, PROT_READ), -ENOMEM, 'a split at the limit fails');
  assert.equal(sysMunmap(mm, addrs[0]! + P, P), -ENOMEM, 'a hole in the middle needs a split');
  assert.equal(sysMunmap(mm, addrs[0]!, P), 0, 'trimming an end is allowed (one split, no net growth)');
  assert.equal(sysMunmap(mm, addrs[1]!, 4 * P), 0);
  assert.equal(mm.mapCount, 4);
  mm.validate();
});

test('MAP_LOCKED: VM_LOCKED refuses MADV_DONTNEED', () => {
  const mm = new MmStruct({ mmapBase: BASE });
  const a = sysMmap(mm, 0, 2 * P, RW, ANON | MAP_LOCKED, 0, 0);
  assert.equal(sysMadvise(mm, a, P, MADV_DONTNEED), -EINVAL);
  assert.equal(sysMadvise(mm, a, P, MADV_DONTNEED_LOCKED), 0, 'MADV_DONTNEED_LOCKED is allowed');
});

test('a worker attached through handle() finds the same VMAs', async () => {
  const { Worker } = await import('node:worker_threads');
  const mm = new MmStruct({ mmapBase: BASE });
  for (let i = 0; i < 40; i++) sysMmap(mm, 0, (1 + (i % 3)) * P, i % 2 ? PROT_WRITE : PROT_READ, ANON, 0, 0);
  const addrs = [0, BASE - P, BASE - 50 * P, BASE - 10 * P + 7, BASE];
  const want = addrs.map((a) => {
    const v = mm.findVma(a);
    return v === 0 ? null : [mm.vmas.start(v), mm.vmas.end(v), mm.vmas.flags(v)];
  });
  const url = new URL('./support/mm-attach-worker.js', import.meta.url);
  const w = new Worker(url, { workerData: { handle: mm.handle(), addrs } });
  const got = await new Promise<{ out: unknown[]; mapCount: number; mmapBase: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker timed out')), 10_000);
    w.once('message', (m) => { clearTimeout(timer); resolve(m); });
    w.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
  await w.terminate();
  assert.deepEqual(got.out, want);
  assert.equal(got.mapCount, mm.mapCount);
  assert.equal(got.mmapBase, BASE);
});

test('the first error wins: a call that fails while holding the mmap_lock reports its own error and releases the lock', { timeout: 10_000 }, () => {
  // Before the downgrade: a design's hook fails inside munmap; the lock is held for write.
  let failHook = false;
  const hooks: MmHooks = {
    vmaStartWrite() { if (failHook) throw new Error('hook failed'); },
    retireVma(mm, v) { mm.vmaFree(v); },
    vmaEndWriteAll() {},
  };
  const mm = new MmStruct({ mmapBase: BASE, hooks });
  const a = sysMmap(mm, 0, 4 * P, RW, ANON, 0, 0);
  failHook = true;
  assert.throws(() => sysMunmap(mm, a, P), (e: unknown) => (e as Error).message === 'hook failed' && whileUnwinding(e).length === 0);
  failHook = false;
  assert.equal(sysMunmap(mm, a, P), 0, 'the mmap_lock was released'); // (a leaked write lock would hang here)

  // After the downgrade: zapping the pages fails while the lock is held for read. A `finally` that unlocked
  // for write threw "not held for write" in place of the cause.
  const zapFails = { bind() {}, unmapRegion() { throw new Error('zap failed'); } } as unknown as MmPages;
  const mm2 = new MmStruct({ mmapBase: BASE, pages: zapFails });
  const b = sysMmap(mm2, 0, 4 * P, RW, ANON, 0, 0);
  assert.throws(() => sysMunmap(mm2, b, P), (e: unknown) => (e as Error).message === 'zap failed' && whileUnwinding(e).length === 0);
  assert.ok(mm2.findVma(b) !== 0 && mm2.vmas.start(mm2.findVma(b)) === b + P, 'the VMA left the tree before the zap');
  assert.ok(sysMmap(mm2, 0, P, PROT_READ, ANON, 0, 0) > 0, 'the mmap_lock was released');

  // A release that fails too is attached to the first error, and a report shows both, the cause first.
  const first = unwinding(new Error('cause'), () => { throw new RangeError('unlock failed'); });
  assert.equal(describeError(first), 'Error: cause (then, while unwinding: RangeError: unlock failed)');
});
