import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Arena, ArenaError, defineLayout, POISON_INUSE, POISON_WORD } from '../src/shm/index.js';
import { BufferSet, sharedBuffer } from '../src/shm/buffers.js';
import { Prng } from '../src/util/prng.js';
import { testSeed } from './support/seed.js';

test('defineLayout places f64 fields first, then i32 fields, 8-byte aligned', () => {
  const L = defineLayout({ f64: ['start', 'end'], i32: ['lock', 'slots[3]', 'flags'] });
  assert.equal(L.f64.start, 0);
  assert.equal(L.f64.end, 1);
  assert.equal(L.i32.lock, 4); // past two doubles = four int32 words
  assert.equal(L.i32.slots, 5);
  assert.equal(L.i32.flags, 8);
  assert.equal(L.stride % 8, 0);
  assert.equal(L.stride, 40);
  assert.equal(L.i32Base(3), 30);
  assert.equal(L.f64Base(3), 15);
  assert.throws(() => defineLayout({ i32: ['a', 'a'] }), /duplicate/);
  assert.throws(() => defineLayout({ i32: ['bad name'] }), /bad record field/);
  const lined = defineLayout({ f64: ['start', 'end'], i32: ['lock', 'slots[3]', 'flags'], align: 64 });
  assert.equal(lined.stride, 64, 'a record a cache line: the next one starts on the next line');
  assert.equal(lined.i32.flags, 8, 'the fields stay where they were');
  assert.equal(lined.f64Base(3), 24);
  assert.equal(defineLayout({ i32: ['entry[17]'], align: 64 }).stride, 128);
  assert.throws(() => defineLayout({ i32: ['a'], align: 48 }), /alignment 48: a power of two/);
});

test('arena: index 0 is never handed out; alloc returns -1 when full', () => {
  const a = Arena.create({ name: 'test', capacity: 70, stride: 8 });
  const got = new Set<number>();
  for (let i = 0; i < 69; i++) {
    const r = a.alloc();
    assert.ok(r > 0 && r < 70 && !got.has(r), `fresh record ${r}`);
    got.add(r);
  }
  assert.equal(a.alloc(), -1);
  assert.equal(a.inUse(), 69);
  a.free(5);
  assert.equal(a.alloc(), 5);
  a.validate();
});

test('arena: differential against a Set model (seeded)', () => {
  const seed = testSeed();
  const rnd = new Prng(seed);
  const cap = 300;
  const a = Arena.create({ name: 'diff', capacity: cap, stride: 16, debug: true });
  const model = new Set<number>();
  /** Records of allocBulk batches not handed out yet: what a per-thread cache holds. */
  const cached: number[] = [];
  const bulk = new Int32Array(32);
  for (let step = 0; step < 20_000; step++) {
    if (cached.length > 0 && rnd.chance(0.05)) {
      // freeBulk: some of the cached records back at once (a drain), or one handed out.
      if (rnd.chance(0.5)) {
        const n = 1 + rnd.below(cached.length);
        const batch = Int32Array.from(cached.splice(cached.length - n, n));
        a.freeBulk(batch, 0, n);
        for (const r of batch) model.delete(r);
      } else {
        const r = a.handOut(cached.pop()!);
        assert.equal(a.u8[r * 16], POISON_INUSE, `seed ${seed}: a record handed out is poisoned in use`);
      }
      continue;
    }
    if (model.size > 0 && (rnd.chance(0.45) || model.size === cap - 1)) {
      const victims = [...model].filter((r) => !cached.includes(r));
      if (victims.length === 0) continue;
      const r = victims[rnd.below(victims.length)]!;
      a.free(r);
      model.delete(r);
    } else {
      if (rnd.chance(0.1)) {
        // allocBulk: up to `max` fresh records, ascending, all from one bitmap word.
        const max = 1 + rnd.below(32);
        const n = a.allocBulk(bulk, max);
        if (model.size === cap - 1) assert.equal(n, 0, `seed ${seed}: full arena must give none`);
        else assert.ok(n >= 1 && n <= max, `seed ${seed} step ${step}: allocBulk gave ${n} of ${max}`);
        for (let i = 0; i < n; i++) {
          const r = bulk[i]!;
          assert.ok(r > 0 && r < cap && !model.has(r), `seed ${seed} step ${step}: allocBulk gave ${r}`);
          assert.ok(i === 0 || (r > bulk[i - 1]! && r >> 5 === bulk[0]! >> 5), `seed ${seed}: one word, ascending`);
          assert.ok(a.isPoisoned(r), `seed ${seed}: a cached record keeps its free poison until handed out`);
          model.add(r);
          cached.push(r);
        }
        continue;
      }
      const r = rnd.chance(0.1) ? a.zalloc() : a.alloc();
      if (model.size === cap - 1) assert.equal(r, -1, `seed ${seed}: full arena must fail`);
      else {
        assert.ok(r > 0 && !model.has(r), `seed ${seed} step ${step}: alloc gave ${r}`);
        model.add(r);
      }
    }
    if (step % 1000 === 0) {
      a.validate();
      assert.equal(a.inUse(), model.size, `seed ${seed}`);
    }
  }
});

test('arena: double free and invalid free throw', () => {
  const a = Arena.create({ name: 'df', capacity: 8, stride: 8 });
  const r = a.alloc();
  a.free(r);
  assert.throws(() => a.free(r), (e: Error) => e instanceof ArenaError && /double free of record/.test(e.message));
  assert.throws(() => a.free(0), /invalid record/);
  assert.throws(() => a.free(8), /invalid record/);
});

test('arena: freeBulk frees a batch with one atomic a bitmap word, and finds a double free in it', () => {
  const a = Arena.create({ name: 'frames', capacity: 100, stride: 8, debug: true });
  const batch = new Int32Array(32);
  const n = a.allocBulk(batch, 16);
  assert.equal(n, 16);
  a.freeBulk(batch, 0, n);
  assert.equal(a.inUse(), 0);
  a.validate();
  assert.throws(() => a.freeBulk(batch, 0, 1), (e: Error) => e instanceof ArenaError && /double free of record/.test(e.message));
  const m = a.allocBulk(batch, 4);
  batch[m] = batch[0]!; // the same record twice in one batch
  assert.throws(() => a.freeBulk(batch, 0, m + 1), /double free of record/);
  assert.throws(() => a.freeBulk(Int32Array.of(0), 0, 1), /invalid record/);
});

test('arena debug mode: a record of an allocBulk batch written before it is handed out is caught when it is, or by validate once freed', () => {
  const a = Arena.create({ name: 'frames', capacity: 64, stride: 16, debug: true });
  const batch = new Int32Array(32);
  const n = a.allocBulk(batch, 4);
  const [r, s] = [batch[0]!, batch[1]!];
  a.i32[r * 4 + 2] = 9; // a stale reference writes into a page on a per-cpu list
  assert.throws(() => a.handOut(r), /frames: record \d+ was written after it was freed/);
  a.i32[s * 4] = 1;
  a.freeBulk(batch, 1, n);
  assert.throws(() => a.validate(), /lost its poison/);
});

test('arena debug mode: freed records are poisoned, writes after free are caught on reuse', () => {
  const a = Arena.create({ name: 'vm_area_struct', capacity: 2, stride: 16, debug: true });
  const r = a.alloc();
  a.i32[r * 4] = 42;
  a.free(r);
  assert.ok(a.isPoisoned(r));
  assert.equal(a.i32[r * 4], POISON_WORD);
  a.i32[r * 4 + 1] = 7; // a stale reference writes into the freed record
  assert.throws(() => a.validate(), /lost its poison/);
  assert.throws(() => a.alloc(), /vm_area_struct: record 1 was written after it was freed/);
});

test('arena, SLAB_TYPESAFE_BY_RCU: the listed words keep their value across free and reuse, the rest is poisoned, the last freed record comes back first', () => {
  const a = Arena.create({ name: 'vm_area_struct', capacity: 64, stride: 16, debug: true, typesafeWords: [1] });
  const h = Arena.attach(a.handle());
  assert.deepEqual(h.typesafeWords, [1], 'the mode travels with the handle');
  const r = a.alloc();
  a.alloc(); // another record in use: the next allocation would not come back to r by itself
  a.i32[r * 4] = 42;
  a.i32[r * 4 + 1] = 0; // a reference count, dropped to 0 before the free
  a.free(r);
  assert.equal(a.i32[r * 4], POISON_WORD);
  assert.equal(a.i32[r * 4 + 1], 0, 'the type-safe word is never poisoned: a reader pinning it reads 0');
  assert.ok(a.isPoisoned(r));
  a.validate();
  assert.equal(a.alloc(), r, 'reused at once (SLUB\'s per-CPU freelist)');
  assert.equal(a.i32[r * 4 + 1], 0, 'nor filled with the in-use poison');
});

test('arena: generations catch use after free of a stale reference', () => {
  const a = Arena.create({ name: 'gen', capacity: 4, stride: 8 });
  const r = a.alloc();
  const g = a.generation(r);
  assert.equal(g & 1, 1);
  a.assertLive(r, g);
  a.free(r);
  assert.throws(() => a.assertLive(r, g), /use after free/);
  const again = a.alloc();
  assert.equal(again, r);
  assert.throws(() => a.assertLive(r, g), /generation/); // same index, new allocation
  a.assertLive(r, a.generation(r));
});

test('arena: a worker attaches by handle and sees the same records', async () => {
  const { onWorker } = await import('./support/threads.js');
  const a = Arena.create({ name: 'shared', capacity: 64, stride: 8 });
  const r = a.alloc();
  a.i32[r * 2] = 1234;
  const { done } = onWorker<number>(
    `const a = shm.Arena.attach(data); const mine = a.alloc(); a.i32[mine * 2] = a.i32[${r} * 2] + 1; return mine;`,
    a.handle(),
  );
  const theirs = await done;
  assert.notEqual(theirs, r);
  assert.equal(a.i32[theirs * 2], 1235);
  assert.equal(a.inUse(), 2);
});

test('arena: a released arena backs the next populated one, zeroed, or poisoned in full in debug mode', () => {
  const a = Arena.create({ name: 'big', capacity: 64, stride: 4096, populate: true });
  for (let r = 1; r < 64; r++) assert.ok(a.alloc() > 0);
  a.u8.fill(0xa5);
  a.release();
  assert.throws(() => a.release(), /released twice/);
  // a smaller arena takes the larger buffer: it sees only its own records, all zero, as new memory reads
  const b = Arena.create({ name: 'small', capacity: 16, stride: 4096, populate: true });
  assert.equal(b.data, a.data);
  assert.equal(b.u8.length, 16 * 4096);
  assert.ok(b.u8.every((x) => x === 0));
  for (let r = 1; r < 16; r++) assert.ok(b.alloc() > 0);
  assert.equal(b.alloc(), -1, 'capacity is the arena\'s, not the buffer\'s');
  // taken once: the next populated arena gets new memory, as does any arena not populated
  assert.notEqual(Arena.create({ name: 'c', capacity: 16, stride: 4096, populate: true }).data, a.data);
  b.release();
  assert.notEqual(Arena.create({ name: 'd', capacity: 16, stride: 4096 }).data, a.data);
  // a populated debug arena takes it too, every record poisoned over what was there
  b.u8.fill(0x11);
  const e = Arena.create({ name: 'e', capacity: 16, stride: 4096, debug: true, populate: true });
  assert.equal(e.data, a.data);
  for (let r = 1; r < 16; r++) assert.ok(e.isPoisoned(r), `record ${r} poisoned`);
  e.validate();
  assert.ok(e.alloc() > 0, 'a recycled record passes the poison check of alloc');
  e.release();
  // too small a spare is not used
  assert.notEqual(Arena.create({ name: 'f', capacity: 128, stride: 4096, populate: true }).data, a.data);
});

test('BufferSet: inside reuse() the n-th buffer asked for is the last run\'s n-th (or a larger one, where the caller takes it), zeroed unless the caller overwrites it', () => {
  const set = new BufferSet();
  const first = set.reuse(() => [sharedBuffer(64), sharedBuffer(4096, { overwritten: true }), sharedBuffer(10), sharedBuffer(256, { larger: true })]);
  for (const b of first) new Uint8Array(b).fill(7);
  const again = set.reuse(() => [sharedBuffer(64), sharedBuffer(4096, { overwritten: true }), sharedBuffer(12), sharedBuffer(128, { larger: true })]);
  assert.equal(again[0], first[0]);
  assert.ok(new Uint8Array(again[0]!).every((x) => x === 0), 'zeroed as new memory is');
  assert.equal(again[1], first[1], 'overwritten by the caller: handed back as it is');
  assert.notEqual(again[2], first[2], 'another size: a new buffer');
  assert.equal(again[3], first[3], 'a caller that takes a larger buffer gets the last one');
  const larger = new Uint8Array(again[3]!);
  assert.ok(larger.subarray(0, 128).every((x) => x === 0) && larger[128] === 7, 'only the bytes asked for are zeroed');
  assert.notEqual(set.reuse(() => [sharedBuffer(64), sharedBuffer(4096), sharedBuffer(12), sharedBuffer(512, { larger: true })])[3], first[3], 'too small: a new one');
  assert.notEqual(sharedBuffer(64), first[0], 'outside reuse(): new buffers');
  assert.throws(() => set.reuse(() => set.reuse(() => 0)), /already inside/);
});

test('arena: one byte written into a freed record is found, wherever it is in the record', () => {
  const a = Arena.create({ name: 'p', capacity: 4, stride: 4096, debug: true });
  for (const at of [0, 1, 7, 8, 2047, 4095]) {
    a.u8[4096 * 2 + at] ^= 1;
    assert.ok(!a.isPoisoned(2), `byte ${at}`);
    assert.throws(() => a.validate(), /lost its poison/);
    a.u8[4096 * 2 + at] ^= 1;
    assert.ok(a.isPoisoned(2));
  }
});

test('arena: without Node\'s Buffer (another runtime) the poison is compared in JavaScript, and a byte written after free is still found', () => {
  // The arena compares poison with memcmp where globalThis.Buffer is there: run it where it is not.
  const arena = new URL('../src/shm/arena.js', import.meta.url).href;
  const program = `delete globalThis.Buffer;
    const { Arena } = await import(${JSON.stringify(arena)});
    const a = Arena.create({ name: 'p', capacity: 4, stride: 4096, debug: true });
    const found = [];
    for (const at of [0, 7, 4095]) {
      a.u8[4096 * 2 + at] ^= 1;
      try { a.validate(); } catch (e) { found.push(/lost its poison/.test(e.message) && !a.isPoisoned(2)); }
      a.u8[4096 * 2 + at] ^= 1;
    }
    a.validate();
    const r = a.alloc();
    a.free(r);
    console.log(JSON.stringify({ found, poisoned: a.isPoisoned(r) }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { found: [true, true, true], poisoned: true });
});

test('arena: validate finds the one free record that lost its poison among runs of free records compared at once (seeded)', () => {
  const seed = testSeed();
  const rnd = new Prng(seed);
  // 64-byte records, 3,000 of them: runs of free records longer than one comparison (64 KiB).
  const a = Arena.create({ name: 'small', capacity: 3000, stride: 64, debug: true });
  const live = new Set<number>();
  for (let i = 0; i < 40; i++) {
    const r = a.alloc();
    a.u8.fill(9, r * 64, r * 64 + 64); // a live record's bytes are its own
    live.add(r);
  }
  a.validate();
  for (let round = 0; round < 30; round++) {
    let rec: number;
    do rec = 1 + rnd.below(2999);
    while (live.has(rec));
    const at = rec * 64 + rnd.below(64);
    a.u8[at] ^= 0x10;
    assert.throws(() => a.validate(), new RegExp(`free record ${rec} lost its poison`), `seed ${seed}: record ${rec}`);
    a.u8[at] ^= 0x10;
  }
  a.validate();
});

test('BufferSet.retire: a debug arena made again over a retired buffer is byte for byte a new one, poisoning only what was live; a lost poison is found, and nothing is trusted without retire', () => {
  const opts = { name: 'r', capacity: 8, stride: 64, debug: true } as const;
  const fresh = Arena.create(opts);
  const set = new BufferSet();
  const a = set.reuse(() => Arena.create(opts));
  const [r1, r2, r3] = [a.alloc(), a.alloc(), a.alloc()];
  for (const r of [r1!, r2!, r3!]) a.u8.fill(0x33, r * 64, r * 64 + 64);
  a.free(r2!);
  set.retire();
  const b = set.reuse(() => Arena.create(opts));
  assert.equal(b.data, a.data, 'the same buffer');
  assert.deepEqual(b.u8, fresh.u8, 'as a new arena: record 0 zero, every other record poisoned — the live ones too');
  assert.equal(b.alloc(), fresh.alloc(), 'and allocates as a new one does');

  // A byte written into a free record after its free: retire() finds it, and the next arena is poisoned anew.
  b.u8[5 * 64 + 3] = 1;
  assert.throws(() => set.retire(), /free record 5 lost its poison/);
  const c = set.reuse(() => Arena.create(opts));
  assert.deepEqual(c.u8, Arena.create(opts).u8);

  // Not retired (the run failed before it): whatever the buffer holds, everything is poisoned again.
  c.u8[6 * 64] = 1;
  const d = set.reuse(() => Arena.create(opts));
  assert.deepEqual(d.u8, Arena.create(opts).u8);
  set.retire();
  // Another geometry over the same (larger) buffer takes nothing from the last one's retire().
  const e = set.reuse(() => Arena.create({ ...opts, capacity: 4 }));
  assert.deepEqual(e.u8, Arena.create({ ...opts, capacity: 4 }).u8);
});
