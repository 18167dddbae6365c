// The mapping calls acting on pages: an address space with memory behind it, touched through the page
// tables, while munmap, mprotect, mremap, madvise and populate change it (single thread; the locking designs
// and their concurrency tests build on this).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  MADV_DONTNEED, MADV_POPULATE_WRITE, MAP_ANONYMOUS, MAP_FIXED, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MREMAP_MAYMOVE,
  PROT_NONE, PROT_READ, PROT_WRITE,
} from '../src/mm/uapi.js';
import { sysMadvise } from '../src/mm/madvise.js';
import { MmPages } from '../src/mm/memory.js';
import { MmStruct } from '../src/mm/mm.js';
import { sysMmap, sysMunmap } from '../src/mm/mmap.js';
import { sysMprotect } from '../src/mm/mprotect.js';
import { sysMremap } from '../src/mm/mremap.js';
import { UserAccess, UserFaultError } from '../src/mm/uaccess.js';
import { Rcu } from '../src/sync/rcu.js';
import { setWaitLimit } from '../src/sync/sleep.js';

setWaitLimit(10_000);

const PAGE = 4096;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function world(frames = 512) {
  const rcu = Rcu.create();
  rcu.registerThread();
  const pages = MmPages.create({ frames, debug: true }, rcu);
  const mm = new MmStruct({ mmapBase: 0x7ffff7fff000, pages });
  // The baseline fault: faultLocked() under the mmap_lock for read (lockdep-lite asserts it is held).
  const user = new UserAccess(pages.pt, pages.frames, rcu, (addr, flags) => {
    mm.mmapReadLock();
    try {
      return pages.faultLocked(addr, flags);
    } finally {
      mm.mmapReadUnlock();
    }
  });
  const quiesce = () => {
    rcu.barrier();
    pages.frames.drainCache();
  };
  return { rcu, pages, mm, user, quiesce, done: () => (quiesce(), rcu.unregisterThread()) };
}

const segv = (e: unknown) => e instanceof UserFaultError && e.signal === 'SIGSEGV';

test('munmap zaps the pages, frees them and their page tables after a grace period', () => {
  const w = world();
  const tablesBefore = w.pages.pt.tablesInUse();
  const a = sysMmap(w.mm, 0, 64 * PAGE, PROT_READ | PROT_WRITE, ANON, 0, 0);
  for (let p = 0; p < 64; p++) w.user.store32(a + p * PAGE, p + 1);
  assert.equal(w.pages.frames.freeFrames() <= 512 - 64, true);
  assert.equal(sysMunmap(w.mm, a, 64 * PAGE), 0);
  assert.throws(() => w.user.load32(a), segv);
  w.quiesce();
  assert.equal(w.pages.frames.freeFrames(), 512, 'every frame came back');
  assert.equal(w.pages.pt.tablesInUse(), tablesBefore, 'every page table but the PGD came back');
  w.mm.validate(true);
  w.done();
});

test('munmap of part of a mapping keeps the rest, and the page table the rest still uses', () => {
  const w = world();
  const a = sysMmap(w.mm, 0, 8 * PAGE, PROT_READ | PROT_WRITE, ANON, 0, 0);
  for (let p = 0; p < 8; p++) w.user.store32(a + p * PAGE, 100 + p);
  assert.equal(sysMunmap(w.mm, a + 2 * PAGE, 3 * PAGE), 0);
  w.quiesce();
  for (const p of [0, 1, 5, 6, 7]) assert.equal(w.user.load32(a + p * PAGE), 100 + p);
  assert.throws(() => w.user.load32(a + 3 * PAGE), segv);
  w.done();
});

test('mprotect: write SIGSEGVs after PROT_READ, reads still see the data; PROT_NONE and back', () => {
  const w = world();
  const a = sysMmap(w.mm, 0, 4 * PAGE, PROT_READ | PROT_WRITE, ANON, 0, 0);
  w.user.store32(a + PAGE, 77);
  assert.equal(sysMprotect(w.mm, a, 2 * PAGE, PROT_READ), 0);
  assert.throws(() => w.user.store32(a + PAGE, 1), segv);
  assert.equal(w.user.load32(a + PAGE), 77);
  w.user.store32(a + 3 * PAGE, 5); // the part that kept PROT_WRITE
  assert.equal(sysMprotect(w.mm, a, 4 * PAGE, PROT_NONE), 0);
  assert.throws(() => w.user.load32(a + PAGE), segv);
  assert.equal(sysMprotect(w.mm, a, 4 * PAGE, PROT_READ | PROT_WRITE), 0);
  assert.equal(w.user.load32(a + PAGE), 77);
  assert.equal(w.user.load32(a + 3 * PAGE), 5);
  w.user.store32(a + PAGE, 78);
  assert.equal(w.user.load32(a + PAGE), 78);
  w.done();
});

test('mremap: data survives a move; the old range is gone', () => {
  const w = world();
  const a = sysMmap(w.mm, 0, 4 * PAGE, PROT_READ | PROT_WRITE, ANON, 0, 0);
  sysMmap(w.mm, a + 4 * PAGE, PAGE, PROT_READ, ANON | MAP_FIXED, 0, 0); // block growing in place
  for (let p = 0; p < 4; p++) w.user.store32(a + p * PAGE, 10 + p);
  const b = sysMremap(w.mm, a, 4 * PAGE, 16 * PAGE, MREMAP_MAYMOVE, 0);
  assert.ok(b > 0 && b !== a, 'moved');
  for (let p = 0; p < 4; p++) assert.equal(w.user.load32(b + p * PAGE), 10 + p);
  assert.equal(w.user.load32(b + 8 * PAGE), 0, 'the grown part is fresh');
  assert.throws(() => w.user.load32(a), segv);
  w.mm.validate(true);
  w.done();
});

test('madvise(MADV_DONTNEED) drops private pages: they read zero again', () => {
  const w = world();
  const a = sysMmap(w.mm, 0, 2 * PAGE, PROT_READ | PROT_WRITE, ANON, 0, 0);
  w.user.store32(a, 42);
  assert.equal(sysMadvise(w.mm, a, 2 * PAGE, MADV_DONTNEED), 0);
  assert.equal(w.user.load32(a), 0);
  w.done();
});

test('MAP_POPULATE and MADV_POPULATE_WRITE fault the pages in: touching them takes no fault', () => {
  const w = world();
  const a = sysMmap(w.mm, 0, 8 * PAGE, PROT_READ | PROT_WRITE, ANON | MAP_POPULATE, 0, 0);
  const b = sysMmap(w.mm, 0, 8 * PAGE, PROT_READ | PROT_WRITE, ANON, 0, 0);
  assert.equal(sysMadvise(w.mm, b, 8 * PAGE, MADV_POPULATE_WRITE), 0);
  for (let p = 0; p < 8; p++) {
    w.user.store32(a + p * PAGE, 1);
    w.user.store32(b + p * PAGE, 1);
  }
  assert.equal(w.user.faults, 0);
  w.done();
});

test('file mappings: MAP_PRIVATE writes stay private, MAP_SHARED writes reach the file', () => {
  const w = world();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-'));
  const p = path.join(dir, 'f.bin');
  fs.writeFileSync(p, new Uint8Array(2 * PAGE).fill(7));
  const f = w.mm.addFile({ path: p, dev: '00:00', inode: 1, writable: true, readable: true, size: 2 * PAGE, shmem: false });
  const priv = sysMmap(w.mm, 0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
  const shared = sysMmap(w.mm, 0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
  assert.equal(w.user.load8(priv), 7);
  w.user.store8(priv, 1);
  assert.equal(w.user.load8(shared), 7, 'the private write did not reach the page cache');
  w.user.store8(shared + PAGE, 9);
  assert.equal(w.user.load8(priv + PAGE), 9, 'a private mapping sees shared writes until it writes itself');
  w.pages.pagecache.writeback(f);
  const bytes = fs.readFileSync(p);
  assert.equal(bytes[0], 7);
  assert.equal(bytes[PAGE], 9);
  assert.throws(() => w.user.load8(priv + 2 * PAGE), segv);
  w.done();
});
