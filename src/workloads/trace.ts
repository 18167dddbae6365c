/**
 * A real program's strace log as a lab workload: each worker thread replays the program's memory calls, in
 * order, on the shared address space, and faults in what they map — so several "copies" of the program run
 * in one mm at once, each taking mmap_lock for write as often as the program did, each faulting as the
 * program's memory comes into use.
 *
 * Addresses are relocated, because the copies share one address space: a call that let the kernel choose
 * (no MAP_FIXED) is made with no hint, and from then on the trace's range [ret, ret + len) stands for the
 * range our kernel returned. Every later address of the trace is translated through those ranges, and a
 * call acts only on the parts of its range that this worker mapped itself — never on another copy's, nor
 * on the layout before the trace (the executable, ld.so, the stack), which the copies cannot share.
 * What cannot be relocated is left out and counted: brk (one heap per mm), calls that failed in the trace,
 * MAP_FIXED onto a range the worker did not map, calls strace did not decode.
 *
 * What is faulted in: after an mmap, an mremap that grew, or an mprotect that opened a range, every page of
 * the new range, written when it is writable and read when it is only readable — at most
 * `pagesPerPass` pages per pass over the trace, so a program that maps gigabytes stays within the frames
 * the lab gives each worker. At the end of a pass the worker unmaps whatever it still has and starts again.
 */
import { PAGE_SIZE } from '../mm/frames.js';
import type { MmStruct } from '../mm/mm.js';
import {
  MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MREMAP_DONTUNMAP, MREMAP_FIXED, PROT_READ, PROT_WRITE,
} from '../mm/uapi.js';
import { sysMadvise } from '../mm/madvise.js';
import { sysMmap } from '../mm/mmap.js';
import { sysMprotect } from '../mm/mprotect.js';
import { sysMremap } from '../mm/mremap.js';
import { parseStrace, type SyscallRecord } from '../trace/strace.js';

/** One call of the trace, as the replay needs it (structured-cloneable: it travels to the workers). */
export interface TraceCall {
  /** 1-based line of the trace that completed the call. */
  line: number;
  name: 'mmap' | 'munmap' | 'mprotect' | 'mremap' | 'madvise';
  addr: number;
  /** mmap, munmap, mprotect, madvise: the length; mremap: the old length. */
  len: number;
  /** mmap, mprotect: prot; madvise: advice; mremap: the new length. */
  arg: number;
  /** mmap, mremap: flags. */
  flags: number;
  /** mmap of a file: index into TraceProgram.files; -1 otherwise. */
  file: number;
  /** mmap: file offset; mremap: new_address (MREMAP_FIXED). */
  offset: number;
  /** What the call returned in the trace (mmap, mremap: the address). */
  ret: number;
}

export interface TraceProgram {
  /** Where the trace came from (for messages). */
  source: string;
  calls: TraceCall[];
  /** Paths of the files the trace maps; the lab gives each a page-cache file. */
  files: string[];
  /** Calls of the trace left out, by reason. */
  left: { failed: number; unfinished: number; brk: number; other: number };
}

/**
 * Reads a trace (what `strace -f -y -e trace=memory` printed) into the calls a worker replays. Throws
 * StraceParseError naming `source` and the line on malformed input.
 */
export function compileTrace(text: string, source = '<trace>'): TraceProgram {
  return compileRecords(parseStrace(text, source), source);
}

export function compileRecords(records: readonly SyscallRecord[], source: string): TraceProgram {
  const files: string[] = [];
  const fileIndex = new Map<string, number>();
  const calls: TraceCall[] = [];
  const left = { failed: 0, unfinished: 0, brk: 0, other: 0 };
  for (const r of records) {
    if (r.ret === undefined) { left.unfinished++; continue; }
    if (r.ret === -1) { left.failed++; continue; }
    const c: TraceCall = { line: r.line, name: 'munmap', addr: 0, len: 0, arg: 0, flags: 0, file: -1, offset: 0, ret: r.ret };
    switch (r.name) {
      case 'mmap': {
        const a = r.args;
        Object.assign(c, { name: 'mmap', addr: a.addr, len: a.length, arg: a.prot, flags: a.flags, offset: a.offset });
        if (!(a.flags & MAP_ANONYMOUS)) {
          const path = a.fd.path ?? `fd ${a.fd.fd}`; // without -y, one file per fd number
          let f = fileIndex.get(path);
          if (f === undefined) {
            f = files.push(path) - 1;
            fileIndex.set(path, f);
          }
          c.file = f;
        }
        break;
      }
      case 'munmap': Object.assign(c, { addr: r.args.addr, len: r.args.length }); break;
      case 'mprotect': Object.assign(c, { name: 'mprotect', addr: r.args.addr, len: r.args.length, arg: r.args.prot }); break;
      case 'pkey_mprotect':
        if (r.args.pkey !== -1) { left.other++; continue; }
        Object.assign(c, { name: 'mprotect', addr: r.args.addr, len: r.args.length, arg: r.args.prot });
        break;
      case 'madvise': Object.assign(c, { name: 'madvise', addr: r.args.addr, len: r.args.length, arg: r.args.advice }); break;
      case 'mremap':
        Object.assign(c, { name: 'mremap', addr: r.args.addr, len: r.args.oldLength, arg: r.args.newLength, flags: r.args.flags, offset: r.args.newAddr ?? 0 });
        break;
      case 'brk': left.brk++; continue;
      default: left.other++; continue;
    }
    calls.push(c);
  }
  return { source, calls, files, left };
}

const pageUp = (n: number) => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** What one pass did. */
export interface PassCounts {
  /** Calls made on the address space. */
  calls: number;
  /** Calls of the trace not made (nothing of their range was this worker's, or MAP_FIXED elsewhere). */
  skipped: number;
  /** Pages touched to fault them in. */
  touched: number;
}

/** The memory a replaying worker touches and the unmap it has timed; supplied by the lab's role. */
export interface ReplayHooks {
  store8(addr: number, v: number): void;
  load8(addr: number): number;
  munmap(addr: number, len: number): number;
  /** Called between calls: a quiescent state, and a chance to stop early (false). */
  between(): boolean;
}

/**
 * One worker's replay of a TraceProgram. `ranges` holds, sorted and disjoint, the trace ranges this worker
 * has mapped and the offset from each to its own: [start, end) of the trace is [start + delta, end + delta)
 * here. Invariant: they cover exactly the mappings this worker made and has not unmapped.
 */
export class TraceReplayer {
  /** (start, end, delta) triples, `count` of them; typed and reused, so a call allocates nothing. */
  private ranges = new Float64Array(3 * 64);
  private count = 0;
  /** pieces()'s answer, overwritten by the next call. */
  private piecesOut = new Float64Array(3 * 16);

  constructor(
    private readonly program: TraceProgram,
    /** Page-cache file id of each of program.files, in the address space the worker runs on. */
    private readonly fileIds: readonly number[],
    private readonly pagesPerPass: number,
  ) {}

  /** Replays the whole trace once, then unmaps what is left. */
  runPass(mm: MmStruct, hooks: ReplayHooks): PassCounts {
    const n: PassCounts = { calls: 0, skipped: 0, touched: 0 };
    let budget = this.pagesPerPass;
    const touch = (start: number, end: number, prot: number): void => {
      if (!(prot & (PROT_READ | PROT_WRITE))) return;
      for (let a = start; a < end && budget > 0; a += PAGE_SIZE, budget--, n.touched++) {
        if (prot & PROT_WRITE) hooks.store8(a, 1);
        else hooks.load8(a);
      }
    };
    for (const c of this.program.calls) {
      if (!hooks.between()) break;
      const len = pageUp(c.len);
      switch (c.name) {
        case 'mmap': {
          let addr = 0;
          let flags = c.flags;
          if (flags & MAP_FIXED) {
            const d = this.deltaOver(c.addr, c.addr + len);
            if (d === undefined) { n.skipped++; continue; }
            addr = c.addr + d;
          } else {
            flags &= ~MAP_FIXED_NOREPLACE; // the trace's address means nothing here: let our kernel choose
          }
          if (!(flags & MAP_FIXED)) this.forget(c.ret, c.ret + len, hooks); // the trace reuses a range we still map
          const r = sysMmap(mm, addr, len, c.arg, flags, c.file < 0 ? 0 : this.fileIds[c.file]!, c.offset);
          n.calls++;
          if (r < 0) continue; // our layout refused what the program's allowed (say, ENOMEM): carry on
          if (!(flags & MAP_FIXED)) this.remember(c.ret, c.ret + len, r - c.ret);
          touch(r, r + len, c.arg);
          break;
        }
        case 'munmap':
        case 'mprotect':
        case 'madvise': {
          const found = this.pieces(c.addr, c.addr + len);
          if (found === 0) { n.skipped++; continue; }
          const pieces = this.piecesOut;
          for (let i = 0; i < 3 * found; i += 3) {
            const s = pieces[i]!, e = pieces[i + 1]!, d = pieces[i + 2]!;
            n.calls++;
            if (c.name === 'munmap') {
              hooks.munmap(s + d, e - s);
              this.cut(s, e);
            } else if (c.name === 'mprotect') {
              if (sysMprotect(mm, s + d, e - s, c.arg) === 0) touch(s + d, e + d, c.arg);
            } else {
              sysMadvise(mm, s + d, e - s, c.arg);
            }
          }
          break;
        }
        case 'mremap': {
          const oldLen = pageUp(c.len);
          const d = oldLen === 0 ? undefined : this.deltaOver(c.addr, c.addr + oldLen);
          let newAddr = 0;
          if (d !== undefined && c.flags & MREMAP_FIXED) {
            const nd = this.deltaOver(c.offset, c.offset + pageUp(c.arg));
            if (nd === undefined) { n.skipped++; continue; }
            newAddr = c.offset + nd;
          }
          if (d === undefined) { n.skipped++; continue; }
          const newLen = pageUp(c.arg);
          const r = sysMremap(mm, c.addr + d, oldLen, newLen, c.flags, newAddr);
          n.calls++;
          if (r < 0) continue;
          const prot = this.protAt(mm, r);
          if (!(c.flags & MREMAP_DONTUNMAP)) this.cut(c.addr, c.addr + oldLen);
          this.forget(c.ret, c.ret + newLen, hooks);
          this.remember(c.ret, c.ret + newLen, r - c.ret);
          if (newLen > oldLen) touch(r + oldLen, r + newLen, prot);
          break;
        }
      }
    }
    // The program exits: what it still maps goes.
    const r = this.ranges;
    for (let i = 0; i < 3 * this.count; i += 3) hooks.munmap(r[i]! + r[i + 2]!, r[i + 1]! - r[i]!);
    this.count = 0;
    return n;
  }

  /**
   * Checks the invariant against `mm`, where this worker is the only one mapping: the remembered ranges are
   * sorted, disjoint and page-aligned, each is mapped (no hole of ours inside), and the mm maps nothing
   * else outside `others` bytes (mappings that were there before the replay began). Throws on a breach.
   */
  validate(mm: MmStruct, others = 0): void {
    let total = 0;
    const r = this.ranges;
    for (let i = 0; i < this.count; i++) {
      const s = r[3 * i]!, e = r[3 * i + 1]!, d = r[3 * i + 2]!;
      if (s % PAGE_SIZE || e % PAGE_SIZE || s >= e || (i > 0 && s < r[3 * i - 2]!)) throw new Error(`trace replay: range ${i} [${s.toString(16)}, ${e.toString(16)}) is not sorted, disjoint and aligned`);
      for (let a = s + d; a < e + d;) {
        const v = mm.findVma(a);
        if (v === 0 || mm.vmas.start(v) > a) throw new Error(`trace replay: 0x${a.toString(16)} (trace 0x${(a - d).toString(16)}) should be mapped`);
        a = Math.min(mm.vmas.end(v), e + d);
      }
      total += e - s;
    }
    let mapped = 0;
    for (let v = mm.findVma(0); v !== 0; v = mm.findVma(mm.vmas.end(v))) mapped += mm.vmas.end(v) - mm.vmas.start(v);
    if (mapped !== total + others) throw new Error(`trace replay: the mm maps ${mapped - others} bytes, the replay remembers ${total}`);
  }

  /** The delta of the one remembered range that covers all of [s, e), if there is one. */
  private deltaOver(s: number, e: number): number | undefined {
    const r = this.ranges;
    for (let i = 0; i < 3 * this.count; i += 3) {
      if (r[i]! <= s && e <= r[i + 1]!) return r[i + 2];
    }
    return undefined;
  }

  /** The parts of [s, e) this worker maps, as (start, end, delta) triples in trace addresses, into piecesOut; returns how many. */
  private pieces(s: number, e: number): number {
    const r = this.ranges;
    let found = 0;
    for (let i = 0; i < 3 * this.count; i += 3) {
      const ps = Math.max(s, r[i]!), pe = Math.min(e, r[i + 1]!);
      if (ps >= pe) continue;
      if (3 * found === this.piecesOut.length) this.piecesOut = grown(this.piecesOut);
      const out = this.piecesOut;
      out[3 * found] = ps;
      out[3 * found + 1] = pe;
      out[3 * found + 2] = r[i + 2]!;
      found++;
    }
    return found;
  }

  /** The prot bits of our VMA at `addr` (for pages an mremap added). */
  private protAt(mm: MmStruct, addr: number): number {
    const v = mm.findVma(addr);
    return v === 0 ? 0 : mm.vmas.flags(v) & (PROT_READ | PROT_WRITE); // VM_READ = 1, VM_WRITE = 2
  }

  private remember(s: number, e: number, delta: number): void {
    let i = 0;
    while (i < this.count && this.ranges[3 * i]! < s) i++;
    this.insertAt(i, s, e, delta);
  }

  /** Drops [s, e) from the remembered ranges (our kernel has already unmapped or moved it). */
  private cut(s: number, e: number): void {
    const r = this.ranges;
    for (let i = this.count - 1; i >= 0; i--) {
      const a = r[3 * i]!, b = r[3 * i + 1]!;
      if (b <= s || e <= a) continue;
      if (a < s && e < b) {
        r[3 * i + 1] = s; // a hole in the middle: [a, s) stays here, [e, b) follows it
        this.insertAt(i + 1, e, b, r[3 * i + 2]!);
      } else if (a < s) {
        r[3 * i + 1] = s;
      } else if (e < b) {
        r[3 * i] = e;
      } else {
        this.ranges.copyWithin(3 * i, 3 * (i + 1), 3 * this.count);
        this.count--;
      }
    }
  }

  private insertAt(i: number, s: number, e: number, delta: number): void {
    if (3 * this.count === this.ranges.length) this.ranges = grown(this.ranges);
    const r = this.ranges;
    r.copyWithin(3 * (i + 1), 3 * i, 3 * this.count);
    r[3 * i] = s;
    r[3 * i + 1] = e;
    r[3 * i + 2] = delta;
    this.count++;
  }

  /** A range the trace reuses while we still map it (we left out the call that freed it): unmap ours. */
  private forget(s: number, e: number, hooks: ReplayHooks): void {
    const found = this.pieces(s, e);
    const p = this.piecesOut;
    for (let i = 0; i < 3 * found; i += 3) hooks.munmap(p[i]! + p[i + 2]!, p[i + 1]! - p[i]!);
    this.cut(s, e);
  }
}

/** A copy of `a` twice as long. */
function grown(a: Float64Array): Float64Array<ArrayBuffer> {
  const b = new Float64Array(2 * a.length);
  b.set(a);
  return b;
}
