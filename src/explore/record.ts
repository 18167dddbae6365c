/**
 * What `mmsplit explore` draws, recorded from the real run: a RunRecorder (check.ts) that the checker's
 * controller calls at every yield point of a replayed schedule, while every worker waits. It reads the
 * address space as the threads left it — the VMA records of the arena (live ones, detached ones waiting for
 * their grace period included), every PTE of the page tables, the frames they map, the mmap_lock word, the
 * PTE locks, RCU's and SRCU's shared words — with plain reads or the controller's own (real) Atomics, and
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
  mmapLock: { word: number; readers: number; writer: boolean; readersWaiting: number; writersWaiting: number; who?: LockOwners };
  /** mm_lock_seq and the design's per-mm words. */
  mmWords: Record<string, number>;
  rcu: { gp: number; waiters: number; slots: number[] };
  srcu: { idx: number; gp: number; gpState: number; readers: number };
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

/** Records a run; pass it as `record` to check.ts's replay(). */
export class AddressSpaceRecorder implements RunRecorder {
  readonly steps: StepRecord[] = [];
  readonly states: Snapshot[] = [];
  private readonly seen = new Map<string, number>();
  private walkTree: boolean | undefined;
  private lockWas: Snapshot['mmapLock'] | undefined;
  private readonly owners = { writer: new Set<number>(), readers: new Set<number>(), readersWaiting: new Set<number>(), writersWaiting: new Set<number>() };

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
    snap.mmapLock.who = this.follow(snap.mmapLock, thread, ctl.sleepersOn(as.mm.words, as.mm.mmapLockWord));
    const key = JSON.stringify(snap);
    let state = this.seen.get(key);
    if (state === undefined) {
      state = this.states.length;
      this.states.push(snap);
      this.seen.set(key, state);
    }
    this.steps.push({ step, thread, sched: ctl.threadStates(), state });
  }

  /** What thread `t`'s operation since the last step did to the mmap_lock (LockOwners). */
  private follow(now: Snapshot['mmapLock'], t: number, asleep: number[]): LockOwners {
    const was = this.lockWas, o = this.owners;
    this.lockWas = now;
    if (was !== undefined && t >= 0 && was.word !== now.word) {
      const moved = (set: Set<number>, d: number) => { if (d > 0) set.add(t); else if (d < 0) set.delete(t); };
      if (was.writer && !now.writer && now.readers > was.readers && now.readersWaiting < was.readersWaiting) {
        // The writer's hand-over: every waiting reader holds the lock now (and the writer too, if it downgraded).
        o.writer.delete(t);
        for (const r of o.readersWaiting) o.readers.add(r);
        o.readersWaiting.clear();
        if (now.readers - was.readers > was.readersWaiting - now.readersWaiting) o.readers.add(t);
      } else {
        moved(o.writer, Number(now.writer) - Number(was.writer));
        moved(o.readers, now.readers - was.readers); // a downgrade: the writer bit off and one reader more
        moved(o.readersWaiting, now.readersWaiting - was.readersWaiting);
        moved(o.writersWaiting, now.writersWaiting - was.writersWaiting);
      }
    }
    const list = (s: Set<number>) => [...s].sort((a, b) => a - b);
    return { writer: list(o.writer), readers: list(o.readers), readersWaiting: list(o.readersWaiting), writersWaiting: list(o.writersWaiting), asleep };
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
  const w = mm.words;
  const lock = mm.mmapLockWord;
  const mmWords: Record<string, number> = { mmLockSeq: w[mm.mmLockSeqWord]! };
  for (const n of Object.keys(mm.mmWords)) mmWords[n] = w[mm.wordIndex(n)]!;
  return {
    vmas, ptes, frames, framesInUse: fr.arena.inUse(), tables: pt.tablesInUse(),
    mmapLock: { word: w[lock]!, readers: rwsemReaders(w, lock), writer: rwsemHeldForWrite(w, lock), readersWaiting: rwsemReadersWaiting(w, lock), writersWaiting: rwsemWritersWaiting(w, lock) },
    mmWords, rcu: rcu.peekReaders(), srcu: srcu.peekState(),
    tree: mm.tree instanceof MapleTree && (walkTree || !rwsemHeldForWrite(w, lock)) ? mm.tree.nodes() : null,
  };
}
