import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  downgradeWrite,
  downRead,
  downReadTrylock,
  downWrite,
  downWriteTrylock,
  mutexLock,
  mutexTrylock,
  mutexUnlock,
  rawReadSeqcount,
  Rcu,
  readSeqcountBegin,
  readSeqcountRetry,
  REFCOUNT_SATURATED,
  RefcountError,
  refcountDec,
  refcountDecAndTest,
  refcountInc,
  refcountIncNotZero,
  refcountRead,
  refcountSet,
  rwsemIsLocked,
  rwsemReaders,
  rwsemReadersWaiting,
  rwsemValidateIdle,
  rwsemWritersWaiting,
  setWaitLimit,
  SleepInAtomicError,
  sleepMs,
  spinLock,
  spinTrylock,
  spinUnlock,
  Srcu,
  upRead,
  upWrite,
  writeSeqcountBegin,
  writeSeqcountEnd,
} from '../src/sync/index.js';
import { eventually, onWorker } from './support/threads.js';

// The main thread must never block for good: a lost wake-up throws instead.
setWaitLimit(10_000);

const word = () => new Int32Array(new SharedArrayBuffer(16));

test('spinlock: trylock fails while held; unlocking an unlocked lock throws', () => {
  const w = word();
  spinLock(w, 0);
  assert.equal(spinTrylock(w, 0), false);
  spinUnlock(w, 0);
  assert.equal(spinTrylock(w, 0), true);
  spinUnlock(w, 0);
  assert.throws(() => spinUnlock(w, 0), /unlocked spinlock/);
});

test('mutex: trylock fails while held; a sleeping waiter is woken by unlock', async () => {
  const w = word();
  mutexLock(w, 0);
  assert.equal(mutexTrylock(w, 0), false);
  const { done } = onWorker<number>('const w = new Int32Array(data); sync.mutexLock(w, 0); const v = w[1]; sync.mutexUnlock(w, 0); return v;', w.buffer);
  await eventually(() => Atomics.load(w, 0) === 2, 'the waiter to sleep on the mutex');
  w[1] = 99;
  mutexUnlock(w, 0);
  assert.equal(await done, 99);
  assert.throws(() => mutexUnlock(w, 0), /unlocked mutex/);
});

test('rwsem: readers share, writers exclude, downgrade keeps other writers out', () => {
  const w = word();
  downRead(w, 0);
  assert.equal(downReadTrylock(w, 0), true);
  assert.equal(rwsemReaders(w, 0), 2);
  assert.equal(downWriteTrylock(w, 0), false);
  upRead(w, 0);
  upRead(w, 0);
  assert.equal(rwsemIsLocked(w, 0), false);
  downWrite(w, 0);
  assert.equal(downReadTrylock(w, 0), false);
  assert.equal(downWriteTrylock(w, 0), false);
  downgradeWrite(w, 0);
  assert.equal(rwsemReaders(w, 0), 1);
  assert.equal(downWriteTrylock(w, 0), false);
  assert.equal(downReadTrylock(w, 0), true);
  upRead(w, 0);
  upRead(w, 0);
  rwsemValidateIdle(w, 0);
  assert.throws(() => upRead(w, 0), /not held for read/);
  assert.throws(() => upWrite(w, 0), /not held for write/);
});

test('rwsem: up_write hands the lock to a waiting reader before any writer can take it back', async () => {
  const w = word();
  downWrite(w, 0);
  const { done } = onWorker<string>(
    // The reader keeps the lock until told (w[2]), so that what follows holds however the threads are scheduled.
    'const w = new Int32Array(data); sync.downRead(w, 0); const v = w[1]; Atomics.wait(w, 2, 0); sync.upRead(w, 0); return "read " + v;',
    w.buffer,
  );
  await eventually(() => rwsemReadersWaiting(w, 0) === 1, 'the reader to queue');
  w[1] = 5;
  upWrite(w, 0);
  // As up_write returns — woken or not yet — the reader holds the lock: a writer coming straight back cannot
  // starve it.
  assert.equal(rwsemReaders(w, 0), 1);
  assert.equal(rwsemReadersWaiting(w, 0), 0);
  assert.equal(downWriteTrylock(w, 0), false);
  Atomics.store(w, 2, 1);
  Atomics.notify(w, 2);
  assert.equal(await done, 'read 5');
  rwsemValidateIdle(w, 0);
  // The idle word may carry the hand-over generation: the fast paths still work.
  downWrite(w, 0);
  upWrite(w, 0);
  downRead(w, 0);
  upRead(w, 0);
  rwsemValidateIdle(w, 0);
});

test('rwsem: a waiting writer holds off new readers, then gets the lock when the readers leave', async () => {
  const w = word();
  downRead(w, 0); // the main thread is a reader
  const { done } = onWorker<string>(
    'const w = new Int32Array(data); sync.downWrite(w, 0); const seen = w[1]; sync.upWrite(w, 0); return "wrote after " + seen;',
    w.buffer,
  );
  await eventually(() => rwsemWritersWaiting(w, 0) === 1, 'the writer to queue');
  // Writer starvation is impossible: no new reader gets in while the writer waits.
  assert.equal(downReadTrylock(w, 0), false);
  const late = onWorker<string>(
    'const w = new Int32Array(data); sync.downRead(w, 0); Atomics.store(w, 2, 1); const v = w[1]; sync.upRead(w, 0); return "read " + v;',
    w.buffer,
  );
  // Queued, not inside: a waiting writer holds off new readers. (Not the reader count: a reader's optimistic
  // increment, backed out at once, may be seen in passing.)
  await eventually(() => rwsemReadersWaiting(w, 0) === 1, 'the late reader to queue');
  assert.equal(Atomics.load(w, 2), 0, 'the late reader must wait behind the writer');
  w[1] = 7;
  upRead(w, 0);
  assert.equal(await done, 'wrote after 7');
  assert.equal(await late.done, 'read 7');
  rwsemValidateIdle(w, 0);
});

test('seqcount: retry is needed across a write; a second writer inside is caught', () => {
  const w = word();
  const s0 = readSeqcountBegin(w, 0);
  assert.equal(readSeqcountRetry(w, 0, s0), false);
  writeSeqcountBegin(w, 0);
  assert.equal(rawReadSeqcount(w, 0) & 1, 1);
  assert.equal(readSeqcountRetry(w, 0, s0), true);
  assert.throws(() => writeSeqcountBegin(w, 0), /another writer/);
  w[0] = 1; // undo the failed begin's increment for the rest of the test
  writeSeqcountEnd(w, 0);
  assert.equal(readSeqcountRetry(w, 0, s0), true);
  assert.equal(readSeqcountBegin(w, 0), 2);
  assert.throws(() => writeSeqcountEnd(w, 0), /without write_seqcount_begin/);
});

test('refcount: inc_not_zero never resurrects; dec_and_test says last once; misuse saturates', () => {
  const w = word();
  refcountSet(w, 0, 1);
  assert.equal(refcountIncNotZero(w, 0), true);
  assert.equal(refcountDecAndTest(w, 0), false);
  assert.equal(refcountDecAndTest(w, 0), true);
  assert.equal(refcountIncNotZero(w, 0), false);
  assert.throws(() => refcountDecAndTest(w, 0), (e: Error) => e instanceof RefcountError && /underflow/.test(e.message));
  assert.equal(refcountRead(w, 0), REFCOUNT_SATURATED);
  refcountSet(w, 0, 0);
  assert.throws(() => refcountInc(w, 0), /use-after-free/);
  refcountSet(w, 0, 0x7fffffff);
  assert.throws(() => refcountIncNotZero(w, 0), /saturated/);
  assert.equal(refcountRead(w, 0), REFCOUNT_SATURATED);
  refcountSet(w, 0, 1);
  assert.throws(() => refcountDec(w, 0), /hit 0/);
});

test('rcu: read sections nest; sleeping or synchronizing inside one throws', () => {
  const rcu = Rcu.create();
  assert.throws(() => rcu.readLock(), /not an online RCU reader/);
  rcu.registerThread();
  try {
    rcu.readLock();
    rcu.readLock();
    assert.equal(rcu.readDepth, 2);
    assert.throws(() => sleepMs(1), SleepInAtomicError);
    assert.throws(() => rcu.synchronize(), SleepInAtomicError);
    assert.throws(() => rcu.quiescentState(), SleepInAtomicError);
    assert.throws(() => mutexLock(word(), 0), SleepInAtomicError); // mutex_lock might sleep
    spinLock(word(), 0); // a spinlock is fine inside rcu_read_lock()
    rcu.readUnlock();
    rcu.readUnlock();
    sleepMs(1); // outside a read section sleeping is fine: the thread goes offline meanwhile
    assert.equal(rcu.online, true);
    rcu.quiescentState();
    rcu.synchronize(); // from an online reader: it steps offline while it waits
  } finally {
    rcu.unregisterThread();
  }
  rcu.validate();
});

test('rcu: call_rcu waits for a reader that has not passed a quiescent state', async () => {
  const rcu = Rcu.create();
  const ctl = word();
  const { done } = onWorker<string>(
    `const rcu = sync.Rcu.attach(data.rcu); const ctl = new Int32Array(data.ctl);
     rcu.registerThread(); rcu.readLock();
     Atomics.store(ctl, 0, 1);
     while (Atomics.load(ctl, 1) === 0) {} // inside the read section, busy (no sleeping in RCU)
     rcu.readUnlock(); rcu.quiescentState();
     Atomics.store(ctl, 2, 1);
     while (Atomics.load(ctl, 3) === 0) rcu.quiescentState();
     rcu.unregisterThread(); return 'done';`,
    { rcu: rcu.handle(), ctl: ctl.buffer },
  );
  await eventually(() => Atomics.load(ctl, 0) === 1, 'the reader to enter');
  let ran = 0;
  rcu.callRcu(() => ran++);
  for (let i = 0; i < 100; i++) rcu.processCallbacks();
  assert.equal(ran, 0, 'the callback ran while a pre-existing reader was inside');
  Atomics.store(ctl, 1, 1);
  await eventually(() => Atomics.load(ctl, 2) === 1, 'the reader to leave');
  await eventually(() => rcu.processCallbacks() > 0 || ran > 0, 'the callback to run');
  assert.equal(ran, 1);
  Atomics.store(ctl, 3, 1);
  assert.equal(await done, 'done');
  rcu.validate();
});

test('rcu: a reader asleep outside its read section never holds up synchronize_rcu', async () => {
  const rcu = Rcu.create();
  const ctl = word();
  const { done } = onWorker<string>(
    `const rcu = sync.Rcu.attach(data.rcu); const ctl = new Int32Array(data.ctl);
     rcu.registerThread(); Atomics.store(ctl, 0, 1);
     sync.futexWait(ctl, 1, 0, 'test reader asleep'); // sleeps until the main thread's grace period is over
     rcu.quiescentState(); rcu.unregisterThread(); return 'woke';`,
    { rcu: rcu.handle(), ctl: ctl.buffer },
  );
  await eventually(() => Atomics.load(ctl, 0) === 1, 'the reader to register');
  // The reader passes no quiescent state before it wakes, so only its sleep, which takes it offline, lets
  // this grace period end: were the sleeper online, this would deadlock (and hit the wait limit).
  rcu.synchronize();
  rcu.barrier();
  Atomics.store(ctl, 1, 1);
  Atomics.notify(ctl, 1);
  assert.equal(await done, 'woke');
});

test('srcu: callbacks wait for a reader asleep inside its section; domains are independent', async () => {
  const a = Srcu.create();
  const b = Srcu.create();
  const ctl = word();
  const { done } = onWorker<string>(
    `const a = sync.Srcu.attach(data.a); const ctl = new Int32Array(data.ctl);
     const idx = a.readLock(); Atomics.store(ctl, 0, 1);
     sync.futexWait(ctl, 1, 0, 'srcu reader waiting for I/O'); // readers may sleep inside SRCU
     a.readUnlock(idx); a.unregisterThread(); return 'out';`,
    { a: a.handle(), ctl: ctl.buffer },
  );
  await eventually(() => Atomics.load(ctl, 0) === 1, 'the reader to enter');
  assert.equal(a.readersActive(), 1);
  let ran = 0;
  a.callSrcu(() => ran++);
  for (let i = 0; i < 100; i++) a.processCallbacks();
  assert.equal(ran, 0, 'call_srcu callback ran while an older reader was inside');
  b.synchronize(); // another domain's grace period does not wait for a's reader
  const early = a.startPoll();
  assert.equal(a.pollState(early), false);
  Atomics.store(ctl, 1, 1);
  Atomics.notify(ctl, 1);
  assert.equal(await done, 'out');
  a.barrier();
  assert.equal(ran, 1);
  assert.equal(a.pollState(early), true);
  a.validate();
  b.validate();
});

test('srcu: synchronize_srcu sleeps until a blocked reader leaves', async () => {
  const s = Srcu.create();
  const ctl = word();
  const reader = onWorker<string>(
    `const s = sync.Srcu.attach(data.s); const ctl = new Int32Array(data.ctl);
     const idx = s.readLock(); Atomics.store(ctl, 0, 1);
     sync.futexWait(ctl, 1, 0, 'reader'); Atomics.store(ctl, 2, 1); s.readUnlock(idx); return 'ok';`,
    { s: s.handle(), ctl: ctl.buffer },
  );
  await eventually(() => Atomics.load(ctl, 0) === 1, 'the reader to enter');
  // The synchronizer asks for a grace period, which cannot end while the reader is inside, and says so
  // before it waits for one.
  const syncer = onWorker<number>(
    `const s = sync.Srcu.attach(data.s); const ctl = new Int32Array(data.ctl);
     const cookie = s.startPoll(); Atomics.store(ctl, 3, s.pollState(cookie) ? 2 : 1);
     s.synchronize(); return Atomics.load(ctl, 2);`,
    { s: s.handle(), ctl: ctl.buffer },
  );
  await eventually(() => Atomics.load(ctl, 3) !== 0, 'the synchronizer to start a grace period');
  assert.equal(Atomics.load(ctl, 3), 1, 'a grace period ended with a reader inside');
  Atomics.store(ctl, 1, 1);
  Atomics.notify(ctl, 1);
  assert.equal(await syncer.done, 1, 'synchronize_srcu returned before the reader left');
  assert.equal(await reader.done, 'ok');
  s.validate();
});
