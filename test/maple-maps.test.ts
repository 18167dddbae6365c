import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { MapleTree } from '../src/maple/index.js';
import { mmEntries, parseMaps } from '../src/trace/maps.js';
import { readLiveMaps } from '../src/trace/live-maps.js';
import { Prng } from '../src/util/prng.js';
import { testSeed } from './support/seed.js';
import { RangeModel } from './support/maple-model.js';

const PAGE = 4096;
const FIXTURES = new URL('../../test/fixtures/maps/', import.meta.url);

/** Real address-space layouts: the fixtures, plus this very process's /proc/self/maps. */
function layouts(): Array<{ name: string; text: string }> {
  const out = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.maps'))
    .sort()
    .map((f) => ({ name: f, text: readFileSync(new URL(f, FIXTURES), 'utf8') }));
  try {
    out.push({ name: '/proc/self/maps', text: readLiveMaps('/proc/self/maps') });
  } catch {
    // not Linux: the fixtures still run
  }
  return out;
}

for (const { name, text } of layouts()) {
  test(`real layout ${name}: load, query, mmap/munmap, iterate`, () => {
    const seed = testSeed();
    try {
      const rng = new Prng(seed);
      const vmas = mmEntries(parseMaps(text, name));
      assert.ok(vmas.length > 0);
      const t = new MapleTree({ allocRange: true, capacity: 4096, name });
      const m = new RangeModel();
      // Page-granular keys, as the kernel's mm_mt: [vm_start >> PAGE_SHIFT, (vm_end >> PAGE_SHIFT) - 1].
      vmas.forEach((v, i) => {
        const first = v.start / PAGE;
        const last = v.end / PAGE - 1;
        assert.equal(t.insertRange(first, last, i + 1), 0, `VMA ${i} overlaps`);
        m.store(first, last, i + 1);
      });
      t.validate();
      assert.equal(t.size, vmas.length);
      // Every VMA found at its first, last and a random page; the page just below a VMA is found only if
      // the previous VMA ends there.
      vmas.forEach((v, i) => {
        const first = v.start / PAGE;
        const last = v.end / PAGE - 1;
        assert.equal(t.load(first), i + 1);
        assert.equal(t.load(last), i + 1);
        assert.equal(t.load(rng.int(first, last)), i + 1);
        assert.equal(t.load(first - 1), m.load(first - 1));
        assert.deepEqual(t.find(first - 1), m.find(first - 1, Number.MAX_SAFE_INTEGER));
        assert.deepEqual(t.findRev(last + 1), m.findRev(last + 1, 0));
      });
      // find_vma on random addresses, anywhere in the user address space
      for (let k = 0; k < 2000; k++) {
        const page = rng.below(2 ** 35);
        assert.deepEqual(t.find(page), m.find(page, Number.MAX_SAFE_INTEGER));
      }
      // mmap top-down below the stack (emptyAreaRev + storeRange) and munmap (erase), against the model
      const top = vmas[vmas.length - 1]!.start / PAGE - 1;
      const live: number[] = [];
      for (let k = 0; k < 3000; k++) {
        if (live.length > 0 && rng.chance(0.45)) {
          const at = live.splice(rng.below(live.length), 1)[0]!;
          assert.equal(t.erase(at), m.erase(at));
        } else {
          const pages = rng.chance(0.8) ? 1 + rng.below(16) : 1 + rng.below(4096);
          const s = t.emptyAreaRev(0x10, top, pages);
          assert.equal(s, m.emptyAreaRev(0x10, top, pages));
          t.storeRange(s, s + pages - 1, 100_000 + k);
          m.store(s, s + pages - 1, 100_000 + k);
          live.push(s);
        }
        if (k % 500 === 0) t.validate();
      }
      t.validate();
      assert.deepEqual([...t.entries()], m.entries());
    } catch (e) {
      (e as Error).message = `MMSPLIT_SEED=${seed}: ${(e as Error).message}`;
      throw e;
    }
  });
}
