// The same random mapping calls on an mm whose VMAs live in the maple tree and on one whose VMAs live in
// the pre-6.1 rbtree: every result and the final layout must be the same.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MADV_DONTFORK, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MREMAP_MAYMOVE } from '../src/mm/uapi.js';
import { sysMadvise } from '../src/mm/madvise.js';
import { MmStruct } from '../src/mm/mm.js';
import { sysMmap, sysMunmap } from '../src/mm/mmap.js';
import { sysMprotect } from '../src/mm/mprotect.js';
import { sysMremap } from '../src/mm/mremap.js';
import { Prng } from '../src/util/prng.js';
import { testSeed } from './support/seed.js';

test('maple-tree mm and rbtree mm agree on every call (seeded)', () => {
  const seed = testSeed();
  const rnd = new Prng(seed);
  const mms = [new MmStruct({ mmapBase: 0x7ffff7fff000 }), new MmStruct({ mmapBase: 0x7ffff7fff000, index: 'rbtree' })];
  const base = 0x7ff000000000;
  const calls = process.env.MMSPLIT_LONG ? 50_000 : 4_000;
  for (let i = 0; i < calls; i++) {
    const a = base + rnd.below(512) * 4096;
    const len = (1 + rnd.below(16)) * 4096;
    const k = rnd.below(6);
    const prot = rnd.below(4);
    const r = mms.map((mm) => {
      switch (k) {
        case 0:
          return sysMmap(mm, a, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0, 0);
        case 1:
          return sysMmap(mm, 0, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
        case 2:
          return sysMunmap(mm, a, len);
        case 3:
          return sysMprotect(mm, a, len, prot);
        case 4:
          return sysMremap(mm, a, len, len * 2, MREMAP_MAYMOVE, 0);
        default:
          return sysMadvise(mm, a, len, MADV_DONTFORK);
      }
    });
    assert.equal(r[1], r[0], `seed ${seed} call ${i} (kind ${k}): rbtree mm returned ${r[1]}, maple mm ${r[0]}`);
    if (i % 500 === 0) {
      for (const mm of mms) mm.validate(true);
      assert.equal(mms[1]!.formatMaps(), mms[0]!.formatMaps(), `seed ${seed} after call ${i}`);
    }
  }
  assert.equal(mms[1]!.formatMaps(), mms[0]!.formatMaps(), `seed ${seed}`);
});
