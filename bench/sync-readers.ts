// Reader threads for bench/sync: keep RCU or SRCU read sections going while the main thread measures
// grace-period latency. SRCU readers sometimes sleep inside their section, as a fault waiting for I/O does.
import { workerData } from 'node:worker_threads';
import { Rcu, type RcuHandle } from '../src/sync/rcu.js';
import { sleepMs } from '../src/sync/sleep.js';
import { Srcu, type SrcuHandle } from '../src/sync/srcu.js';

const { kind, handle, ctl } = workerData as { kind: 'rcu' | 'srcu'; handle: RcuHandle & SrcuHandle; ctl: SharedArrayBuffer };
const stop = new Int32Array(ctl);
let x = 0;
const work = (n: number) => {
  for (let i = 0; i < n; i++) x = (x * 31 + i) | 0;
};
if (kind === 'srcu') {
  const srcu = Srcu.attach(handle);
  for (let i = 0; Atomics.load(stop, 0) === 0; i++) {
    const idx = srcu.readLock();
    if (i % 50 === 0) sleepMs(0.1, 'bench reader I/O');
    else work(300);
    srcu.readUnlock(idx);
  }
} else {
  const rcu = Rcu.attach(handle);
  rcu.registerThread();
  while (Atomics.load(stop, 0) === 0) {
    rcu.readLock();
    work(300);
    rcu.readUnlock();
    rcu.quiescentState();
  }
  rcu.unregisterThread();
}
Atomics.add(stop, 1, x === 42 ? 0 : 1);
