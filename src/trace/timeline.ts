/**
 * The address space of a replayed strace log over time, call by call, for `mmsplit replay --html`: the
 * layout before the first call (as the replay loaded BEFORE), then for each replayed call its trace line,
 * our result against the kernel's, and what it did to /proc/PID/maps — the lines it removed and added, each
 * added one said to have appeared, been split off, merged, grown, shrunk, changed in place or moved, each
 * removed one that nothing replaced said to be removed or moved away. Only the lines that changed are kept:
 * a real program's 7,778 calls over 300 mappings would be 2.3 million lines in full.
 */
import { PAGE_SIZE } from '../mm/frames.js';
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

const tuple = (e: MapsEntry): TimelineVma => [e.start, e.end, e.perms, e.offset, e.dev, e.inode, e.path];

/** Replays `traceText` from `beforeText` as `replay` does, keeping the layout after every call. */
export function replayTimeline(traceText: string, beforeText: string, opts: ReplayOptions, files: { trace: string; maps: string; expect?: string | undefined; expectText?: string | undefined }): { timeline: ReplayTimeline; result: ReplayResult } {
  const before = parseSnapshot(beforeText, files.maps);
  const { records } = parseStraceDetailed(traceText, files.trace);
  const text = traceText.split('\n');
  const steps: TimelineStep[] = [];
  // The layout before the first call: BEFORE as loaded (loadMaps makes the mm print exactly BEFORE's lines).
  const start = mmEntries(before);
  let prev = start.map(formatMapsLine);
  let prevText = prev.map((l) => l + '\n').join('');
  const result = replayRecords(records, before, {
    ...opts,
    onCall: (c, mm) => {
      const r = c.record;
      const now = mm.formatMaps();
      const step: TimelineStep = {
        line: r.line, text: r.startLine !== r.line ? `${text[r.startLine - 1]} … ${text[r.line - 1]}` : text[r.line - 1] ?? '',
        pid: r.pid ?? null, call: c.call, expected: c.expected, actual: c.actual, matched: c.matched, del: [], gone: [], add: [], kinds: [],
      };
      if (now !== prevText) {
        const lines = now === '' ? [] : now.slice(0, -1).split('\n');
        const had = new Set(prev), has = new Set(lines);
        prev.forEach((l, i) => { if (!has.has(l)) step.del.push(i); });
        const removed = step.del.map((i) => parseMaps(prev[i]!)[0]!);
        const added = lines.filter((l) => !had.has(l)).map((l) => parseMaps(l)[0]!);
        step.add = added.map(tuple);
        classify(step, removed, added, c.record, c.result);
        prev = lines;
        prevText = now;
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
