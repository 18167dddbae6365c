// The simulated machine's memory channel (sim/machine.ts MemoryChannel) against a FIFO queue, the simple
// model: transfers issued in virtual time's order end when a FIFO channel of the same bandwidth ends them,
// within a slot; issued out of order (threads up to a quantum apart), the channel still moves no more than
// its bandwidth, and a transfer never ends before its bytes could pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryChannel } from '../src/sim/machine.js';
import { Prng } from '../src/util/prng.js';

const SEED = 20261207;
const GBS = 20; // bytes per ns
const PAGE = 4096;

test(`sim channel: in virtual time's order, a FIFO queue's end times within a slot (seed ${SEED})`, () => {
  const rnd = new Prng(SEED);
  const ch = new MemoryChannel(MemoryChannel.buffer(), GBS);
  let free = 0;
  let t = 0;
  for (let i = 0; i < 20_000; i++) {
    // bursts (a queue builds) and gaps (it drains)
    t += rnd.below(10) < 8 ? rnd.below(150) : rnd.below(5_000);
    const bytes = PAGE * (1 + rnd.below(2));
    free = Math.max(free, t) + bytes / GBS;
    const end = ch.transfer(t, bytes);
    assert.ok(Math.abs(end - free) <= MemoryChannel.SLOT_NS, `transfer ${i} at ${t} ns: ${end} against FIFO ${free}`);
  }
});

test(`sim channel: out of order, no more than the bandwidth moves, and nothing ends before it could (seed ${SEED + 1})`, () => {
  const rnd = new Prng(SEED + 1);
  const ch = new MemoryChannel(MemoryChannel.buffer(), GBS);
  const QUANTUM = 1_000;
  let base = 0;
  const done: [number, number][] = [];
  for (let i = 0; i < 20_000; i++) {
    base += rnd.below(40);
    const start = base + rnd.below(QUANTUM); // a thread up to a quantum ahead of the lowest clock
    const end = ch.transfer(start, PAGE);
    assert.ok(end >= start + PAGE / GBS - MemoryChannel.SLOT_NS, `transfer ${i} at ${start} ended at ${end}`);
    done.push([start, end]);
  }
  // Whatever window of time one looks at, what ended in it started no earlier and fits its bandwidth.
  for (let k = 0; k < 200; k++) {
    const from = rnd.below(base);
    const to = from + 1 + rnd.below(20_000);
    const moved = done.filter(([s, e]) => s >= from && e <= to).length * PAGE;
    assert.ok(moved <= (to - from + 2 * MemoryChannel.SLOT_NS) * GBS, `${moved} bytes in [${from}, ${to}] ns`);
  }
  // Saturated (a page every 40 ns or less against 205 ns of channel a page), it moves at its bandwidth.
  const last = Math.max(...done.map(([, e]) => e));
  assert.ok(last >= (done.length * PAGE) / GBS, 'no more than the bandwidth');
});
