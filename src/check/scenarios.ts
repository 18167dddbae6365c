/**
 * The checker's scenarios: each one a small race the thread worries about, between two threads of one
 * address space — a fault against the call that changes its VMA, two faults on one page-table page, two
 * munmaps, a page-table free against a speculative walk. The controller sets the address space up
 * (setup), each worker thread runs its role under the scheduler, and check() looks at the outcome: what
 * every fault returned against what the memory holds. The invariants every run must keep whatever the
 * scenario (PTEs inside VMAs that allow them, no use of freed records, balanced locks and counts, nothing
 * leaked) are in invariants.ts. Roles throw CheckViolation for what they see go wrong while they run.
 */
import type { AddressSpace } from '../designs/address-space.js';
import { VmaLookup } from '../mm/design.js';
import { PAGE_SIZE } from '../mm/frames.js';
import {
  MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_NONE,
  PROT_READ, PROT_WRITE,
} from '../mm/uapi.js';
import { sysMmap, sysMunmap } from '../mm/mmap.js';
import { sysMadvise } from '../mm/madvise.js';
import { readMapsVmas } from '../mm/proc-maps.js';
import { sysMprotect } from '../mm/mprotect.js';
import { sysMremap } from '../mm/mremap.js';
import { _PAGE_RW, pteMapped, ptePfn, ptePresent } from '../mm/pagetable.js';
import { UserFaultError } from '../mm/uaccess.js';
import { hex } from '../util/hex.js';
import type { Prng } from '../util/prng.js';

export class CheckViolation extends Error {
  override name = 'CheckViolation';
}

export function violation(msg: string): never {
  throw new CheckViolation(msg);
}

/** Where a scenario maps its memory: 2 MiB-aligned, alone in its page-middle directory. */
export const BASE = 0x10000000;
/** Where mremap moves it to: another page table. */
const ELSEWHERE = 0x10400000;
const RW = PROT_READ | PROT_WRITE;

export type Kind = 'anon' | 'private-file' | 'shared-file';
const KINDS: Kind[] = ['anon', 'private-file', 'shared-file'];

/** What the controller made, passed to every role and to check() (structured-clonable). */
export interface ScenarioParams {
  kind: Kind;
  file: number;
  /** Page indices (from BASE) each role touches, in order, and the byte it writes there. */
  touches: number[][];
  [k: string]: unknown;
}

/** How an access ended: the byte read or written, or the signal. */
export type Outcome = number | 'SIGSEGV' | 'SIGBUS';

export interface RoleContext {
  readonly as: AddressSpace;
  readonly params: ScenarioParams;
  readonly thread: number;
  /** A line in the replayed trace. */
  note(text: string): void;
}

/** What a role hands back: the outcome of each of its accesses, in order, and anything else it saw. */
export interface RoleResult {
  outcomes: Outcome[];
  [k: string]: unknown;
}

/** What a generated scenario does with its programs (generated.ts): P is its program type. */
export interface ProgramSupport<P = any> {
  /** The program a run's params hold. */
  of(p: ScenarioParams): P;
  /** Programs one step smaller, for shrinking a failing one. */
  smaller(p: P): P[];
  /** Operations in it (what shrinking reduces). */
  size(p: P): number;
  /** The text `--program` takes, and back (throws with what is wrong). */
  encode(p: P): string;
  decode(s: string): P;
  /** The program as a report prints it. */
  describe(p: P): string;
}

export interface CheckScenario {
  readonly name: string;
  readonly description: string;
  readonly threads: number;
  /** On the controller, from the run's seed; a generated scenario runs `given` instead of drawing a program. */
  setup(as: AddressSpace, rnd: Prng, given?: unknown): ScenarioParams;
  role(ctx: RoleContext): RoleResult;
  /** After the run, on the controller: throws CheckViolation if the outcome is impossible. */
  check(as: AddressSpace, p: ScenarioParams, results: RoleResult[]): void;
  /** The ranges to unmap at teardown, so that leaks show. */
  readonly ranges: readonly [number, number][];
  /** Generated scenarios only. */
  readonly program?: ProgramSupport;
}

const pageAt = (i: number) => BASE + i * PAGE_SIZE;

/** A synthetic file whose page-cache misses sleep, so that faults on it block (or must give up). */
export function setupFile(as: AddressSpace): number {
  return as.mm.addFile({ path: 'check', dev: '00:00', inode: 11, writable: true, readable: true, size: 64 * PAGE_SIZE, shmem: false, latencyUs: 50 });
}

function mapAt(as: AddressSpace, p: ScenarioParams, addr: number, pages: number, prot: number): void {
  const flags = MAP_FIXED | (p.kind === 'anon' ? MAP_PRIVATE | MAP_ANONYMOUS : p.kind === 'shared-file' ? MAP_SHARED : MAP_PRIVATE);
  const off = p.kind === 'anon' ? 0 : ((addr - BASE) / PAGE_SIZE) * PAGE_SIZE;
  const r = sysMmap(as.mm, addr, pages * PAGE_SIZE, prot, flags, p.kind === 'anon' ? 0 : p.file, off);
  if (r !== addr) throw new Error(`check setup: mmap at ${hex(addr)} gave ${r}`);
}

function params(as: AddressSpace, rnd: Prng, touches: number[][], extra: Record<string, unknown> = {}): ScenarioParams {
  return { kind: rnd.pick(KINDS), file: setupFile(as), touches, ...extra };
}

/** `n` distinct page indices below `pages`, in random order. */
function somePages(rnd: Prng, pages: number, n: number): number[] {
  const all = Array.from({ length: pages }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = rnd.below(i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, n);
}

/** The byte thread `t` writes into page `i` (never 0, never what setup wrote). */
export function marker(t: number, i: number): number {
  return 0x40 + 0x20 * t + i;
}

/** A user access that may end in a signal, written down in the trace. */
export function access(ctx: RoleContext, addr: number, write: number | null): Outcome {
  const u = ctx.as.user;
  ctx.note(write === null ? `load8 ${hex(addr)}` : `store8 ${hex(addr)} = ${hex(write)}`);
  let out: Outcome;
  try {
    if (write === null) out = u.load8(addr);
    else {
      u.store8(addr, write);
      out = write;
    }
  } catch (e) {
    if (!(e instanceof UserFaultError) || e.signal === 'OOM') throw e;
    out = e.signal;
  }
  ctx.as.quiescentState();
  ctx.note(`  → ${typeof out === 'number' ? hex(out) : out}`);
  return out;
}

/** The toucher's role: writes its marker into each of its pages at byte `t`, then reads the first back. */
function touchPages(ctx: RoleContext, offset = 0): RoleResult {
  const t = ctx.thread;
  const outcomes: Outcome[] = [];
  for (const i of ctx.params.touches[t]!) outcomes.push(access(ctx, pageAt(i) + offset, marker(t, i)));
  return { outcomes };
}

/**
 * A system call by a role, written down in the trace with its result; with `expect`, any other result is a
 * violation (the inputs are valid). Returns the result.
 */
export function syscall(ctx: RoleContext, what: string, fn: () => number, expect?: number): number {
  ctx.note(what);
  const r = fn();
  ctx.as.quiescentState();
  ctx.note(`  → ${r < 0 ? r : hex(r)}`);
  if (expect !== undefined && r !== expect) violation(`${what} returned ${r}, expected ${expect}`);
  return r;
}

/** Which PTEs expectNoPtes() looks for: any that maps a page, an accessible one, or a writable one. */
type PteKind = 'a' | 'an accessible' | 'a writable';
const PTE_KINDS: Record<PteKind, (pte: number) => boolean> = {
  a: pteMapped,
  'an accessible': ptePresent,
  'a writable': (pte) => ptePresent(pte) && (pte & _PAGE_RW) !== 0,
};

/** Throws if a PTE of `kind` remains in [start, end). */
function expectNoPtes(as: AddressSpace, start: number, end: number, what: string, kind: PteKind = 'a'): void {
  const pt = as.pages.pt;
  const is = PTE_KINDS[kind];
  for (let a = start; a < end; a += PAGE_SIZE) {
    const slot = pt.pteSlot(a);
    if (slot < 0) continue;
    if (is(Atomics.load(pt.i32, slot))) violation(`${kind} PTE for ${hex(a)} remains after ${what} returned`);
  }
}

/** The byte at `addr` as memory holds it, read on the controller after the run (may fault it in). */
function readBack(as: AddressSpace, addr: number): Outcome {
  try {
    return as.user.load8(addr);
  } catch (e) {
    if (e instanceof UserFaultError && e.signal !== 'OOM') return e.signal;
    throw e;
  }
}

/** The byte a present PTE maps at `addr`, without faulting; undefined if there is none. */
export function peek(as: AddressSpace, addr: number): number | undefined {
  const slot = as.pages.pt.pteSlot(addr);
  if (slot < 0) return undefined;
  const pte = Atomics.load(as.pages.pt.i32, slot);
  if (!pteMapped(pte)) return undefined;
  return as.pages.frames.bytes[ptePfn(pte) * PAGE_SIZE + (addr % PAGE_SIZE)];
}

/**
 * Every store that succeeded must be there to read, at `base` (where the pages are now), read by `read`
 * (an access, or peek() where the pages are PROT_NONE now).
 */
function expectStoresKept(as: AddressSpace, p: ScenarioParams, results: RoleResult[], base = BASE, offsetOf = (_t: number) => 0, read: (as: AddressSpace, addr: number) => Outcome | undefined = readBack): void {
  results.forEach((r, t) => {
    p.touches[t]?.forEach((i, k) => {
      const out = r.outcomes[k];
      if (typeof out !== 'number') return;
      const at = base + i * PAGE_SIZE + offsetOf(t);
      const now = read(as, at);
      if (now !== out) violation(`T${t}'s store of ${hex(out)} to page ${i} succeeded but ${hex(at)} holds ${typeof now === 'number' ? hex(now) : (now ?? 'no page')}: the write was lost`);
    });
  });
}

/**
 * Once a mapping is gone it stays gone: no access may succeed after an earlier one got SIGSEGV — except
 * where `pages` (the page of each access) says the access hit a page whose PTE was there before: one in
 * `present`, or one this thread had reached. munmap zaps with the mmap_lock downgraded, as Linux's does, so
 * until it returns such a PTE may still be there; a fault that installed a PTE after its VMA went would
 * leave it behind munmap's return, and that is caught there.
 */
function expectGoneStaysGone(outcomes: Outcome[], pages?: number[], present: number[] = []): void {
  const first = outcomes.indexOf('SIGSEGV');
  if (first < 0) return;
  const reached = new Set(present);
  for (let k = 0; k < outcomes.length; k++) {
    const ok = outcomes[k] !== 'SIGSEGV';
    if (ok && k > first && !(pages !== undefined && reached.has(pages[k]!))) {
      violation(`an access succeeded after an earlier one found the mapping gone: ${outcomes.join(', ')}`);
    }
    if (ok && pages !== undefined) reached.add(pages[k]!);
  }
}

/** The mapping was there all along: every access must succeed. */
function expectNoSignals(results: RoleResult[]): void {
  results.forEach((r, t) => r.outcomes.forEach((o) => typeof o !== 'number' && violation(`T${t}: an access to a mapped page got ${o}`)));
}

const PAGES = 4;

const faultMunmap: CheckScenario = {
  name: 'fault-munmap',
  description: 'faults on a mapping while another thread unmaps it',
  threads: 2,
  ranges: [[BASE, BASE + PAGES * PAGE_SIZE]],
  setup(as, rnd) {
    const p = params(as, rnd, [somePages(rnd, PAGES, 3)]);
    mapAt(as, p, BASE, PAGES, RW);
    p.present = rnd.chance(0.5) ? [p.touches[0]![1]!] : [];
    for (const i of p.present as number[]) as.user.store8(pageAt(i), 1); // a page already present
    return p;
  },
  role(ctx) {
    if (ctx.thread === 0) return touchPages(ctx);
    syscall(ctx, `munmap(${hex(BASE)}, ${PAGES} pages)`, () => sysMunmap(ctx.as.mm, BASE, PAGES * PAGE_SIZE), 0);
    expectNoPtes(ctx.as, BASE, BASE + PAGES * PAGE_SIZE, 'munmap');
    return { outcomes: [] };
  },
  check(_as, p, [faulter]) {
    expectGoneStaysGone(faulter!.outcomes, p.touches[0], p.present as number[]);
  },
};

const faultMprotect: CheckScenario = {
  name: 'fault-mprotect',
  description: 'write faults while another thread makes the mapping read-only',
  threads: 2,
  ranges: [[BASE, BASE + PAGES * PAGE_SIZE]],
  setup(as, rnd) {
    const p = params(as, rnd, [somePages(rnd, PAGES, 3)]);
    mapAt(as, p, BASE, PAGES, RW);
    if (rnd.chance(0.5)) as.user.load8(pageAt(p.touches[0]![0]!)); // a read-only PTE the write must upgrade
    return p;
  },
  role(ctx) {
    if (ctx.thread === 0) return touchPages(ctx);
    const { as } = ctx;
    syscall(ctx, `mprotect(${hex(BASE)}, ${PAGES} pages, PROT_READ)`, () => sysMprotect(as.mm, BASE, PAGES * PAGE_SIZE, PROT_READ), 0);
    expectNoPtes(as, BASE, BASE + PAGES * PAGE_SIZE, 'mprotect(PROT_READ)', 'a writable');
    // The TLB flush: once every access that saw the old PTEs is over, the pages must not change again.
    as.rcu.synchronize();
    const frozen = Array.from({ length: PAGES }, (_, i) => peek(as, pageAt(i)) ?? -1);
    ctx.note(`frozen: ${frozen.join(' ')}`);
    return { outcomes: [], frozen };
  },
  check(as, p, results) {
    const frozen = results[1]!.frozen as number[];
    for (let i = 0; i < PAGES; i++) {
      const now = peek(as, pageAt(i)) ?? -1;
      if (frozen[i] !== -1 && now !== frozen[i]) violation(`page ${i} changed from ${hex(frozen[i]!)} to ${hex(now)} while read-only: a write landed in a read-only page`);
    }
    // A store that succeeded and landed must still be there (unless it was a private copy never made).
    expectStoresKept(as, p, results.slice(0, 1));
  },
};

const faultProtnone: CheckScenario = {
  name: 'fault-protnone',
  description: 'write faults on read-only PTEs while another thread makes the mapping PROT_NONE (a guard set, as GC and JIT heaps do)',
  threads: 2,
  ranges: [[BASE, BASE + PAGES * PAGE_SIZE]],
  setup(as, rnd) {
    const p = params(as, rnd, [somePages(rnd, PAGES, 3)]);
    mapAt(as, p, BASE, PAGES, RW);
    // Read-only PTEs the writes must upgrade (a fault on a missing PTE is fault-mprotect's): a write fault
    // under way when mprotect turns its PTE PROT_NONE finds a PROT_NONE PTE in what it read as a read-write
    // VMA (do_numa_page's case), unless it holds a lock mprotect takes.
    for (const i of p.touches[0]!) as.user.load8(pageAt(i));
    return p;
  },
  role(ctx) {
    if (ctx.thread === 0) return touchPages(ctx);
    const { as } = ctx;
    // One call, not a toggle back to read-write: the race is a write fault inside this one mprotect's window.
    syscall(ctx, `mprotect(${hex(BASE)}, ${PAGES} pages, PROT_NONE)`, () => sysMprotect(as.mm, BASE, PAGES * PAGE_SIZE, PROT_NONE), 0);
    expectNoPtes(as, BASE, BASE + PAGES * PAGE_SIZE, 'mprotect(PROT_NONE)', 'an accessible');
    return { outcomes: [] };
  },
  check(as, p, results) {
    // Each store succeeded or met PROT_NONE (SIGSEGV); one that succeeded is still in its page, which
    // only the PROT_NONE PTE maps now (read without faulting).
    expectStoresKept(as, p, results.slice(0, 1), BASE, undefined, peek);
  },
};

const faultMremap: CheckScenario = {
  name: 'fault-mremap',
  description: 'faults on a mapping while another thread moves it elsewhere (data moves with it)',
  threads: 2,
  ranges: [[BASE, BASE + PAGES * PAGE_SIZE], [ELSEWHERE, ELSEWHERE + PAGES * PAGE_SIZE]],
  setup(as, rnd) {
    const p = params(as, rnd, [somePages(rnd, PAGES, 3)]);
    mapAt(as, p, BASE, PAGES, RW);
    for (let i = 0; i < PAGES; i++) if (rnd.chance(0.5)) as.user.store8(pageAt(i), 0x30 + i);
    return p;
  },
  role(ctx) {
    if (ctx.thread === 0) return touchPages(ctx);
    const { as } = ctx;
    syscall(ctx, `mremap(${hex(BASE)} → ${hex(ELSEWHERE)}, MREMAP_MAYMOVE|MREMAP_FIXED)`, () => sysMremap(as.mm, BASE, PAGES * PAGE_SIZE, PAGES * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, ELSEWHERE), ELSEWHERE);
    expectNoPtes(as, BASE, BASE + PAGES * PAGE_SIZE, 'mremap');
    as.rcu.synchronize();
    return { outcomes: [] };
  },
  check(as, p, results) {
    // A store that succeeded went to the pages before they moved: it must have moved with them.
    expectStoresKept(as, p, results.slice(0, 1), ELSEWHERE);
    expectGoneStaysGone(results[0]!.outcomes);
  },
};

const faultMerge: CheckScenario = {
  name: 'fault-merge',
  description: 'faults on two neighbouring mappings while mprotect makes them one (vma_merge)',
  threads: 2,
  ranges: [[BASE, BASE + PAGES * PAGE_SIZE]],
  setup(as, rnd) {
    const p = params(as, rnd, [[1, 2, 3]]);
    p.kind = 'anon'; // only anonymous neighbours with the same flags merge without a file offset to match
    mapAt(as, p, BASE, PAGES / 2, RW);
    mapAt(as, p, BASE + (PAGES / 2) * PAGE_SIZE, PAGES / 2, PROT_READ);
    if (rnd.chance(0.5)) as.user.store8(pageAt(0), 1); // the left VMA has an anon_vma already
    return p;
  },
  role(ctx) {
    if (ctx.thread === 0) return touchPages(ctx);
    const half = (PAGES / 2) * PAGE_SIZE;
    syscall(ctx, `mprotect(${hex(BASE + half)}, ${PAGES / 2} pages, PROT_READ|PROT_WRITE)`, () => sysMprotect(ctx.as.mm, BASE + half, half, RW), 0);
    return { outcomes: [] };
  },
  check(as, p, results) {
    // Writes to the right half fail only while it is read-only: once one succeeded, later ones must too.
    const o = results[0]!.outcomes;
    for (let k = 1; k < o.length; k++) if (o[k - 1] !== 'SIGSEGV' && p.touches[0]![k - 1]! >= PAGES / 2 && o[k] === 'SIGSEGV') violation(`a write failed after the range was made writable: ${o.join(', ')}`);
    if (o[0] === 'SIGSEGV') violation('a write to the always-writable left half got SIGSEGV');
    expectStoresKept(as, p, results.slice(0, 1));
    if (as.mm.mapCount !== 1) violation(`the two neighbours did not merge: ${as.mm.mapCount} VMAs`);
  },
};

const faultFault: CheckScenario = {
  name: 'fault-fault',
  description: 'two threads fault on the same pages of one page table at once',
  threads: 2,
  ranges: [[BASE, BASE + 2 * PAGE_SIZE]],
  setup(as, rnd) {
    const p = params(as, rnd, [rnd.chance(0.5) ? [0, 1] : [1, 0], rnd.chance(0.5) ? [1, 0] : [0, 1]]);
    mapAt(as, p, BASE, 2, RW);
    return p;
  },
  role(ctx) {
    return touchPages(ctx, ctx.thread); // each writes its own byte of the same pages
  },
  check(as, p, results) {
    expectNoSignals(results);
    expectStoresKept(as, p, results, BASE, (t) => t);
  },
};

const faultFaultZap: CheckScenario = {
  name: 'fault-fault-zap',
  description: 'two threads fault on the same pages while a third zaps them again and again (MADV_DONTNEED)',
  threads: 3,
  ranges: [[BASE, BASE + 2 * PAGE_SIZE]],
  setup(as, rnd) {
    const order = () => (rnd.chance(0.5) ? [0, 1, 0, 1] : [1, 0, 1, 0]);
    const p = params(as, rnd, [order(), order()]);
    mapAt(as, p, BASE, 2, RW);
    return p;
  },
  role(ctx) {
    if (ctx.thread < 2) return touchPages(ctx, ctx.thread); // each its own byte of the same pages
    for (let k = 0; k < 3; k++) {
      syscall(ctx, `madvise(${hex(BASE)}, 2 pages, MADV_DONTNEED)`, () => sysMadvise(ctx.as.mm, BASE, 2 * PAGE_SIZE, MADV_DONTNEED), 0);
    }
    return { outcomes: [] };
  },
  check(_as, _p, results) {
    expectNoSignals(results.slice(0, 2)); // the mapping never goes (its data may be zapped away: allowed)
  },
};

const munmapMunmap: CheckScenario = {
  name: 'munmap-munmap',
  description: 'two threads unmap overlapping ranges of populated memory',
  threads: 2,
  ranges: [[BASE, BASE + 6 * PAGE_SIZE]],
  setup(as, rnd) {
    const p = params(as, rnd, [[], []]);
    mapAt(as, p, BASE, 6, RW);
    for (let i = 0; i < 6; i++) if (rnd.chance(0.7)) as.user.store8(pageAt(i), 0x30 + i);
    return p;
  },
  role(ctx) {
    const start = ctx.thread === 0 ? 0 : 2;
    syscall(ctx, `munmap(${hex(pageAt(start))}, 4 pages)`, () => sysMunmap(ctx.as.mm, pageAt(start), 4 * PAGE_SIZE), 0);
    expectNoPtes(ctx.as, pageAt(start), pageAt(start + 4), 'munmap');
    return { outcomes: [] };
  },
  check(as) {
    if (as.mm.mapCount !== 0) violation(`${as.mm.mapCount} VMAs left after both munmaps`);
  },
};

const ptfreeWalk: CheckScenario = {
  name: 'ptfree-walk',
  description: 'a fault walks the page tables while munmap frees them and a new mapping takes their place',
  threads: 2,
  ranges: [[BASE, BASE + 2 * PAGE_SIZE]],
  setup(as, rnd) {
    const p = params(as, rnd, [rnd.chance(0.5) ? [0, 1] : [1, 0]]);
    mapAt(as, p, BASE, 2, RW);
    as.user.store8(pageAt(0), 0x30);
    return p;
  },
  role(ctx) {
    if (ctx.thread === 0) return touchPages(ctx);
    const { as } = ctx;
    // The range is alone in its 2 MiB: munmap frees its page table (free_pgtables), the mmap makes a new one.
    syscall(ctx, `munmap(${hex(BASE)}, 2 pages)`, () => sysMunmap(as.mm, BASE, 2 * PAGE_SIZE), 0);
    syscall(ctx, `mmap(${hex(BASE)}, 2 pages, MAP_FIXED|MAP_PRIVATE|MAP_ANONYMOUS)`, () => sysMmap(as.mm, BASE, 2 * PAGE_SIZE, RW, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, 0, 0), BASE);
    return { outcomes: [] };
  },
  check(as) {
    // The new mapping is fresh: whatever it holds came from a store that succeeded after it appeared.
    for (let i = 0; i < 2; i++) {
      const now = peek(as, pageAt(i));
      if (now !== undefined && now !== 0 && now !== marker(0, i)) violation(`the new mapping's page ${i} holds ${hex(now)}: old data leaked into a fresh mapping`);
    }
  },
};

/** Where the reuse scenarios map the file again, and at which page of it. */
const REMAP_SHIFT = 2;
const REMAP_PGOFF = 32;

/**
 * T1 of the reuse scenarios: munmap the mapping, then map the file again REMAP_SHIFT pages higher, at page
 * REMAP_PGOFF of it. The new VMA may well be the old one's record, freed and reused at once
 * (SLAB_TYPESAFE_BY_RCU): a reader that found the old VMA before the munmap must notice.
 */
function unmapAndMapHigher(ctx: RoleContext): RoleResult {
  const { as, params: p } = ctx;
  const flags = MAP_FIXED | (p.kind === 'shared-file' ? MAP_SHARED : MAP_PRIVATE);
  const at = pageAt(REMAP_SHIFT);
  syscall(ctx, `munmap(${hex(BASE)}, ${PAGES} pages)`, () => sysMunmap(as.mm, BASE, PAGES * PAGE_SIZE), 0);
  syscall(ctx, `mmap(${hex(at)}, ${PAGES} pages, the file at page ${REMAP_PGOFF})`, () => sysMmap(as.mm, at, PAGES * PAGE_SIZE, RW, flags, p.file, REMAP_PGOFF * PAGE_SIZE), at);
  return { outcomes: [] };
}

/** setup() of the reuse scenarios: a file mapping of PAGES pages at BASE, page i of it page i of the file. */
function setupFileMapping(as: AddressSpace, rnd: Prng, pages: number[]): ScenarioParams {
  const p = params(as, rnd, [pages]);
  p.kind = rnd.chance(0.5) ? 'private-file' : 'shared-file';
  mapAt(as, p, BASE, PAGES, RW);
  return p;
}

const faultReuse: CheckScenario = {
  name: 'fault-reuse',
  description: 'faults below the new mapping while another thread unmaps a file mapping and maps the file again two pages higher: the fault may pin the old VMA\'s record, reused for the new one',
  threads: 2,
  ranges: [[BASE, BASE + (PAGES + REMAP_SHIFT) * PAGE_SIZE]],
  setup: (as, rnd) => setupFileMapping(as, rnd, rnd.chance(0.5) ? [0, 1] : [1, 0]),
  role: (ctx) => (ctx.thread === 0 ? touchPages(ctx) : unmapAndMapHigher(ctx)),
  check(_as, _p, [faulter]) {
    expectGoneStaysGone(faulter!.outcomes); // these pages are never mapped again
  },
};

const lookupMunmap: CheckScenario = {
  name: 'lookup-munmap',
  description: 'VMA lookups (a uprobe hit: which file, at which offset?) while another thread unmaps a file mapping and maps the file again two pages higher, at another offset',
  threads: 2,
  ranges: [[BASE, BASE + (PAGES + REMAP_SHIFT) * PAGE_SIZE]],
  setup: (as, rnd) => setupFileMapping(as, rnd, somePages(rnd, PAGES, 3)),
  role(ctx) {
    if (ctx.thread === 1) return unmapAndMapHigher(ctx);
    const out = new VmaLookup();
    const seen: string[] = [];
    for (const i of ctx.params.touches[0]!) {
      ctx.note(`lookup ${hex(pageAt(i))}`);
      const found = ctx.as.lookupVma(pageAt(i), out);
      ctx.as.quiescentState();
      seen.push(found ? `file ${out.file} page ${out.pgoff}` : 'nothing');
      ctx.note(`  → ${seen[seen.length - 1]}`);
    }
    return { outcomes: [], seen };
  },
  check(_as, p, [looker]) {
    // Each lookup sees page i of the first mapping, nothing, or (i ≥ REMAP_SHIFT) its page of the second —
    // and in that order: once a lookup saw a later state, no later lookup may see an earlier one.
    const seen = looker!.seen as string[];
    let epoch = 0;
    p.touches[0]!.forEach((i, k) => {
      const before = `file ${p.file} page ${i}`;
      const remapped = i >= REMAP_SHIFT;
      const after = `file ${p.file} page ${REMAP_PGOFF + i - REMAP_SHIFT}`;
      // 0: the first mapping; 1: nothing (between the calls; for ever below REMAP_SHIFT); 2: the second.
      const at = seen[k] === before ? 0 : seen[k] === 'nothing' ? 1 : remapped && seen[k] === after ? 2 : -1;
      if (at < 0) violation(`T0's lookup of ${hex(pageAt(i))} found ${seen[k]}, but only ${before}${remapped ? `, ${after}` : ''} or nothing was ever mapped there`);
      if (at < epoch && (at === 0 || remapped)) violation(`T0's lookup of ${hex(pageAt(i))} found ${seen[k]} after an earlier lookup had seen the mapping change: ${seen.join('; ')}`);
      epoch = Math.max(epoch, at);
    });
  },
};

/**
 * maps-read (the kernel's proc-maps-race selftest, in small): three VMAs side by side — read-only, writable,
 * read-only — and another thread mprotects one page of the writable one read-only: its first page (it joins
 * the VMA below), a middle one (a split in three), or its last (it joins the VMA above). The first two move
 * the start of the writable VMA's record up: a reader that found it before must not report the pages below
 * its new start as a gap. (The selftest restores the page in a loop; one change keeps the race within one
 * preemption of the checker's.)
 */
const MAPS_PAGES = 7;
const mapsRead: CheckScenario = {
  name: 'maps-read',
  description: 'a /proc/PID/maps read while another thread mprotects one page of a mapping (a split, or a page that joins a neighbour): VMAs may be reported twice or before and after, never with a gap that was not there',
  threads: 2,
  ranges: [[BASE, BASE + MAPS_PAGES * PAGE_SIZE]],
  setup(as, rnd) {
    const p = params(as, rnd, [], { page: 2 + rnd.below(3) });
    mapAt(as, p, BASE, 2, PROT_READ);
    mapAt(as, p, pageAt(2), 3, RW);
    mapAt(as, p, pageAt(5), 2, PROT_READ);
    return p;
  },
  role(ctx) {
    const { as, params: p } = ctx;
    if (ctx.thread === 0) {
      const reported: [number, number][] = [];
      ctx.note('read /proc/self/maps');
      readMapsVmas(as.mm, (v) => reported.push([as.mm.vmas.start(v), as.mm.vmas.end(v)]));
      as.quiescentState();
      ctx.note(`  → ${reported.map(([s, e]) => `${hex(s)}-${hex(e)}`).join(' ')}`);
      return { outcomes: [], reported };
    }
    const at = pageAt(p.page as number);
    syscall(ctx, `mprotect(${hex(at)}, 1 page, PROT_READ)`, () => sysMprotect(as.mm, at, PAGE_SIZE, PROT_READ), 0);
    return { outcomes: [] };
  },
  check(_as, _p, [reader]) {
    // [BASE, BASE + MAPS_PAGES pages) was mapped all along: every page of it is in some reported VMA.
    const reported = reader!.reported as [number, number][];
    const text = reported.map(([s, e]) => `${hex(s)}-${hex(e)}`).join(' ');
    let covered = BASE;
    for (const [s, e] of reported) {
      if (e <= BASE) continue;
      if (s > covered && covered < BASE + MAPS_PAGES * PAGE_SIZE) violation(`the maps read reported a gap at ${hex(covered)}-${hex(Math.min(s, BASE + MAPS_PAGES * PAGE_SIZE))} that was never there: ${text}`);
      covered = Math.max(covered, e);
    }
    if (covered < BASE + MAPS_PAGES * PAGE_SIZE) violation(`the maps read ended at ${hex(covered)}, inside memory mapped all along: ${text}`);
  },
};

/** The hand-written races (catalog.ts adds the generated scenario). */
export const HAND_WRITTEN_SCENARIOS: readonly CheckScenario[] = [faultMunmap, faultMprotect, faultMremap, faultMerge, faultFault, faultFaultZap, munmapMunmap, ptfreeWalk, faultReuse, lookupMunmap, mapsRead, faultProtnone];
