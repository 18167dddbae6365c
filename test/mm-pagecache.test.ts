import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FrameTable, PAGE_SIZE, PG_dirty } from '../src/mm/frames.js';
import { PAGE_WOULD_SLEEP, PageCache, syntheticWord } from '../src/mm/pagecache.js';
import { setWaitLimit } from '../src/sync/sleep.js';
import { onWorker } from './support/threads.js';

setWaitLimit(10_000);

function tmpFile(bytes: Uint8Array): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-'));
  const p = path.join(dir, 'data.bin');
  fs.writeFileSync(p, bytes);
  return p;
}

test('page cache: a miss reads the real file, a hit does not; the tail past EOF reads zero', () => {
  const frames = FrameTable.create({ frames: 64, debug: true });
  const pc = PageCache.create(frames, { pages: 64 });
  const data = new Uint8Array(PAGE_SIZE + 100).map((_, i) => (i * 7) & 255);
  const f = pc.openFile(tmpFile(data));
  assert.equal(pc.fileSize(f), PAGE_SIZE + 100);
  const p1 = pc.findPage(f, 1);
  assert.ok(p1 > 0);
  const bytes = frames.bytes.subarray(p1 * PAGE_SIZE, (p1 + 1) * PAGE_SIZE);
  assert.deepEqual([...bytes.subarray(0, 100)], [...data.subarray(PAGE_SIZE, PAGE_SIZE + 100)]);
  assert.ok(bytes.subarray(100).every((b) => b === 0));
  assert.equal(pc.findPage(f, 1), p1);
  assert.deepEqual(pc.statistics(), { hits: 1, misses: 1, reads: 1, cached: 1 });
  assert.equal(frames.refcount(p1), 3); // the cache's and our two
  frames.putPage(p1);
  frames.putPage(p1);
  pc.putFile(f);
  assert.equal(pc.cachedPages(), 0);
  assert.equal(frames.refcount(p1), 0);
  frames.drainCache();
  frames.validate();
});

test('page cache: a caller that must not sleep gets PAGE_WOULD_SLEEP on a miss', () => {
  const frames = FrameTable.create({ frames: 16 });
  const pc = PageCache.create(frames, { pages: 16 });
  const f = pc.syntheticFile(10 * PAGE_SIZE, 200);
  assert.equal(pc.findPage(f, 3, true), PAGE_WOULD_SLEEP);
  const p = pc.findPage(f, 3);
  assert.equal(new Int32Array(frames.bytes.buffer, p * PAGE_SIZE, 1)[0], syntheticWord(f, 3 * PAGE_SIZE));
  assert.equal(pc.findPage(f, 3, true), p, 'a cached page needs no sleep');
});

test('page cache: dirty pages of MAP_SHARED land in the file on writeback', () => {
  const frames = FrameTable.create({ frames: 16 });
  const pc = PageCache.create(frames, { pages: 16 });
  const file = tmpFile(new Uint8Array(2 * PAGE_SIZE));
  const f = pc.openFile(file);
  const p = pc.findPage(f, 1);
  frames.bytes.set([1, 2, 3], p * PAGE_SIZE + 10);
  frames.setFlags(p, PG_dirty);
  assert.equal(pc.writeback(f), 1);
  assert.equal(pc.writeback(f), 0, 'clean after writeback');
  assert.deepEqual([...fs.readFileSync(file).subarray(PAGE_SIZE + 10, PAGE_SIZE + 13)], [1, 2, 3]);
});

test('page cache: concurrent misses on one page read it once; the others sleep on the page lock', async () => {
  const frames = FrameTable.create({ frames: 64 });
  const pc = PageCache.create(frames, { pages: 64 });
  const f = pc.syntheticFile(64 * PAGE_SIZE, 20_000); // 20 ms per read
  const mm = new URL('../src/mm/', import.meta.url).href;
  const body = `const { FrameTable } = await import('${mm}frames.js'); const { PageCache } = await import('${mm}pagecache.js');
    const frames = FrameTable.attach(data.frames); const pc = PageCache.attach(data.pc, frames);
    const pfns = []; for (let i = 0; i < 4; i++) pfns.push(pc.findPage(data.f, i)); return pfns;`;
  const args = { frames: frames.handle(), pc: pc.handle(), f };
  const [a, b] = await Promise.all([onWorker<number[]>(body, args).done, onWorker<number[]>(body, args).done]);
  assert.deepEqual(a, b, 'both threads got the same frames');
  assert.equal(pc.statistics().reads, 4, 'each page was read once');
});
