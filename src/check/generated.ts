/**
 * Generated scenarios: besides the hand-written races of scenarios.ts, small random programs — a layout of
 * one to three mappings in a window of eight pages (anonymous, private or shared file; read-write or
 * read-only; some pages already faulted in), and for each thread one to four operations over the window:
 * faults (reads and writes, at a mapping's edges and in its middle) and mm calls (mmap MAP_FIXED, munmap,
 * mprotect, mremap in place or MREMAP_FIXED within the window, madvise(MADV_DONTNEED)) — so that splits,
 * merges, moves, partial unmaps and page tables that survive an munmap (the window shares one) all occur
 * under faults, which no hand-written scenario does.
 *
 * A program does not say what each access must return (the calls race), so it is judged by what must hold
 * whatever the order: the invariants after the run (invariants.ts: every PTE inside a live VMA that allows
 * it, mapping a live frame; no lock or count left; nothing leaked), the debug checks on the way (poisoned
 * records, generations, lockdep-lite), that no call fails any other way than with an errno or a signal,
 * and that what memory holds at the end was written by someone.
 *
 * A run's program is drawn from its seed; shrink() makes a failing program smaller, an operation at a time,
 * the way fast-check and syzkaller do; encode()/decode() give the text `--program` replays, and describe()
 * the readable program a report prints.
 */
import type { AddressSpace } from '../designs/address-space.js';
import { PAGE_SIZE } from '../mm/frames.js';
import { sysMadvise } from '../mm/madvise.js';
import { sysMmap, sysMunmap } from '../mm/mmap.js';
import { sysMprotect } from '../mm/mprotect.js';
import { sysMremap } from '../mm/mremap.js';
import { syntheticWord } from '../mm/pagecache.js';
import {
  MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_NONE, PROT_READ, PROT_WRITE,
} from '../mm/uapi.js';
import type { Prng } from '../util/prng.js';
import { hex } from '../util/hex.js';
import { access, BASE, marker, peek, syscall, violation, type CheckScenario, type Outcome, type RoleContext, type RoleResult, type ScenarioParams } from './scenarios.js';

/** Pages in the window every program works on. */
export const WINDOW = 8;
/** Pages of the file: it ends two pages before the window does, so faults on p6 and p7 of a file mapping are beyond EOF. */
const FILE_PAGES = WINDOW - 2;

type Kind = 'a' | 'f' | 's'; // anonymous, private file, shared file
type Prot = 'rw' | 'r' | 'n';

/** One operation of a program (pages are indices into the window). */
export type Op =
  | { op: 'read'; page: number }
  | { op: 'write'; page: number }
  | { op: 'mmap'; page: number; pages: number; prot: Prot; kind: Kind }
  | { op: 'munmap'; page: number; pages: number }
  | { op: 'mprotect'; page: number; pages: number; prot: Prot }
  | { op: 'mremap'; page: number; pages: number; newPages: number; to?: number }
  | { op: 'dontneed'; page: number; pages: number };

/** What setup maps (mmap ops only) and which pages it faults in, and each thread's operations. */
export interface Program {
  setup: Extract<Op, { op: 'mmap' }>[];
  touched: number[];
  threads: Op[][];
}

const PROT_BITS: Record<Prot, number> = { rw: PROT_READ | PROT_WRITE, r: PROT_READ, n: PROT_NONE };
const PROT_NAMES: Record<Prot, string> = { rw: 'PROT_READ|PROT_WRITE', r: 'PROT_READ', n: 'PROT_NONE' };
const KIND_NAMES: Record<Kind, string> = { a: 'anonymous', f: 'private file', s: 'shared file' };
/** What setup writes into the pages it faults in (never a marker: see marker()). */
const SETUP_BYTE = 0x3f;

// ------------------------------------------------------------------------------------------- drawing

/** Where an operation starts: at a mapping's first or last page, in its middle, or anywhere. */
function somePage(rnd: Prng, layout: [number, number][]): number {
  if (layout.length > 0 && rnd.chance(0.7)) {
    const [s, n] = rnd.pick(layout);
    return rnd.pick([s, s + n - 1, s + (n >> 1)]);
  }
  return rnd.below(WINDOW);
}

function span(rnd: Prng, page: number): number {
  return 1 + rnd.below(Math.min(3, WINDOW - page));
}

function drawOp(rnd: Prng, layout: [number, number][]): Op {
  const page = somePage(rnd, layout);
  const pages = span(rnd, page);
  const x = rnd.below(100);
  if (x < 45) return rnd.chance(0.6) ? { op: 'write', page } : { op: 'read', page };
  if (x < 57) return { op: 'munmap', page, pages };
  if (x < 72) return { op: 'mprotect', page, pages, prot: rnd.pick(['rw', 'r', 'r', 'n'] as const) };
  if (x < 82) return { op: 'mmap', page, pages, prot: rnd.pick(['rw', 'rw', 'r'] as const), kind: rnd.pick(['a', 'a', 'f', 's'] as const) };
  if (x < 92) {
    // In place (shrink, or grow into a free neighbour), or moved to another place in the window.
    if (rnd.chance(0.5)) return { op: 'mremap', page, pages, newPages: 1 + rnd.below(Math.min(4, WINDOW - page)) };
    const newPages = Math.min(pages, WINDOW - 1);
    return { op: 'mremap', page, pages, newPages, to: rnd.below(WINDOW - newPages + 1) };
  }
  return { op: 'dontneed', page, pages };
}

/** A random program for `threads` threads: a layout with its neighbours, and up to four operations per thread. */
export function drawProgram(rnd: Prng, threads = 2): Program {
  const setup: Extract<Op, { op: 'mmap' }>[] = [];
  const layout: [number, number][] = [];
  let at = rnd.below(2);
  const mappings = 1 + rnd.below(3);
  for (let k = 0; k < mappings && at < WINDOW; k++) {
    const pages = 1 + rnd.below(Math.min(4, WINDOW - at));
    setup.push({ op: 'mmap', page: at, pages, prot: rnd.pick(['rw', 'rw', 'r'] as const), kind: rnd.pick(['a', 'a', 'f', 's'] as const) });
    layout.push([at, pages]);
    at += pages + (rnd.chance(0.5) ? 0 : 1); // adjacent (a merge candidate) or with a hole
  }
  // Pages setup faults in (none beyond the file's end: setup must not fail).
  const touched = setup.flatMap((m) => Array.from({ length: m.pages }, (_, i) => m.page + i).filter((p) => m.kind === 'a' || p < FILE_PAGES)).filter(() => rnd.chance(0.3));
  return { setup, touched, threads: Array.from({ length: threads }, () => Array.from({ length: 1 + rnd.below(4) }, () => drawOp(rnd, layout))) };
}

// ------------------------------------------------------------------------------------------- running

const pageAt = (i: number): number => BASE + i * PAGE_SIZE;

function mmapOp(as: AddressSpace, file: number, o: Extract<Op, { op: 'mmap' }>): number {
  const flags = MAP_FIXED | (o.kind === 'a' ? MAP_PRIVATE | MAP_ANONYMOUS : o.kind === 's' ? MAP_SHARED : MAP_PRIVATE);
  // File pages line up with the window, so that file mappings next to each other can merge.
  return sysMmap(as.mm, pageAt(o.page), o.pages * PAGE_SIZE, PROT_BITS[o.prot], flags, o.kind === 'a' ? 0 : file, o.kind === 'a' ? 0 : o.page * PAGE_SIZE);
}

/** Runs one mm call; returns its result (an address, 0, or -errno). */
function call(as: AddressSpace, file: number, o: Exclude<Op, { op: 'read' | 'write' }>): number {
  const mm = as.mm;
  const len = o.pages * PAGE_SIZE;
  switch (o.op) {
    case 'mmap':
      return mmapOp(as, file, o);
    case 'munmap':
      return sysMunmap(mm, pageAt(o.page), len);
    case 'mprotect':
      return sysMprotect(mm, pageAt(o.page), len, PROT_BITS[o.prot]);
    case 'mremap':
      return o.to === undefined
        ? sysMremap(mm, pageAt(o.page), len, o.newPages * PAGE_SIZE, 0, 0)
        : sysMremap(mm, pageAt(o.page), len, o.newPages * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, pageAt(o.to));
    case 'dontneed':
      return sysMadvise(mm, pageAt(o.page), len, MADV_DONTNEED);
  }
}

function programOf(p: ScenarioParams): Program {
  return p['program'] as Program;
}

/** The generated scenario with `threads` threads. */
function generatedScenario(name: string, threads: number): CheckScenario {
  return {
    name,
    description: `a random program for each of ${threads} threads — faults and mmap/munmap/mprotect/mremap/madvise over a window with neighbours`,
    threads,
    ranges: [[BASE, BASE + WINDOW * PAGE_SIZE]],
    setup(as, rnd, given) {
      const program = (given as Program | undefined) ?? drawProgram(rnd, threads);
      const file = as.mm.addFile({ path: 'generated', dev: '00:00', inode: 12, writable: true, readable: true, size: FILE_PAGES * PAGE_SIZE, shmem: false, latencyUs: 50 });
      for (const m of program.setup) {
        const r = mmapOp(as, file, m);
        if (r !== pageAt(m.page)) throw new Error(`check setup: ${describeOp(m)} gave ${r}`);
      }
      for (const i of program.touched) {
        const m = program.setup.find((s) => i >= s.page && i < s.page + s.pages);
        if (m?.prot === 'rw') as.user.store8(pageAt(i), SETUP_BYTE);
        else if (m !== undefined) as.user.load8(pageAt(i));
      }
      return { kind: 'anon', file, touches: [], program };
    },
    role(ctx: RoleContext): RoleResult {
      const { as, params, thread } = ctx;
      const outcomes: Outcome[] = [];
      programOf(params).threads[thread]!.forEach((o, k) => {
        if (o.op === 'read' || o.op === 'write') {
          outcomes.push(access(ctx, pageAt(o.page), o.op === 'write' ? marker(thread, k) : null));
          return;
        }
        outcomes.push(syscall(ctx, describeOp(o), () => call(as, params.file, o)));
      });
      return { outcomes };
    },
    check(as, p, results) {
      // Whatever the order, a page holds what someone wrote into it (setup, or a thread's store that
      // returned), zeros (fresh anonymous memory, a page DONTNEED dropped), or what the file holds at one of
      // the offsets the window maps (mremap moves file pages to other places in it).
      const written = new Set<number>([0, SETUP_BYTE]);
      for (let i = 0; i < WINDOW; i++) written.add(syntheticWord(p.file, i * PAGE_SIZE) & 0xff);
      const program = programOf(p);
      results.forEach((r, t) => program.threads[t]!.forEach((o, k) => o.op === 'write' && r.outcomes[k] === marker(t, k) && written.add(marker(t, k))));
      for (let i = 0; i < WINDOW; i++) {
        const b = peek(as, pageAt(i));
        if (b !== undefined && !written.has(b)) violation(`page ${i} (${hex(pageAt(i))}) holds ${hex(b)}, which nobody wrote there`);
      }
    },
    program: {
      of: programOf,
      smaller: shrink,
      encode,
      decode: (text: string) => decode(text, threads),
      describe,
      size: (g: Program) => g.setup.length + g.touched.length + g.threads.reduce((a, ops) => a + ops.length, 0),
    },
  };
}

/** Two threads; and three (two may fault on the pages the third changes, or race each other's calls). */
export const generated = generatedScenario('generated', 2);
export const generated3 = generatedScenario('generated-3', 3);

// ------------------------------------------------------------------------------------------- shrinking

/** Programs one step smaller than `g`: an operation, a setup mapping or a pre-faulted page fewer, or a span shorter. */
export function shrink(g: Program): Program[] {
  const out: Program[] = [];
  g.threads.forEach((ops, t) =>
    ops.forEach((_, k) => out.push({ ...g, threads: g.threads.map((o, u) => (u === t ? o.filter((_x, j) => j !== k) : o)) })),
  );
  g.setup.forEach((m, k) => {
    const setup = g.setup.filter((_x, j) => j !== k);
    out.push({ ...g, setup, touched: g.touched.filter((i) => i < m.page || i >= m.page + m.pages) });
  });
  g.touched.forEach((_, k) => out.push({ ...g, touched: g.touched.filter((_x, j) => j !== k) }));
  g.threads.forEach((ops, t) =>
    ops.forEach((o, k) => {
      if ('pages' in o && o.pages > 1) {
        const smaller = { ...o, pages: o.pages - 1 } as Op;
        out.push({ ...g, threads: g.threads.map((x, u) => (u === t ? x.map((y, j) => (j === k ? smaller : y)) : x)) });
      }
    }),
  );
  return out;
}

// ------------------------------------------------------------------------------------------- text

/** One operation as the trace and the report write it. */
export function describeOp(o: Op): string {
  const at = (p: number) => `p${p} (${hex(pageAt(p))})`;
  const n = (k: number) => `${k} page${k === 1 ? '' : 's'}`;
  switch (o.op) {
    case 'read':
      return `load8 ${at(o.page)}`;
    case 'write':
      return `store8 ${at(o.page)}`;
    case 'mmap':
      return `mmap(${at(o.page)}, ${n(o.pages)}, ${PROT_NAMES[o.prot]}, MAP_FIXED, ${KIND_NAMES[o.kind]})`;
    case 'munmap':
      return `munmap(${at(o.page)}, ${n(o.pages)})`;
    case 'mprotect':
      return `mprotect(${at(o.page)}, ${n(o.pages)}, ${PROT_NAMES[o.prot]})`;
    case 'mremap':
      return o.to === undefined ? `mremap(${at(o.page)}, ${n(o.pages)} → ${n(o.newPages)}, in place)` : `mremap(${at(o.page)}, ${n(o.pages)} → ${n(o.newPages)}, MREMAP_FIXED to ${at(o.to)})`;
    case 'dontneed':
      return `madvise(${at(o.page)}, ${n(o.pages)}, MADV_DONTNEED)`;
  }
}

/** The program as a report prints it: setup, then each thread's column of operations. */
export function describe(g: Program): string {
  const lines = [`window: ${WINDOW} pages at ${hex(BASE)} (p0 … p${WINDOW - 1})`];
  lines.push(`setup: ${g.setup.map(describeOp).join('; ') || 'nothing mapped'}${g.touched.length ? `; pages faulted in: ${g.touched.map((p) => `p${p}`).join(', ')}` : ''}`);
  g.threads.forEach((ops, t) => lines.push(`T${t}: ${ops.map(describeOp).join('; ') || 'nothing'}`));
  return lines.join('\n');
}

/**
 * The program as `--program` takes it: `S:m0+4rwa,m5+2rf;P:1,2;T0:w1,p1+2r;T1:u2+1,x1+2>3@5,d0+1,r3`.
 * m mmap (then prot rw|r|n and kind a|f|s), u munmap, p mprotect, x mremap (>new pages, @to for
 * MREMAP_FIXED), d madvise(MADV_DONTNEED), r read, w write; P: the pages setup faults in.
 */
export function encode(g: Program): string {
  const op = (o: Op): string => {
    switch (o.op) {
      case 'read':
        return `r${o.page}`;
      case 'write':
        return `w${o.page}`;
      case 'mmap':
        return `m${o.page}+${o.pages}${o.prot}${o.kind}`;
      case 'munmap':
        return `u${o.page}+${o.pages}`;
      case 'mprotect':
        return `p${o.page}+${o.pages}${o.prot}`;
      case 'mremap':
        return `x${o.page}+${o.pages}>${o.newPages}${o.to === undefined ? '' : `@${o.to}`}`;
      case 'dontneed':
        return `d${o.page}+${o.pages}`;
    }
  };
  return [`S:${g.setup.map(op).join(',')}`, `P:${g.touched.join(',')}`, ...g.threads.map((ops, t) => `T${t}:${ops.map(op).join(',')}`)].join(';');
}

/** encode() backwards, for a scenario of `threads` threads; throws with what is wrong. */
export function decode(s: string, threads = 2): Program {
  const g: Program = { setup: [], touched: [], threads: Array.from({ length: threads }, () => []) };
  const page = (x: string, what: string): number => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 0 || n >= WINDOW) throw new Error(`program: ${what}: page '${x}' is not in 0…${WINDOW - 1}`);
    return n;
  };
  const count = (x: string, at: number, what: string): number => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1 || at + n > WINDOW) throw new Error(`program: ${what}: ${x} pages from p${at} leave the window`);
    return n;
  };
  const op = (w: string): Op => {
    let m: RegExpExecArray | null;
    if ((m = /^([rw])(\d+)$/.exec(w))) return m[1] === 'r' ? { op: 'read', page: page(m[2]!, w) } : { op: 'write', page: page(m[2]!, w) };
    if ((m = /^m(\d+)\+(\d+)(rw|r|n)([afs])$/.exec(w))) return { op: 'mmap', page: page(m[1]!, w), pages: count(m[2]!, Number(m[1]), w), prot: m[3] as Prot, kind: m[4] as Kind };
    if ((m = /^([ud])(\d+)\+(\d+)$/.exec(w))) return { op: m[1] === 'u' ? 'munmap' : 'dontneed', page: page(m[2]!, w), pages: count(m[3]!, Number(m[2]), w) };
    if ((m = /^p(\d+)\+(\d+)(rw|r|n)$/.exec(w))) return { op: 'mprotect', page: page(m[1]!, w), pages: count(m[2]!, Number(m[1]), w), prot: m[3] as Prot };
    if ((m = /^x(\d+)\+(\d+)>(\d+)(?:@(\d+))?$/.exec(w))) {
      const o: Op = { op: 'mremap', page: page(m[1]!, w), pages: count(m[2]!, Number(m[1]), w), newPages: Number(m[3]) };
      if (m[4] !== undefined) o.to = page(m[4], w);
      if (!Number.isInteger(o.newPages) || o.newPages < 1) throw new Error(`program: ${w}: the new size must be at least one page`);
      return o;
    }
    throw new Error(`program: '${w}' is not an operation (r3, w3, m0+2rwa, u1+1, p1+2r, x1+2>3@5, d0+1)`);
  };
  for (const part of s.trim().split(';')) {
    const m = /^(S|P|T(\d+)):(.*)$/.exec(part.trim());
    if (!m) throw new Error(`program: '${part}' is not S:…, P:… or T<n>:…`);
    const items = m[3]!.split(',').filter(Boolean);
    if (m[1] === 'S') {
      g.setup = items.map((w) => {
        const o = op(w);
        if (o.op !== 'mmap') throw new Error(`program: setup holds mmaps only, not '${w}'`);
        return o;
      });
    } else if (m[1] === 'P') g.touched = items.map((x) => page(x, 'P'));
    else {
      const t = Number(m[2]);
      if (t >= threads) throw new Error(`program: T${t}: the scenario has ${threads} threads`);
      g.threads[t] = items.map(op);
    }
  }
  return g;
}
