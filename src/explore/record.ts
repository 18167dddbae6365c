/**
 * What `mmsplit explore` draws, recorded from the real run: a RunRecorder (check.ts) that the checker's
 * controller calls at every yield point of a replayed schedule, while every worker waits. It reads the
 * address space as the threads left it — the VMA records of the arena (live ones, detached ones waiting for
 * their grace period included), every PTE of the page tables, the frames they map, the mmap_lock word, the
 * PTE locks, RCU's and SRCU's shared words, what waits for a grace period (the deferred-free ring, replaced
 * maple nodes, detached VMAs) — with plain reads or the controller's own (real) Atomics, and
 * writes nothing shared, so the run takes the turns it takes unrecorded.
 *
 * A run has a few thousand steps, most of them loads that change nothing: each distinct snapshot is kept
 * once and every step points at its own.
 */
import type { AddressSpace } from '../designs/address-space.js';
import { designInfo } from '../designs/registry.js';
import type { RunRecorder } from '../check/check.js';
import type { SchedControl } from '../check/sched.js';
import { MapleTree, type MapleNodeView } from '../maple/tree.js';
import { PAGE, PAGE_SIZE, PG_anon } from '../mm/frames.js';
import { _PAGE_DIRTY, _PAGE_PROTNONE, _PAGE_RW, pteMapped, ptePfn } from '../mm/pagetable.js';
import { rwsemReaders, rwsemReadersWaiting, rwsemWritersWaiting, rwsemHeldForWrite } from '../sync/rwsem.js';

/** per-vma-lock-7.0's VM_REFCNT_EXCLUDE_READERS_FLAG: added to vm_refcnt while vma_start_write() waits readers out. */
const EXCLUDE_READERS = 1 << 30;

/** How the recorder follows each per-VMA word a design may have (the others are drawn as numbers only). */
const VMA_LOCK_KINDS: Record<string, 'rwsem' | 'refcount' | 'seqcount'> = { vmLock: 'rwsem', vmRefcnt: 'refcount', vmRefcount: 'refcount', vmSequence: 'seqcount' };

/** One VMA record as it stood. */
export interface VmaState {
  /** The record's index in the VMA arena (a reused record keeps its number). */
  rec: number;
  start: number;
  end: number;
  /** rwxp / rwxs, as /proc/PID/maps prints them. */
  perms: string;
  /** The line /proc/PID/maps would print for it. */
  line: string;
  /** vm_flags. */
  flags: number;
  /** Left the tree (munmap, a merge, a split's old half): waiting for its deferred free. */
  detached: boolean;
  /** Found by a walk of the maple tree (designs whose tree is RCU-safe only; absent otherwise). */
  inTree?: boolean;
  /** The design's per-VMA words (vmSequence, vmRefcount, vmLock, vmLockSeq …), by name. */
  words: Record<string, number>;
  /**
   * Who holds and waits for the VMA's locks, by word (the recorder's, see LockOwners): vmLock (vm_lock, an
   * rwsem), vmRefcnt (7.0's: readers hold a reference; a writer excluding readers waits), vmRefcount (a
   * reference each reader holds), vmSequence (spf's seqcount: the writer inside its write section), and
   * vmLockSeq: write-locked (vm_lock_seq = mm_lock_seq), which the mmap_lock's writer holds.
   */
  locks?: Record<string, LockOwners>;
}

/** One page table's split PTE lock (a spinlock word: 0 free, 1 held, 2 held with waiters that may sleep). */
export interface PtlState {
  /** The address the table starts mapping at (it maps 2 MiB). */
  base: number;
  table: number;
  word: number;
  /** writer: the holder; writersWaiting: threads that marked it contended and wait for it (recorder). */
  who?: LockOwners;
}

/** What waits for a grace period, as shared memory shows it. */
export interface PendingState {
  /**
   * The deferred-free ring (mmu_gather's pages, tlb_remove_table_rcu's tables): its lock held (a push or a
   * drain half done: the counters may disagree with the entries until it lets go), its counters, and the
   * frames and tables among its entries with the oldest and newest grace-period cookies.
   */
  deferred: { locked: boolean; count: number; framesPending: number; frames: number; tables: number; oldestCookie?: number; newestCookie?: number };
  /** Replaced maple nodes marked dead, waiting for their grace period (their records). */
  mapleNodes: number[];
  /** VMA records detached from the tree and not yet freed: each waits for its call_rcu/call_srcu free. */
  vmas: number[];
}

/** One PTE that maps a page. */
export interface PteState {
  addr: number;
  pfn: number;
  present: boolean;
  writable: boolean;
  dirty: boolean;
  /** The table's split PTE lock is held. */
  ptl: boolean;
}

/** The struct page of a frame a PTE maps, and the first byte of its memory (what the scenario wrote there). */
export interface FrameState {
  pfn: number;
  refcount: number;
  mapcount: number;
  anon: boolean;
  byte0: number;
}

export interface Snapshot {
  vmas: VmaState[];
  ptes: PteState[];
  frames: FrameState[];
  framesInUse: number;
  tables: number;
  /** Every PTE table linked in, with its PTE lock. */
  ptls: PtlState[];
  mmapLock: { word: number; readers: number; writer: boolean; readersWaiting: number; writersWaiting: number; who?: LockOwners };
  /** mm_lock_seq and the design's per-mm words. */
  mmWords: Record<string, number>;
  /** threads: per reader slot the thread seen using it (slot 0 is the controller's; -1 not seen yet). */
  rcu: { gp: number; waiters: number; slots: number[]; threads?: number[] };
  /** slots: read sections each per-thread counter slot is inside; threads: as rcu's. */
  srcu: { idx: number; gp: number; gpState: number; readers: number; slots: number[]; threads?: number[] };
  pending: PendingState;
  /**
   * The maple tree's nodes, read from its arena (MapleTree.nodes()); null where they cannot be read whole:
   * the rbtree, or a tree not in RCU mode while the mmap_lock is held for write (a writer may be changing
   * nodes in place).
   */
  tree: MapleNodeView[] | null;
}

/**
 * Who holds the mmap_lock and who waits for it, by thread. The word counts holders and waiters but names
 * none, so the recorder follows it: between two steps one thread ran one Atomics operation, and the change
 * it made to the word says what that thread became — a writer (the writer bit set), a reader (one more
 * reader; one fewer when it lets go or backs out), a waiting reader or writer (one more waiting), or, when a
 * writer lets go and the waiting readers become holders at once (up_write's hand-over), that every waiting
 * reader now holds it. `asleep`: the threads the scheduler has in futex_wait on the word.
 */
export interface LockOwners {
  writer: number[];
  readers: number[];
  readersWaiting: number[];
  writersWaiting: number[];
  asleep: number[];
}

/** One yield point of the run: who reached it, how the schedule saw the threads, and the state then. */
export interface StepRecord {
  step: number;
  /** The thread that reached the point (the one that ran since the step before); -1 for the end of the run. */
  thread: number;
  /** runnable, spinning in cpu_relax(), sleeping in futex_wait, done — per thread. */
  sched: string[];
  /** Index into RunRecording.states. */
  state: number;
}

export interface RunRecording {
  steps: StepRecord[];
  states: Snapshot[];
}

/** The rwsem counts of a lock word, as LockOwners follows them. */
type RwsemView = Pick<Snapshot['mmapLock'], 'word' | 'readers' | 'writer' | 'readersWaiting' | 'writersWaiting'>;

function rwsemView(i32: Int32Array, index: number): RwsemView {
  return { word: i32[index]!, readers: rwsemReaders(i32, index), writer: rwsemHeldForWrite(i32, index), readersWaiting: rwsemReadersWaiting(i32, index), writersWaiting: rwsemWritersWaiting(i32, index) };
}

/**
 * The threads on one lock word, followed from step to step: between two steps one thread `t` ran one
 * Atomics operation, and the change it made to the word says what `t` became (LockOwners). One per word;
 * the kind of word says how to read the change.
 */
class LockFollower {
  private readonly writer = new Set<number>();
  private readonly readers = new Set<number>();
  private readonly readersWaiting = new Set<number>();
  private readonly writersWaiting = new Set<number>();

  constructor(private was: number, private wasRwsem?: RwsemView) {}

  private static moved(set: Set<number>, t: number, d: number): void {
    if (d > 0) set.add(t);
    else if (d < 0) set.delete(t);
  }

  /** An rwsem (the mmap_lock, vm_lock). */
  rwsem(now: RwsemView, t: number): void {
    const was = this.wasRwsem;
    this.wasRwsem = now;
    if (was === undefined || t < 0 || was.word === now.word) return;
    if (was.writer && !now.writer && now.readers > was.readers && now.readersWaiting < was.readersWaiting) {
      // The writer's hand-over: every waiting reader holds the lock now (and the writer too, if it downgraded).
      this.writer.delete(t);
      for (const r of this.readersWaiting) this.readers.add(r);
      this.readersWaiting.clear();
      if (now.readers - was.readers > was.readersWaiting - now.readersWaiting) this.readers.add(t);
    } else {
      LockFollower.moved(this.writer, t, Number(now.writer) - Number(was.writer));
      LockFollower.moved(this.readers, t, now.readers - was.readers); // a downgrade: the writer bit off and one reader more
      LockFollower.moved(this.readersWaiting, t, now.readersWaiting - was.readersWaiting);
      LockFollower.moved(this.writersWaiting, t, now.writersWaiting - was.writersWaiting);
    }
  }

  /**
   * A spinlock (a PTE lock): taken when the word leaves 0 (the taker's cmpxchg, or a woken waiter's xchg
   * to 2), let go when it returns to 0; a thread that turns 1 into 2 has spun out and waits (it sleeps on
   * the word next). A waiter still spinning in cpu_relax() changes nothing, so it is not named until then.
   */
  spin(now: number, t: number): void {
    const was = this.was;
    this.was = now;
    if (t < 0 || was === now) return;
    if (now === 0) this.writer.clear();
    else if (was === 0) {
      this.writer.clear();
      this.writer.add(t);
      this.writersWaiting.delete(t);
    } else if (now === 2 && !this.writer.has(t)) this.writersWaiting.add(t);
  }

  /** A seqcount (spf's vm_sequence): odd while its writer is inside the write section. */
  seqcount(now: number, t: number): void {
    const was = this.was;
    this.was = now;
    if (t < 0 || was === now) return;
    if ((now & 1) === 0) this.writer.clear();
    else if ((was & 1) === 0) this.writer.add(t);
  }

  /**
   * A reference count a reader takes (vm_refcnt, vm_refcount): one more while attached is a reader's
   * reference (0 → 1 is the VMA being attached: no reader); EXCLUDE_READERS added is a
   * writer that waits for the readers to drain (vma_start_write in 7.0), taken off when they have.
   */
  refcount(now: number, t: number): void {
    const was = this.was;
    this.was = now;
    if (t < 0 || was === now) return;
    const flag = (now & EXCLUDE_READERS) - (was & EXCLUDE_READERS);
    if (flag !== 0) LockFollower.moved(this.writersWaiting, t, flag);
    const a = was & ~EXCLUDE_READERS, b = now & ~EXCLUDE_READERS;
    // A reference is taken only while the count is not 0 (refcount_inc_not_zero); any drop lets go of the
    // dropper's, if it held one (a drop by a thread that holds none is the tree's reference going).
    if (b > a && a > 0) this.readers.add(t);
    else if (b < a) this.readers.delete(t);
  }

  owners(asleep: number[], writer?: number[]): LockOwners {
    const list = (x: Set<number>) => [...x].sort((a, b) => a - b);
    return { writer: writer ?? list(this.writer), readers: list(this.readers), readersWaiting: list(this.readersWaiting), writersWaiting: list(this.writersWaiting), asleep };
  }
}

/** Records a run; pass it as `record` to check.ts's replay(). */
export class AddressSpaceRecorder implements RunRecorder {
  readonly steps: StepRecord[] = [];
  readonly states: Snapshot[] = [];
  private readonly seen = new Map<string, number>();
  private walkTree: boolean | undefined;
  private readonly mmapLock = new LockFollower(0);
  /** One per PTE table and per VMA lock word, by key; dropped when its table or record goes. */
  private followers = new Map<string, LockFollower>();
  /** The RCU and SRCU reader slots as they were, and the thread seen changing each (a slot is one thread's). */
  private slotsWas: { rcu?: number[]; srcu?: number[] } = {};
  private readonly slotThreads = { rcu: [] as number[], srcu: [] as number[] };

  step(as: AddressSpace, step: number, thread: number, ctl: SchedControl): void {
    this.add(as, step, thread, ctl);
  }

  end(as: AddressSpace, steps: number, ctl: SchedControl): void {
    this.add(as, steps + 1, -1, ctl);
  }

  recording(): RunRecording {
    return { steps: this.steps, states: this.states };
  }

  private add(as: AddressSpace, step: number, thread: number, ctl: SchedControl): void {
    const snap = snapshot(as, (this.walkTree ??= designInfo(as.designName).lockless === true));
    this.name(snap, as, thread, ctl);
    const key = JSON.stringify(snap);
    let state = this.seen.get(key);
    if (state === undefined) {
      state = this.states.length;
      this.states.push(snap);
      this.seen.set(key, state);
    }
    this.steps.push({ step, thread, sched: ctl.threadStates(), state });
  }

  /** Names the threads on every lock of `snap` and on every reader slot, from what `t` changed since the last step. */
  private name(snap: Snapshot, as: AddressSpace, t: number, ctl: SchedControl): void {
    const { mm, pages } = as;
    this.mmapLock.rwsem(snap.mmapLock, t);
    const writer = this.mmapLock.owners(ctl.sleepersOn(mm.words, mm.mmapLockWord));
    snap.mmapLock.who = writer;
    const live = new Map<string, LockFollower>();
    const follower = (key: string, word: number, rw?: RwsemView) => {
      const f = this.followers.get(key) ?? new LockFollower(word, rw);
      live.set(key, f);
      return f;
    };
    const pt = pages.pt;
    const ptlWord = new Map<number, number>();
    pt.forEachPteTable((_base, table, ptl) => ptlWord.set(table, ptl));
    for (const p of snap.ptls) {
      const f = follower(`ptl ${p.table}`, p.word);
      f.spin(p.word, t);
      p.who = f.owners(ctl.sleepersOn(pt.i32, ptlWord.get(p.table)!));
    }
    const vt = mm.vmas;
    const mmLockSeq = snap.mmWords.mmLockSeq!;
    for (const v of snap.vmas) {
      const locks: Record<string, LockOwners> = {};
      for (const [name, value] of Object.entries(v.words)) {
        const kind = VMA_LOCK_KINDS[name];
        const index = vt.word(v.rec, vt.wordOffset(name));
        const asleep = () => ctl.sleepersOn(vt.i32, index);
        if (name === 'vmLockSeq') {
          // vma_start_write() leaves the VMA write-locked until the mmap_lock's writer lets go (mm_lock_seq moves on).
          if (value === mmLockSeq) locks[name] = { writer: writer.writer, readers: [], readersWaiting: [], writersWaiting: [], asleep: [] };
          continue;
        }
        if (kind === undefined) continue;
        const rw = kind === 'rwsem' ? rwsemView(vt.i32, index) : undefined;
        const f = follower(`vma ${v.rec} ${name}`, value, rw);
        if (rw) f.rwsem(rw, t);
        else if (kind === 'refcount') f.refcount(value, t);
        else f.seqcount(value, t);
        locks[name] = f.owners(asleep());
      }
      if (Object.keys(locks).length) v.locks = locks;
    }
    this.followers = live;
    // A reader slot belongs to the thread that changes it (registers, goes on- or offline, reports a
    // quiescent state, enters or leaves an SRCU read section); slot 0 of RCU is the controller's own.
    const learn = (kind: 'rcu' | 'srcu', now: number[]) => {
      const was = this.slotsWas[kind], who = this.slotThreads[kind];
      now.forEach((c, k) => {
        // A slot claimed since the last step (one more of them) is the claimer's too; at the first step
        // the slots claimed before the run began belong to no thread seen yet.
        if (was !== undefined && t >= 0 && (was[k] ?? 0) !== c) who[k] = t;
        who[k] ??= -1;
      });
      this.slotsWas[kind] = now;
      return who.slice(0, now.length);
    };
    snap.rcu.threads = learn('rcu', snap.rcu.slots);
    snap.srcu.threads = learn('srcu', snap.srcu.slots);
  }
}

/**
 * The address space as it stands, read from the controller while no worker runs. `walkTree`: the maple
 * tree is in RCU mode (copy on write), so a walk sees a consistent tree even in the middle of a writer's
 * operation; otherwise the tree may be half changed in place and only the records are read.
 */
export function snapshot(as: AddressSpace, walkTree: boolean): Snapshot {
  const { mm, pages, rcu, srcu } = as;
  const t = mm.vmas;
  const wordNames = Object.keys(t.words);
  const offsets = wordNames.map((n) => t.wordOffset(n));
  let inTree: Set<number> | undefined;
  if (walkTree) {
    inTree = new Set();
    const seen = inTree;
    mm.tree.forEach((_first, _last, v) => seen.add(v));
  }
  const vmas: VmaState[] = [];
  for (let v = 1; v < t.arena.capacity; v++) {
    if (!t.arena.isLive(v)) continue;
    const line = mm.mapsLine(v);
    const words: Record<string, number> = {};
    wordNames.forEach((n, k) => (words[n] = t.i32[t.word(v, offsets[k]!)]!));
    vmas.push({
      rec: v, start: t.start(v), end: t.end(v), perms: line.split(' ')[1] ?? '', line: line.trimEnd(), flags: t.flags(v),
      detached: t.isDetached(v), ...(inTree ? { inTree: inTree.has(v) } : {}), words,
    });
  }
  vmas.sort((a, b) => a.start - b.start || a.rec - b.rec);
  const pt = pages.pt;
  const fr = pages.frames;
  const ptes: PteState[] = [];
  const pfns = new Set<number>();
  pt.forEachPte((addr, pte) => {
    if (!pteMapped(pte)) return;
    const slot = pt.pteSlot(addr);
    ptes.push({
      addr, pfn: ptePfn(pte), present: (pte & _PAGE_PROTNONE) === 0, writable: (pte & _PAGE_RW) !== 0, dirty: (pte & _PAGE_DIRTY) !== 0,
      ptl: slot >= 0 && pt.i32[pt.ptlOf(slot)] !== 0,
    });
    pfns.add(ptePfn(pte));
  });
  const frames: FrameState[] = [...pfns].sort((a, b) => a - b).map((pfn) => ({
    pfn, refcount: fr.refcount(pfn), mapcount: fr.pageI32[PAGE.i32Base(pfn) + PAGE.i32.mapcount]!, anon: (fr.flags(pfn) & PG_anon) !== 0, byte0: fr.bytes[pfn * PAGE_SIZE]!,
  }));
  const ptls: PtlState[] = [];
  pt.forEachPteTable((base, table, ptl) => ptls.push({ base, table, word: pt.i32[ptl]! }));
  const ring = pages.deferred.peek();
  const cookies = ring.entries.map((e) => e.cookie);
  const pending: PendingState = {
    deferred: {
      locked: ring.locked, count: ring.count, framesPending: ring.framesPending, frames: ring.entries.filter((e) => e.frame !== undefined).length, tables: ring.entries.filter((e) => e.table !== undefined).length,
      ...(cookies.length ? { oldestCookie: cookies[0], newestCookie: cookies[cookies.length - 1] } : {}),
    },
    mapleNodes: mm.tree instanceof MapleTree ? mm.tree.deadNodes() : [],
    vmas: vmas.filter((v) => v.detached).map((v) => v.rec),
  };
  const w = mm.words;
  const lock = mm.mmapLockWord;
  const mmWords: Record<string, number> = { mmLockSeq: w[mm.mmLockSeqWord]! };
  for (const n of Object.keys(mm.mmWords)) mmWords[n] = w[mm.wordIndex(n)]!;
  return {
    vmas, ptes, frames, framesInUse: fr.arena.inUse(), tables: pt.tablesInUse(), ptls,
    mmapLock: { word: w[lock]!, readers: rwsemReaders(w, lock), writer: rwsemHeldForWrite(w, lock), readersWaiting: rwsemReadersWaiting(w, lock), writersWaiting: rwsemWritersWaiting(w, lock) },
    mmWords, rcu: rcu.peekReaders(), srcu: { ...srcu.peekState(), slots: srcu.peekSlots() }, pending,
    tree: mm.tree instanceof MapleTree && (walkTree || !rwsemHeldForWrite(w, lock)) ? mm.tree.nodes() : null,
  };
}
