// One thread of `mmsplit simulate --calibrate` (calibrate.ts): runs its probe and posts the figure.
import { parentPort, workerData } from 'node:worker_threads';
import type { ProbeJob } from './calibrate.js';

const job = workerData as ProbeJob;
const w = new Int32Array(job.sab);
const PAGE = 4096;

function pingPong(mine: number, futex: boolean): number {
  // Word 0 is whose turn it is (0 ping, 1 pong); each side waits for its turn and hands it over.
  let t = 0;
  for (let i = 0; i < job.rounds; i++) {
    if (i === 1 && mine === 0) t = performance.now(); // the first round waits for the other thread to start
    if (futex) while (Atomics.load(w, 0) !== mine) Atomics.wait(w, 0, 1 - mine);
    else while (Atomics.compareExchange(w, 0, mine, mine) !== mine);
    Atomics.store(w, 0, 1 - mine);
    if (futex) Atomics.notify(w, 0);
  }
  return ((performance.now() - t) * 1e6) / (job.rounds - 1) / 2;
}

/**
 * What the designs' code does most: reads and writes of typed arrays in the caches, each index hanging on
 * the last, and a branch on what was read. Steps per ns.
 */
function compute(steps: number): number {
  const a = new Int32Array(16384);
  for (let i = 0; i < a.length; i++) a[i] = Math.imul(i, 0x9e3779b1);
  const t = performance.now();
  let i = 0;
  let sum = 0;
  for (let n = 0; n < steps; n++) {
    const x = a[i]!;
    if ((x & 1) === 0) sum += x;
    a[i] = x ^ n;
    i = (x + n) & 16383;
  }
  return steps / ((performance.now() - t) * 1e6) + (sum === 0.5 ? 1 : 0); // (using sum keeps the loop)
}

let result: number;
switch (job.kind) {
  case 'cas-ping': result = pingPong(0, false); break;
  case 'cas-pong': result = pingPong(1, false); break;
  case 'futex-ping': result = pingPong(0, true); break;
  case 'futex-pong': result = pingPong(1, true); break;
  case 'compute': result = compute(job.rounds); break;
  case 'zero': {
    const bytes = 64 << 20;
    const u8 = new Uint8Array(job.sab, job.slice! * bytes, bytes);
    const zeroPage = new Uint8Array(PAGE);
    const t = performance.now();
    for (let r = 0; r < job.rounds; r++) for (let off = 0; off < bytes; off += PAGE) u8.set(zeroPage, off);
    result = (bytes * job.rounds) / ((performance.now() - t) * 1e6);
    break;
  }
}
parentPort!.postMessage(result);
