/**
 * A simulated machine of N CPUs, built on the checker's scheduler (src/check/sched.ts): the designs' code
 * runs unchanged on real worker threads, one at a time, and every synchronization point goes through here.
 * Each simulated CPU runs one thread and has a virtual clock; the thread whose clock is lowest runs next (a
 * discrete-event order), a thread running on until its clock passes the others' by the quantum (lax
 * synchronisation, which bounds how many hand-overs a run costs; bench:simulate measures its error). A
 * thread's clock advances by:
 *  - the cost of its code between two points (costs.ts: measured alone, then looked up; or, calibrating,
 *    the real time it took);
 *  - for each Atomics operation, the cache-coherence model: a line last written by another CPU costs a
 *    transfer and cannot be had before that write was done (so a thread that ran ahead never sees a write
 *    before it happened); writes and read-modify-writes of one line are serialised, each taking the line from
 *    wherever it was, and on a line that more than one CPU writes, ordered in virtual time even where this
 *    CPU still holds it (a contended lock word); lines only read are shared for free;
 *  - futex calls their system-call cost; a woken thread runs no earlier than its waker's clock plus the
 *    wake-up latency; a timed wait ends at its deadline; a spin turn (cpu_relax) costs its PAUSE, so that a
 *    spin lasts in virtual time what it would alone;
 *  - page zeroing and copying, the memory bandwidth: alone at one CPU's bandwidth, and through one shared
 *    channel at the whole machine's (MemoryChannel: a calendar, which transfers need not reach in virtual
 *    time's order).
 * Plain loads and stores of shared memory are not modelled (the designs publish with Atomics; a lockless
 * reader's plain loads of a tree node cost what they cost alone). Two shared buffers of the same size are
 * one to the coherence model (JavaScript shows no addresses), which can only add transfers.
 */
import { ABORT, ATOMIC_LOAD, CURRENT, futexKey, NOBODY, ScheduleAborted, ScheduleError, ScheduledThread, SchedControl } from '../check/sched.js';
import { atomicKey, CostRecorder, type CostedBy, nameSharedBuffers, CostTable, KEY_RELAX, KEY_START, KEY_WAIT, KEY_WAKE, labelKey, pairKey } from './costs.js';
import type { MachineProfile } from './profile.js';
import { CACHE_LINE } from '../shm/layout.js';

/** Most simulated CPUs (one worker thread each). */
export const MAX_CPUS = 256;

// Int32 words of the machine's state.
const I_THREADS = 0;
const I_EVENT = 1; // the next event's index
const I_EVENTS = 2; // events in all
const I_WAIT_SEQ = 3; // orders futex waiters (woken first come, first served)
const I_SWITCHES = 4; // hand-overs between threads
const I_BEGUN = 5; // threads that have done their first operation
const I_T = 8; // per thread: [state, futex key, woken, wait seq]
const I_WORDS = 4;
/** Per thread, one word it sleeps on until its turn: a hand-over wakes the one thread it goes to, not all. */
const I_TURN = I_T + I_WORDS * MAX_CPUS;
// Float64 words.
const F_QUANTUM = 0;
const F_T = 4; // per thread: [clock ns, deadline ns (-1 none)]
const F_WORDS = 2;
const F_BEGUN = 1; // when the last thread did its first operation, ns (-1: not yet)
const F_EVENTS = F_T + F_WORDS * MAX_CPUS;
const MAX_EVENTS = 64;
const F_AFTER_BEGUN = F_EVENTS + MAX_EVENTS; // the events' times after that instant, ns

const RUNNABLE = 0;
const WAITING = 1; // in futex_wait (its key in the thread's futex word)
const DONE = 2;

// The cache-line table: open addressing on (buffer, line).
const LINE_SLOTS = 1 << 20;
const SHARER_WORDS = MAX_CPUS / 32;
const LINE_PROBES = 32;

export interface SimBuffers {
  state: SharedArrayBuffer;
  clocks: SharedArrayBuffer;
  lineKeys: SharedArrayBuffer;
  lineOwner: SharedArrayBuffer;
  lineSharers: SharedArrayBuffer;
  lineWritten: SharedArrayBuffer;
  /** Per line, 1 once more than one CPU has written it (Uint8). */
  lineWriters: SharedArrayBuffer;
  /** The memory channel's calendar. */
  channel: SharedArrayBuffer;
  /** The code's costs (CostTable), or absent when calibrating on the real clock. */
  costs?: SharedArrayBuffer;
}

/**
 * Made by the controller: the machine's shared state, handed to every worker. CPU i's thread starts at
 * i × startNs, as a benchmark's threads start one after another (will-it-scale creates its tasks in a loop).
 * The events (the lab's phase changes and sample cuts) come `afterBegunNs` after the instant every thread
 * has done its first operation — the crew is then running, as the lab's warm-up starts once every worker
 * runs — or after `limitNs`, if some thread has not by then (one starved of a lock from the start).
 */
export function createMachine(cpus: number, quantumNs: number, startNs: number, afterBegunNs: number[], limitNs: number, costs?: SharedArrayBuffer): SimBuffers {
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) throw new RangeError(`simulate: 1 to ${MAX_CPUS} CPUs`);
  if (afterBegunNs.length > MAX_EVENTS) throw new RangeError(`simulate: at most ${MAX_EVENTS} events`);
  const state = new SharedArrayBuffer(4 * (I_TURN + MAX_CPUS));
  const clocks = new SharedArrayBuffer(8 * (F_AFTER_BEGUN + MAX_EVENTS));
  const i = new Int32Array(state);
  const f = new Float64Array(clocks);
  i[I_THREADS] = cpus;
  i[I_EVENTS] = afterBegunNs.length;
  f[F_QUANTUM] = quantumNs;
  f[F_BEGUN] = -1;
  for (let t = 0; t < cpus; t++) {
    f[F_T + F_WORDS * t] = t * startNs;
    f[F_T + F_WORDS * t + 1] = -1;
  }
  afterBegunNs.forEach((e, k) => {
    f[F_AFTER_BEGUN + k] = e;
    f[F_EVENTS + k] = limitNs + e;
  });
  const lineOwner = new SharedArrayBuffer(4 * LINE_SLOTS);
  new Int32Array(lineOwner).fill(-1);
  return {
    state, clocks, lineOwner,
    lineKeys: new SharedArrayBuffer(8 * LINE_SLOTS),
    lineSharers: new SharedArrayBuffer(4 * SHARER_WORDS * LINE_SLOTS),
    lineWritten: new SharedArrayBuffer(8 * LINE_SLOTS),
    lineWriters: new SharedArrayBuffer(LINE_SLOTS),
    channel: MemoryChannel.buffer(),
    ...(costs ? { costs } : {}),
  };
}

function wakeTurn(s: Int32Array, t: number): void {
  realAtomics.store(s, I_TURN + t, 1);
  realAtomics.notify(s, I_TURN + t, 1);
}

/**
 * The machine's memory channel, shared by every CPU: a calendar of slots of virtual time, each holding what
 * the channel moves in it. A transfer takes the first room at or after its start, so one that a thread ran
 * ahead to (within the quantum) leaves the room before it to the threads behind it: the transfers need not
 * come in virtual time's order, and no thread has to wait for the others' clocks to catch up. Issued in
 * that order, they end as a FIFO queue would end them, within a slot (test/sim-channel.test.ts).
 */
export class MemoryChannel {
  /** A slot's width, ns: the error of an end time. */
  static readonly SLOT_NS = 25;
  /**
   * Slots in the ring, [slot number, bytes moved in it] each (one holding another lap's number is empty).
   * Its window, 6.5 virtual ms, is far longer than any queue a transfer meets (every CPU's page ahead of
   * it); a transfer that would reach past it is not queued further.
   */
  static readonly SLOTS = 1 << 18;
  static buffer(): SharedArrayBuffer {
    return new SharedArrayBuffer(8 * 2 * MemoryChannel.SLOTS);
  }
  private readonly slots: Float64Array;
  private readonly perSlot: number;

  constructor(buffer: SharedArrayBuffer, private readonly bytesPerNs: number) {
    this.slots = new Float64Array(buffer);
    this.perSlot = MemoryChannel.SLOT_NS * bytesPerNs;
  }

  /** Moves `bytes` from virtual time `start` on, ns: when the last of them is through. */
  transfer(start: number, bytes: number): number {
    const { SLOT_NS, SLOTS } = MemoryChannel;
    const ch = this.slots;
    let slot = Math.floor(start / SLOT_NS);
    let left = bytes;
    let end = start;
    for (let n = 0; left > 0; n++, slot++) {
      if (n === SLOTS - 1) return slot * SLOT_NS + left / this.bytesPerNs; // past the window
      const at = 2 * (slot & (SLOTS - 1));
      if (ch[at] !== slot) {
        ch[at] = slot;
        ch[at + 1] = 0;
      }
      // The first slot has room only after the transfer's start.
      const room = Math.min(this.perSlot - ch[at + 1]!, n === 0 ? ((slot + 1) * SLOT_NS - start) * this.bytesPerNs : this.perSlot);
      if (room <= 0) continue;
      const moved = Math.min(room, left);
      ch[at + 1] += moved;
      left -= moved;
      end = slot * SLOT_NS + (ch[at + 1]! / this.perSlot) * SLOT_NS;
    }
    return end;
  }
}

/** Lets CPU 0 start (controller, once every worker waits for its turn). */
export function startMachine(b: SimBuffers, ctl: SchedControl): void {
  ctl.begin(0);
  wakeTurn(new Int32Array(b.state), 0);
}

/** Abandons a run: every thread waiting for its turn throws ScheduleAborted. */
export function abortMachine(b: SimBuffers, ctl: SchedControl): void {
  ctl.abort();
  const s = new Int32Array(b.state);
  for (let t = 0; t < s[I_THREADS]!; t++) realAtomics.notify(s, I_TURN + t);
}

/** When every thread had done its first operation, virtual ns (controller, after the run); -1 if the limit came first. */
export function machineBegunNs(b: SimBuffers): number {
  return new Float64Array(b.clocks)[F_BEGUN]!;
}

/** Hand-overs between threads in the run (controller, after it). */
export function machineSwitches(b: SimBuffers): number {
  return new Int32Array(b.state)[I_SWITCHES]!;
}

/** The real operations: the global Atomics is the scheduler's once it is installed. */
const realAtomics = Atomics;

/** The real clock, ns (the scheduler replaces performance.now with the virtual one). */
const realNs = (() => {
  const now = performance.now.bind(performance);
  return () => now() * 1e6;
})();

/**
 * One simulated CPU and the thread on it. `onEvent(k)` runs (on whichever thread's clock passes it first)
 * at the k-th of the machine's event times: the lab's phase changes and sample cuts. `begun()` says whether
 * this thread has done its first operation (the events count from when every thread has).
 */
export class SimThread extends ScheduledThread {
  private readonly s: Int32Array;
  private readonly f: Float64Array;
  private readonly keys: Int32Array;
  private readonly owner: Int32Array;
  private readonly sharers: Int32Array;
  private readonly written: Float64Array;
  private readonly writers: Uint8Array;
  private readonly channel: MemoryChannel;
  private readonly table: CostTable | null;
  /** On a table: how this thread's segments were costed (CostTable.costedBy). */
  get costedBy(): CostedBy | null {
    return this.table?.costedBy ?? null;
  }
  /** Calibrating: the segments' real times. */
  readonly recorder: CostRecorder | null;
  private readonly threads: number;
  private readonly clockAt: number;
  private readonly quantum: number;
  private readonly transferNs: number;
  private readonly remoteTransferNs: number;
  /** Cores of the simulated machine (its CPUs over threads per core), and cores per socket. */
  private readonly cores: number;
  private readonly perSocket: number;
  private readonly socket: number;
  /** The other CPUs of this CPU's core (SMT siblings), and what this CPU's code costs more while one runs. */
  private readonly siblings: Int32Array;
  private readonly siblingSlowdown: number;
  private readonly bytesPerNsCore: number;
  /** The shared structures' names (nameSharedBuffers), once the thread has attached them. */
  private names = new Map<ArrayBufferLike, number>();
  /** This thread runs on until its clock passes this (the next thread's clock plus the quantum). */
  private horizon = 0;
  private prevKey = KEY_START;
  /** The pair of the segment before (its path is this and the next point). */
  private prevPair = KEY_START;
  private firstTouch = false;
  /** Calibrating: when this thread last left the scheduler, and the memory time since (real ns). */
  private lastEnd = 0;
  private memoryNs = 0;
  private hasBegun = false;

  constructor(ctl: SchedControl, me: number, b: SimBuffers, private readonly p: MachineProfile, private readonly onEvent: (k: number) => void, private readonly begun: () => boolean) {
    super(ctl, me, false);
    this.s = new Int32Array(b.state);
    this.f = new Float64Array(b.clocks);
    this.keys = new Int32Array(b.lineKeys);
    this.owner = new Int32Array(b.lineOwner);
    this.sharers = new Int32Array(b.lineSharers);
    this.written = new Float64Array(b.lineWritten);
    this.writers = new Uint8Array(b.lineWriters);
    this.channel = new MemoryChannel(b.channel, p.memoryBandwidthGBs);
    this.table = b.costs ? new CostTable(b.costs) : null;
    this.recorder = b.costs ? null : new CostRecorder();
    this.threads = this.s[I_THREADS]!;
    this.clockAt = F_T + F_WORDS * me;
    this.quantum = this.f[F_QUANTUM]!;
    this.transferNs = p.lineTransferNs;
    this.remoteTransferNs = p.remoteLineTransferNs;
    // The machine is the profile's, or as many more CPUs as the run simulates, in its shape.
    const perCore = p.threadsPerCore ?? 1;
    this.cores = Math.ceil(Math.max(this.threads, p.cpus) / perCore);
    this.perSocket = Math.max(1, this.cores / p.sockets);
    this.socket = this.socketOf(me);
    const siblings: number[] = [];
    for (let c = me % this.cores; c < this.threads; c += this.cores) if (c !== me) siblings.push(c);
    this.siblings = Int32Array.from(siblings);
    this.siblingSlowdown = 1 / (p.siblingSpeed ?? 1);
    this.bytesPerNsCore = p.coreBandwidthGBs;
  }

  /** Gives the turn to `next` (NOBODY: the run is over): wakes that thread alone. */
  protected override handOver(next: number): void {
    if (realAtomics.compareExchange(this.c, CURRENT, this.me, next) !== this.me) throw new ScheduleAborted('simulate: run abandoned');
    if (next !== NOBODY) wakeTurn(this.s, next);
  }

  private throwIfAbandoned(): void {
    if (realAtomics.load(this.c, CURRENT) === ABORT) throw new ScheduleAborted('simulate: run abandoned');
  }

  /** This thread's virtual clock, ns. */
  get clock(): number {
    return this.f[this.clockAt]!;
  }

  override awaitTurn(): void {
    const s = this.s;
    const at = I_TURN + this.me;
    for (;;) {
      this.throwIfAbandoned();
      if (realAtomics.exchange(s, at, 0) === 1) break;
      realAtomics.wait(s, at, 0, 1000);
    }
    this.horizon = this.nextClock(this.me) + this.quantum;
    if (this.recorder) this.lastEnd = realNs();
  }

  /** Charges the segment that ends at point `key`: its table cost, or (calibrating) the real time it took. */
  private segment(key: number): void {
    let ns: number;
    const pair = pairKey(this.prevKey, key);
    const path = pairKey(this.prevPair, key);
    if (this.table !== null) {
      ns = this.table.cost(path, pair);
      if (this.siblingSlowdown !== 1 && this.siblingRuns()) ns *= this.siblingSlowdown;
    } else {
      ns = realNs() - this.lastEnd;
      // Only warm code is timed: the first event ends the warm-up.
      if (this.f[this.clockAt]! >= this.f[F_EVENTS]!) this.recorder!.record(path, pair, key, ns - this.memoryNs);
      this.memoryNs = 0;
    }
    this.prevKey = key;
    this.prevPair = pair;
    this.f[this.clockAt] += ns;
  }

  /**
   * Whether another thread of this CPU's core is running (not asleep in a futex, or done): then the two
   * share the core's execution units.
   */
  private siblingRuns(): boolean {
    for (let k = 0; k < this.siblings.length; k++) if (this.s[I_T + I_WORDS * this.siblings[k]!] === RUNNABLE) return true;
    return false;
  }

  /** After a point: the events its clock passed, then hands over if another thread's clock is now lower. */
  private yieldPoint(): void {
    this.throwIfAbandoned();
    const clock = this.f[this.clockAt]!;
    const s = this.s;
    if (!this.hasBegun && this.begun()) this.markBegun(clock);
    while (s[I_EVENT]! < s[I_EVENTS]! && clock >= this.f[F_EVENTS + s[I_EVENT]!]!) this.onEvent(s[I_EVENT]!++);
    if (clock > this.horizon) this.reschedule();
    if (this.recorder) this.lastEnd = realNs();
  }

  /** This thread has done its first operation; the last one to sets the events' times from its clock. */
  private markBegun(clock: number): void {
    this.hasBegun = true;
    const s = this.s;
    const f = this.f;
    if (++s[I_BEGUN]! < this.threads || s[I_EVENT] !== 0) return; // not all yet, or the limit came first
    f[F_BEGUN] = clock;
    for (let k = 0; k < s[I_EVENTS]!; k++) f[F_EVENTS + k] = Math.min(f[F_EVENTS + k]!, clock + f[F_AFTER_BEGUN + k]!);
  }

  /** The lowest clock (or deadline) among the threads other than `except` that can run; Infinity if none. */
  private nextClock(except: number): number {
    let best = Infinity;
    for (let t = 0; t < this.threads; t++) {
      if (t === except) continue;
      const at = this.candidate(t);
      if (at < best) best = at;
    }
    return best;
  }

  /** When thread t could run: its clock if runnable, its deadline if in a timed wait, else never. */
  private candidate(t: number): number {
    const st = this.s[I_T + I_WORDS * t]!;
    if (st === RUNNABLE) return this.f[F_T + F_WORDS * t]!;
    if (st === WAITING) {
      const d = this.f[F_T + F_WORDS * t + 1]!;
      return d >= 0 ? d : Infinity;
    }
    return Infinity;
  }

  /** Runs the thread with the lowest clock (this one, if it is). */
  private reschedule(): void {
    const next = this.pickNext();
    if (next === this.me) {
      this.horizon = this.nextClock(this.me) + this.quantum;
      return;
    }
    this.s[I_SWITCHES]!++;
    this.handOver(next);
    this.awaitTurn();
  }

  /** The thread with the lowest clock (a timed waiter whose deadline it is wakes, timed out, then). */
  private pickNext(): number {
    let next = NOBODY;
    let best = Infinity;
    for (let t = 0; t < this.threads; t++) {
      const at = this.candidate(t);
      if (at < best) {
        best = at;
        next = t;
      }
    }
    if (next === NOBODY) throw new ScheduleError(`deadlock: every simulated CPU's thread is asleep with nobody to wake it (${this.describe()})`);
    const b = I_T + I_WORDS * next;
    if (this.s[b] === WAITING) {
      // Its deadline is the earliest thing left to happen: its sleep times out then.
      this.f[F_T + F_WORDS * next] = this.f[F_T + F_WORDS * next + 1]!;
      this.f[F_T + F_WORDS * next + 1] = -1;
      this.s[b] = RUNNABLE;
    }
    return next;
  }

  private describe(): string {
    const names = ['runnable', 'in futex_wait', 'done'];
    return Array.from({ length: this.threads }, (_, t) => `CPU${t} ${names[this.s[I_T + I_WORDS * t]!]}`).join(', ');
  }

  /** Names the shared buffers reachable from `roots` (nameSharedBuffers), which the costs and cache lines are keyed by. */
  nameBuffers(roots: Record<string, unknown>): void {
    this.names = nameSharedBuffers(roots);
  }

  /** A shared buffer's key: its name, or its size where it has none. */
  private bufferKey(buffer: ArrayBufferLike): number {
    return this.names.get(buffer) ?? (Math.imul(buffer.byteLength, 0x9e3779b1) | 1);
  }

  override atomic(op: number, ta: ArrayBufferView, index: number): void {
    const buffer = this.bufferKey(ta.buffer);
    this.segment(atomicKey(op, buffer));
    if (this.table !== null) this.cacheLine(op, buffer, ta, index);
    this.yieldPoint();
  }

  override wrote(): void {}

  /**
   * The coherence model of one Atomics operation on ta[index] (see the file's comment). A hit — a line this
   * CPU holds as the operation needs it — runs on; otherwise the access is ordered in virtual time with the
   * other CPUs' (this thread waits until its clock is the lowest: conservative at communication, lax in
   * between), then pays the transfer, after the line's last write.
   */
  private cacheLine(op: number, buf: number, ta: ArrayBufferView, index: number): void {
    const slot = this.lineSlot(buf, ta, index);
    if (slot < 0 || this.firstTouch) return; // the measured code paid for a first touch; a full table: not modelled
    // A write to a line other CPUs write too is ordered even when this CPU holds the line: a thread that
    // ran ahead would otherwise take and drop a contended lock word over and over as hits, while the CPUs
    // behind it, which would have taken the line in between, have not run yet.
    const ordered = op !== ATOMIC_LOAD && this.writers[slot] === 1;
    if (!ordered && this.hit(slot, op)) return;
    const ahead = this.f[this.clockAt]! > this.nextClock(this.me);
    if (ahead) this.syncToLowest();
    if ((ahead || ordered) && this.hit(slot, op)) return; // another CPU may have taken the line meanwhile
    const me = this.me;
    const sb = SHARER_WORDS * slot;
    const bit = 1 << (me & 31);
    const from = this.owner[slot]!;
    const t = Math.max(this.f[this.clockAt]!, this.written[slot]!) + (from < 0 || this.socketOf(from) === this.socket ? this.transferNs : this.remoteTransferNs);
    if (op === ATOMIC_LOAD) this.sharers[sb + (me >> 5)]! |= bit;
    else {
      // Take the line: every other copy is invalidated.
      if (from >= 0 && from !== me) this.writers[slot] = 1;
      this.owner[slot] = me;
      for (let w = 0; w < SHARER_WORDS; w++) this.sharers[sb + w] = 0;
      this.sharers[sb + (me >> 5)] = bit;
      this.written[slot] = t;
    }
    this.f[this.clockAt] = t;
  }

  /** Linux's numbering: the first thread of each core, socket by socket, then the second threads likewise. */
  private socketOf(cpu: number): number {
    return Math.floor((cpu % this.cores) / this.perSocket) % this.p.sockets;
  }

  /** Whether this CPU holds the line as operation `op` needs it (a copy to read; alone to write); a write marks it. */
  private hit(slot: number, op: number): boolean {
    const me = this.me;
    const sb = SHARER_WORDS * slot;
    const bit = 1 << (me & 31);
    if (op === ATOMIC_LOAD) return (this.sharers[sb + (me >> 5)]! & bit) !== 0;
    if (this.owner[slot] !== me) return false;
    for (let w = 0; w < SHARER_WORDS; w++) if (this.sharers[sb + w] !== (w === me >> 5 ? bit : 0)) return false;
    if (this.written[slot]! < this.f[this.clockAt]!) this.written[slot] = this.f[this.clockAt]!;
    return true;
  }

  /** The line's slot in the table (firstTouch: just made, this CPU has it), or -1 when the table is full. */
  private lineSlot(buf: number, ta: ArrayBufferView, index: number): number {
    this.firstTouch = false;
    const line = Math.floor((ta.byteOffset + index * (ta as Int32Array).BYTES_PER_ELEMENT) / CACHE_LINE);
    const keys = this.keys;
    let h = (Math.imul(buf ^ line, 0x85ebca6b) ^ (line >>> 13)) & (LINE_SLOTS - 1);
    for (let i = 0; i < LINE_PROBES; i++, h = (h + 1) & (LINE_SLOTS - 1)) {
      const k = keys[2 * h]!;
      if (k === buf && keys[2 * h + 1] === line) return h;
      if (k === 0) {
        keys[2 * h] = buf;
        keys[2 * h + 1] = line;
        this.owner[h] = this.me;
        this.sharers[SHARER_WORDS * h + (this.me >> 5)] = 1 << (this.me & 31);
        this.written[h] = this.f[this.clockAt]!;
        this.firstTouch = true;
        return h;
      }
    }
    return -1;
  }

  /** Lets every thread whose clock is lower run first: what this one does next is ordered after theirs. */
  private syncToLowest(): void {
    while (this.f[this.clockAt]! > this.nextClock(this.me)) this.reschedule();
  }

  /**
   * A spin turn: its PAUSE, and the thread runs on. A spinner's looks at a line it holds are hits, so it
   * runs until its clock passes the quantum and the others run; a write by another CPU takes its copy, and
   * its next look is ordered after that write. So a spin bounded by its turns or by time (relax.ts's
   * spinTurn) lasts as long in virtual time as it would alone, give or take a quantum.
   */
  override relax(): void {
    this.segment(KEY_RELAX);
    this.f[this.clockAt] += this.p.relaxNs;
    this.yieldPoint();
  }

  override point(what: string, detail?: string): void {
    this.segment(labelKey(detail ?? what));
    this.yieldPoint();
  }

  override wait(ta: Int32Array, index: number, value: number, timeoutMs: number | undefined): 'ok' | 'not-equal' | 'timed-out' {
    this.segment(KEY_WAIT);
    this.f[this.clockAt] += this.p.futexNs;
    if (realAtomics.load(ta, index) !== value) {
      this.yieldPoint();
      return 'not-equal';
    }
    const b = I_T + I_WORDS * this.me;
    const s = this.s;
    s[b] = WAITING;
    s[b + 1] = futexKey(ta, index);
    s[b + 2] = 0;
    s[b + 3] = s[I_WAIT_SEQ]!++;
    this.f[this.clockAt + 1] = timeoutMs === undefined || timeoutMs === Infinity ? -1 : this.f[this.clockAt]! + timeoutMs * 1e6;
    this.reschedule();
    const woken = s[b + 2] !== 0;
    s[b] = RUNNABLE;
    this.f[this.clockAt + 1] = -1;
    this.yieldPoint();
    return woken ? 'ok' : 'timed-out';
  }

  override notify(ta: Int32Array, index: number, count: number | undefined): number {
    this.segment(KEY_WAKE);
    this.f[this.clockAt] += this.p.futexNs;
    const key = futexKey(ta, index);
    const s = this.s;
    const wakeAt = this.f[this.clockAt]! + this.p.wakeUpNs;
    let left = count === undefined ? Infinity : count;
    let n = 0;
    while (left > 0) {
      // The longest waiter first, as the kernel's futex hash bucket queues them.
      let who = -1;
      for (let t = 0; t < this.threads; t++) {
        const b = I_T + I_WORDS * t;
        if (s[b] === WAITING && s[b + 1] === key && s[b + 2] === 0 && (who < 0 || s[b + 3]! < s[I_T + I_WORDS * who + 3]!)) who = t;
      }
      if (who < 0) break;
        const b = I_T + I_WORDS * who;
      s[b + 2] = 1;
      s[b] = RUNNABLE;
      const at = F_T + F_WORDS * who;
      this.f[at] = Math.max(this.f[at]!, wakeAt);
      this.f[at + 1] = -1;
      if (this.f[at]! + this.quantum < this.horizon) this.horizon = this.f[at]! + this.quantum;
      left--;
      n++;
    }
    this.yieldPoint();
    return n;
  }

  override memoryStart(): number {
    return this.recorder ? realNs() : 0;
  }

  /**
   * Page-sized traffic: calibrating, its real time is kept out of the segment; simulating, the bandwidth
   * model: at one CPU's bandwidth at best, and through the machine's channel.
   */
  override memory(bytes: number, startedAt: number): void {
    if (this.recorder) {
      this.memoryNs += realNs() - startedAt;
      return;
    }
    const start = this.f[this.clockAt]!;
    this.f[this.clockAt] = Math.max(start + bytes / this.bytesPerNsCore, this.channel.transfer(start, bytes));
  }

  override finish(): void {
    this.s[I_T + I_WORDS * this.me] = DONE;
    let anyLeft = false;
    for (let t = 0; t < this.threads; t++) if (this.s[I_T + I_WORDS * t] !== DONE) anyLeft = true;
    this.handOver(anyLeft ? this.pickNext() : NOBODY);
  }

  override now(): number {
    return this.f[this.clockAt]! / 1e6;
  }
}

