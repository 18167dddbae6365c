/**
 * The address space of a replayed strace log over time, call by call, for `mmsplit replay --html`: the
 * layout before the first call (as the replay loaded BEFORE), then for each replayed call its trace line,
 * our result against the kernel's, and what it did to /proc/PID/maps — the lines it removed and added, each
 * added one said to have appeared, been split off, merged, grown, shrunk, changed in place or moved, each
 * removed one that nothing replaced said to be removed or moved away. Only the lines that changed are kept:
 * a real program's 7,778 calls over 300 mappings would be 2.3 million lines in full.
 */
import { PAGE_SIZE } from '../mm/frames.js';
import { TASK_SIZE_64 } from '../mm/mm.js';
import { formatMapsLine, mmEntries, parseMaps, parseSnapshot, type MapsEntry } from './maps.js';
import { compareLayouts, replayRecords, type ReplayOptions, type ReplayResult } from './replay.js';
import { parseStraceDetailed, type SyscallRecord } from './strace.js';

/** One mapping as /proc/PID/maps prints it: start, end, perms, offset, dev, inode, name. */
export type TimelineVma = [number, number, string, number, string, number, string];

/** What a call did to an added mapping (ChangeKind) or to a removed one that nothing replaced (GoneKind). */
export type ChangeKind = 'appeared' | 'split' | 'merged' | 'grown' | 'shrunk' | 'changed' | 'moved';
export type GoneKind = 'removed' | 'moved' | '';

export interface TimelineStep {
  /** 1-based trace line that completed the call; the strace text (both halves of an unfinished call). */
  line: number;
  text: string;
  pid: number | null;
  /** The call as the replay prints divergences; the kernel's result and ours. */
  call: string;
  expected: string;
  actual: string;
  matched: boolean;
  /** Indices, in the layout before this call (sorted by address), of the mappings it removed. */
  del: number[];
  /** What happened to each removed mapping when nothing took its place ('' when something did). */
  gone: GoneKind[];
  /** The mappings it added (a changed mapping is removed and added), and what happened to each. */
  add: TimelineVma[];
  kinds: ChangeKind[];
}

export interface ReplayTimeline {
  trace: string;
  maps: string;
  expect: string | null;
  /** The layout the replay started from (BEFORE as loaded; no gate VMA), sorted by address. */
  before: TimelineVma[];
  steps: TimelineStep[];
  calls: number;
  matched: number;
  skipped: number;
  divergences: number;
  /** With an AFTER snapshot: whether the final layout is it, and the lines that differ ('-' AFTER, '+' ours). */
  layoutMatches: boolean | null;
  layoutDiff: string[];
}

/** A line of the layout, as printed and as parsed. */
interface Line { text: string; e: MapsEntry }

const tuple = (e: MapsEntry): TimelineVma => [e.start, e.end, e.perms, e.offset, e.dev, e.inode, e.path];

/** Replays `traceText` from `beforeText` as `replay` does, keeping the layout after every call. */
export function replayTimeline(traceText: string, beforeText: string, opts: ReplayOptions, files: { trace: string; maps: string; expect?: string | undefined; expectText?: string | undefined }): { timeline: ReplayTimeline; result: ReplayResult } {
  const before = parseSnapshot(beforeText, files.maps);
  const { records } = parseStraceDetailed(traceText, files.trace);
  const text = traceText.split('\n');
  const steps: TimelineStep[] = [];
  // The layout before the first call: BEFORE as loaded (loadMaps makes the mm print exactly BEFORE's lines).
  const start = mmEntries(before);
  let prev: Line[] = start.map((e) => ({ text: formatMapsLine(e), e }));
  let brk: number | undefined;
  const result = replayRecords(records, before, {
    ...opts,
    onCall: (c, mm) => {
      const r = c.record;
      const step: TimelineStep = {
        line: r.line, text: r.startLine !== r.line ? `${text[r.startLine - 1]} … ${text[r.line - 1]}` : text[r.line - 1] ?? '',
        pid: r.pid ?? null, call: c.call, expected: c.expected, actual: c.actual, matched: c.matched, del: [], gone: [], add: [], kinds: [],
      };
      // Only the lines of the mappings in or beside what the call could touch can have changed: printing the
      // whole layout after every call took most of the time (7,778 calls of 300-650 mappings for node).
      const [lo, hi] = reach(r, c.result, brk);
      // The window: the pages of [lo, hi) and one page each side, where a neighbour a merge takes in ends.
      const wlo = Math.max(0, Math.floor(lo / PAGE_SIZE) * PAGE_SIZE - PAGE_SIZE), whi = Math.ceil(hi / PAGE_SIZE) * PAGE_SIZE + PAGE_SIZE;
      brk = mm.brk;
      const was = new Map<string, number>();
      prev.forEach((l, i) => { if (l.e.end > wlo && l.e.start < whi) was.set(l.text, i); });
      const is: string[] = [];
      for (let v = mm.findVmaIntersection(wlo, whi); v !== 0; v = mm.findVmaIntersection(mm.vmas.end(v), whi)) {
        is.push(mm.mapsLine(v));
        if (mm.vmas.end(v) >= whi) break;
      }
      const now = new Set(is);
      for (const [l, i] of was) if (!now.has(l)) step.del.push(i);
      step.del.sort((x, y) => x - y);
      const added = is.filter((l) => !was.has(l)).map((l) => ({ text: l, e: parseMaps(l)[0]! }));
      if (step.del.length || added.length) {
        step.add = added.map((l) => tuple(l.e));
        classify(step, step.del.map((i) => prev[i]!.e), added.map((l) => l.e), r, c.result);
        const gone = new Set(step.del);
        prev = prev.filter((_, i) => !gone.has(i)).concat(added).sort((x, y) => x.e.start - y.e.start);
      }
      steps.push(step);
    },
  });
  let layoutMatches: boolean | null = null, layoutDiff: string[] = [];
  if (files.expectText !== undefined) {
    const d = compareLayouts(files.expectText, result.maps, files.expect);
    layoutMatches = d.equal;
    layoutDiff = d.lines.filter((l) => l[0] !== ' ');
  }
  return {
    timeline: {
      trace: files.trace, maps: files.maps, expect: files.expect ?? null, before: start.map(tuple), steps,
      calls: result.calls, matched: result.matched, skipped: result.skipped, divergences: result.divergences, layoutMatches, layoutDiff,
    },
    result,
  };
}

/**
 * Says what happened to each mapping a call added and to each it removed that nothing replaced, from how
 * they overlap: mmap's new range appeared (over what it replaced, when MAP_FIXED), an added one over no
 * removed one appeared too (or moved, at mremap's new address), over two or
 * more merged them, inside a removed one was split off it (with a sibling) or is what is left of it
 * (shrunk), around one grew (brk, mremap) or took in a new mapping (merged), on the same range changed
 * (perms, flags, name).
 */
function classify(step: TimelineStep, removed: MapsEntry[], added: MapsEntry[], call: SyscallRecord, result: number): void {
  const overlaps = (a: MapsEntry, b: MapsEntry) => a.start < b.end && b.start < a.end;
  const pages = (n: number) => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
  const mremap = call.name === 'mremap' ? call.args : null;
  const moved = mremap !== null && result >= 0 && result !== mremap.addr;
  const oldEnd = mremap ? mremap.addr + pages(mremap.oldLength) : 0;
  const mapped = call.name === 'mmap' && result >= 0 ? [result, result + pages(call.args.length)] : null;
  for (const a of added) {
    const under = removed.filter((r) => overlaps(a, r));
    let kind: ChangeKind;
    if (mapped && a.start === mapped[0] && a.end === mapped[1]) kind = 'appeared';
    else if (under.length === 0) kind = moved && a.start >= result ? 'moved' : 'appeared';
    else if (under.length > 1) kind = 'merged';
    else {
      const r = under[0]!;
      if (a.start === r.start && a.end === r.end) kind = 'changed';
      else if (a.start >= r.start && a.end <= r.end) kind = added.filter((o) => o.start >= r.start && o.end <= r.end).length > 1 ? 'split' : 'shrunk';
      else if (a.start <= r.start && a.end >= r.end) kind = step.call.startsWith('mmap') ? 'merged' : 'grown';
      else kind = 'appeared';
    }
    step.kinds.push(kind);
  }
  for (const r of removed) {
    step.gone.push(added.some((a) => overlaps(a, r)) ? '' : moved && r.start >= mremap!.addr && r.end <= oldEnd ? 'moved' : 'removed');
  }
}

/**
 * The addresses a call may have changed the layout in, [lo, hi): its range, and for mmap and mremap where
 * the mapping went; the whole space when that cannot be known (a first brk, whose old break is not known
 * yet). The mappings beside the range (a merge takes them in) are looked at by the caller.
 */
function reach(r: SyscallRecord, result: number, brk: number | undefined): [number, number] {
  const pages = (n: number) => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
  const all: [number, number] = [0, TASK_SIZE_64];
  const span = (...ranges: [number, number][]): [number, number] => [Math.min(...ranges.map((x) => x[0])), Math.max(...ranges.map((x) => x[1]))];
  switch (r.name) {
    case 'mmap': {
      const a = r.args, len = pages(a.length);
      // MAP_FIXED unmaps its range even when the mapping then fails; a hint is only a hint.
      return result >= 0 ? span([result, result + len], [a.addr, a.addr + len]) : [a.addr, a.addr + len];
    }
    case 'munmap': case 'mprotect': case 'pkey_mprotect': case 'madvise': return [r.args.addr, r.args.addr + pages(r.args.length)];
    case 'mremap': {
      const a = r.args, ranges: [number, number][] = [[a.addr, a.addr + pages(Math.max(a.oldLength, a.newLength))]];
      if (a.newAddr !== undefined) ranges.push([a.newAddr, a.newAddr + pages(a.newLength)]);
      if (result >= 0) ranges.push([result, result + pages(a.newLength)]);
      return span(...ranges);
    }
    case 'brk': return brk === undefined ? all : span([Math.min(brk, r.args.addr), Math.max(brk, r.args.addr)], [Math.min(brk, result >= 0 ? result : brk), Math.max(brk, result)]);
    default: return all;
  }
}
