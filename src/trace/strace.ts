/**
 * Parser for what `strace [-f] -y -e trace=memory …` writes.
 *
 * One pass over the text, a hand-written scanner on char codes (no per-line regular expressions: a trace can
 * have millions of lines and the replay wants ≥ 200 K calls/s end to end). It understands:
 *  - pid prefixes of `strace -f` (`[pid  1234] ` on a terminal, `1234  ` with `-o`), timestamps of
 *    `-t/-tt/-ttt/-r`, the instruction pointer of `-i`, the syscall number of `-n`, the duration of `-T`;
 *  - `<unfinished ...>` / `<... NAME resumed>` halves, joined per pid;
 *  - every spelling strace uses for numbers and flags: `NULL`, decimal, `0x…`, octal, names joined by `|`,
 *    unknown bits as `0x…`, `N<<MAP_HUGE_SHIFT`, and `-X verbose` / `-X raw` (`0x3 /* PROT_READ|PROT_WRITE *\/`);
 *  - the `-y` fd decoration `3</path with spaces>` (and `-yy`'s nested `<char 1:5>`), with strace's escapes undone;
 *  - results `= 0x7f…`, `= 0`, `= -1 ENOMEM (Cannot allocate memory)`, `= ?`, `= ? ERESTARTNOINTR (…)`.
 *  - `--decode-pids=comm` (-Y) names after pids: `1234<python3> `, `[pid 1234<node>] `.
 * Lines that are not calls (`+++ exited with 0 +++`, `--- SIGSEGV {…} ---`, `strace: Process 1 attached`) and
 * calls outside strace's memory class are counted and skipped; memory calls we do not decode become `other`
 * records. Anything else throws {@link StraceParseError} with `file:line: expected …`.
 *
 * {@link parseStrace} takes a whole text; {@link StraceParser} takes it in chunks (a file read as a stream).
 *
 * Numbers are JS numbers: exact below 2^53 (every user address and sane length is); a value above that
 * (e.g. a deliberately bad length of 2^64-1) is rounded and its record carries `lossy: true`.
 */
import { EOPNOTSUPP, MADV, MAP, MREMAP, PROT, UAPI_ERRNO } from '../mm/uapi.js';

// ---------------------------------------------------------------------------------------------------------
// Names strace prints

// The uapi of the calls we decode (src/mm/uapi.ts), for the parser's tables and for users of this module.
export { MADV, MAP, MREMAP, PROT };

/**
 * Flags of the memory calls we do not decode field by field (msync, mlock2, mlockall), for `other` records:
 * uapi too (asm-generic/mman-common.h, mman.h), but of calls our mm does not implement.
 */
const MISC_FLAGS = {
  MS_ASYNC: 1,
  MS_INVALIDATE: 2,
  MS_SYNC: 4,
  MLOCK_ONFAULT: 1,
  MCL_CURRENT: 1,
  MCL_FUTURE: 2,
  MCL_ONFAULT: 4,
} as const;

/**
 * errno names → numbers: the uapi ones; glibc's ENOTSUP (EOPNOTSUPP); and the kernel-internal restart codes
 * (include/linux/errno.h) that strace shows with `= ?` when a signal interrupted the call — user space never
 * sees them as an errno, and our mm never returns one.
 */
export const ERRNO: Readonly<Record<string, number>> = {
  ...UAPI_ERRNO,
  ENOTSUP: EOPNOTSUPP,
  ERESTARTSYS: 512, ERESTARTNOINTR: 513, ERESTARTNOHAND: 514, ENOIOCTLCMD: 515, ERESTART_RESTARTBLOCK: 516,
};

// ---------------------------------------------------------------------------------------------------------
// Records

/** A file descriptor argument; `path` is the `-y` decoration (absent without -y, or for `-1`). */
export interface FdArg {
  fd: number;
  path: string | undefined;
}

export interface MmapArgs { addr: number; length: number; prot: number; flags: number; fd: FdArg; offset: number }
export interface MunmapArgs { addr: number; length: number }
export interface MprotectArgs { addr: number; length: number; prot: number }
export interface PkeyMprotectArgs { addr: number; length: number; prot: number; pkey: number }
/** `newAddr` is printed (and present) only when flags hold both MREMAP_MAYMOVE and MREMAP_FIXED. */
export interface MremapArgs { addr: number; oldLength: number; newLength: number; flags: number; newAddr: number | undefined }
export interface BrkArgs { addr: number }
export interface MadviseArgs { addr: number; length: number; advice: number }
/** An argument of an `other` record: a number (flags decoded when every name is known), an fd, or raw text. */
export type OtherArg = number | FdArg | string;

interface RecordBase {
  /** 1-based line that completed the call (the `resumed` line for a split call). */
  line: number;
  /** 1-based line where the call started (differs from `line` only for `<unfinished ...>` calls). */
  startLine: number;
  /** Thread id from the `strace -f` prefix; undefined when strace printed none. */
  pid: number | undefined;
  /** Return value (an address for mmap/mremap/brk, else 0); -1 on error; undefined for `= ?`. */
  ret: number | undefined;
  /** errno name on failure (`ENOMEM`), or the restart code shown with `= ?`. */
  errno: string | undefined;
  /** errno number (12 for ENOMEM); undefined when no errno or an unknown name. */
  errnoNum: number | undefined;
  /** True when some number of this call exceeded 2^53 and was rounded. */
  lossy: boolean;
}

export interface MmapRecord extends RecordBase { name: 'mmap'; args: MmapArgs }
export interface MunmapRecord extends RecordBase { name: 'munmap'; args: MunmapArgs }
export interface MprotectRecord extends RecordBase { name: 'mprotect'; args: MprotectArgs }
export interface PkeyMprotectRecord extends RecordBase { name: 'pkey_mprotect'; args: PkeyMprotectArgs }
export interface MremapRecord extends RecordBase { name: 'mremap'; args: MremapArgs }
export interface BrkRecord extends RecordBase { name: 'brk'; args: BrkArgs }
export interface MadviseRecord extends RecordBase { name: 'madvise'; args: MadviseArgs }
/** A call of strace's memory class that is not decoded field by field (mlock, msync, mincore, mbind, shmat …). */
export interface OtherRecord extends RecordBase { name: 'other'; syscall: string; args: OtherArg[] }

export type SyscallRecord =
  | MmapRecord
  | MunmapRecord
  | MprotectRecord
  | PkeyMprotectRecord
  | MremapRecord
  | BrkRecord
  | MadviseRecord
  | OtherRecord;

export type DecodedName = Exclude<SyscallRecord['name'], 'other'>;

/** How every line of the input was used; the fields add up to `lines`. */
export interface StraceStats {
  lines: number;
  /** Complete one-line calls that produced a record. */
  calls: number;
  /** `<unfinished ...>` lines of memory calls (their record comes from the resumed line). */
  unfinished: number;
  /** `<... resumed>` lines of memory calls (each produced a record). */
  resumed: number;
  /** Lines of calls outside strace's memory class (either half of a split one too). */
  nonMemory: number;
  /** `+++ exited with 0 +++`, `+++ killed by SIGKILL +++`. */
  exits: number;
  /** `--- SIGSEGV {…} ---`, `--- stopped by SIGSTOP ---`. */
  signals: number;
  /** strace's own messages: `strace: Process 1 attached`, `[ Process PID=1 runs in 64 bit mode. ]`, `-k` frames. */
  messages: number;
  blank: number;
}

export interface StraceParse {
  records: SyscallRecord[];
  stats: StraceStats;
  /**
   * Memory calls left `<unfinished ...>` for good — their thread exited (`+++`) or the input ended before the
   * resumed half: not in `records`, since their result is unknown.
   */
  pending: { pid: number | undefined; name: string; startLine: number }[];
}

export class StraceParseError extends Error {
  readonly file: string;
  readonly line: number;
  readonly expected: string;
  constructor(file: string, line: number, expected: string, text?: string) {
    const shown = text === undefined ? '' : ` in ${JSON.stringify(text.length > 160 ? text.slice(0, 157) + '...' : text)}`;
    super(`${file}:${line}: expected ${expected}${shown}`);
    this.name = 'StraceParseError';
    this.file = file;
    this.line = line;
    this.expected = expected;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tables

function table(...objs: Readonly<Record<string, number>>[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const o of objs) for (const [k, v] of Object.entries(o)) m.set(k, v);
  return m;
}
const PROT_T = table(PROT);
/** MAP_ flag names; MAP_TYPE (a mask) and MAP_HUGE_SHIFT (a shift) are not flags strace prints. */
const MAP_T = table(MAP);
MAP_T.delete('MAP_TYPE');
MAP_T.delete('MAP_HUGE_SHIFT');
/** Shift names strace prints after `<<`. */
const SHIFTS = new Map<string, number>([['MAP_HUGE_SHIFT', MAP.MAP_HUGE_SHIFT]]);
const MREMAP_T = table(MREMAP);
const MADV_T = table(MADV);
const ANY_T = table(PROT, MAP, MREMAP, MADV, MISC_FLAGS);
ANY_T.delete('MAP_TYPE');
ANY_T.delete('MAP_HUGE_SHIFT');

const DECODED: ReadonlySet<string> = new Set(['mmap', 'munmap', 'mprotect', 'pkey_mprotect', 'mremap', 'brk', 'madvise']);

/** The rest of strace's memory class (`-e trace=memory`, flag TM) on x86-64: parsed as `other` records. */
const OTHER_MEMORY: ReadonlySet<string> = new Set([
  'msync', 'mincore', 'mlock', 'mlock2', 'munlock', 'mlockall', 'munlockall', 'shmat', 'shmdt', 'io_setup',
  'io_destroy', 'remap_file_pages', 'mbind', 'set_mempolicy', 'get_mempolicy', 'set_mempolicy_home_node',
  'migrate_pages', 'move_pages', 'io_uring_register', 'map_shadow_stack', 'mseal',
]);

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;

/** Bitwise OR of two non-negative integers that may exceed 32 bits. */
function orBits(a: number, b: number): number {
  if (a < 0x80000000 && b < 0x80000000) return a | b;
  const ah = Math.floor(a / TWO32), bh = Math.floor(b / TWO32);
  const lo = ((a - ah * TWO32) | (b - bh * TWO32)) >>> 0;
  const hi = (ah | bh) >>> 0;
  return hi * TWO32 + lo;
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95; // A-Z a-z _
}
function isIdentChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (c >= 48 && c <= 57);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Undo strace's quoting of a path: `\\`, `\"`, `\n`-style, octal `\76`, hex `\x3e`. */
function unescapePath(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  const bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length) {
      out += Buffer.from(bytes).toString('utf8');
      bytes.length = 0;
    }
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 92 || i + 1 >= s.length) {
      flush();
      out += s[i];
      continue;
    }
    const d = s.charCodeAt(++i);
    if (d >= 48 && d <= 55) {
      let v = d - 48;
      for (let k = 0; k < 2 && i + 1 < s.length; k++) {
        const e = s.charCodeAt(i + 1);
        if (e < 48 || e > 55) break;
        v = v * 8 + (e - 48);
        i++;
      }
      bytes.push(v & 0xff);
    } else if (d === 120 /* x */ && i + 2 < s.length && hexVal(s.charCodeAt(i + 1)) >= 0 && hexVal(s.charCodeAt(i + 2)) >= 0) {
      bytes.push(hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2)));
      i += 2;
    } else {
      flush();
      const m: Record<string, string> = { n: '\n', t: '\t', r: '\r', v: '\v', f: '\f', a: '\x07', b: '\b', e: '\x1b' };
      out += m[s[i]!] ?? s[i];
    }
  }
  flush();
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The scanner

class Scanner {
  s = '';
  p = 0;
  end = 0;
  lossy = false;
  file = '';
  line = 0;
  lineText = '';

  fail(expected: string): never {
    throw new StraceParseError(this.file, this.line, expected, this.lineText);
  }

  /** Unsigned or negative integer in strace's spellings: decimal, 0x hex, 0-prefixed octal. */
  num(what: string): number {
    const s = this.s;
    let p = this.p;
    let neg = false;
    if (s.charCodeAt(p) === 45 /* - */) {
      neg = true;
      p++;
    }
    let c = s.charCodeAt(p);
    if (!isDigit(c)) this.fail(what);
    let v = 0;
    if (c === 48 && (s.charCodeAt(p + 1) | 0x20) === 120 /* 0x */) {
      p += 2;
      const start = p;
      let h: number;
      while (p < this.end && (h = hexVal(s.charCodeAt(p))) >= 0) {
        v = v * 16 + h;
        p++;
      }
      if (p === start) this.fail(what);
    } else if (c === 48 && isDigit(s.charCodeAt(p + 1))) {
      p++;
      while (p < this.end && (c = s.charCodeAt(p)) >= 48 && c <= 55) {
        v = v * 8 + (c - 48);
        p++;
      }
    } else {
      while (p < this.end && (c = s.charCodeAt(p)) >= 48 && c <= 57) {
        v = v * 10 + (c - 48);
        p++;
      }
    }
    if (v >= TWO53) this.lossy = true;
    this.p = p;
    return neg ? -v : v;
  }

  /** `NULL` or a number. */
  addr(what: string): number {
    const s = this.s, p = this.p;
    if (s.charCodeAt(p) === 78 /* N */ && s.startsWith('NULL', p)) {
      this.p = p + 4;
      return 0;
    }
    const v = this.num(what);
    this.skipComment();
    return v;
  }

  /** A non-negative length or count (strace prints them in decimal). */
  len(what: string): number {
    const v = this.num(what);
    this.skipComment();
    return v;
  }

  /** ` /* … *\/` after a value (`-X verbose`, unknown values of xval tables); strace may nest them. */
  skipComment(): void {
    const s = this.s;
    let p = this.p;
    if (s.charCodeAt(p) !== 32 || s.charCodeAt(p + 1) !== 47 || s.charCodeAt(p + 2) !== 42) return;
    p += 3;
    let depth = 1;
    while (p < this.end) {
      const c = s.charCodeAt(p);
      if (c === 47 && s.charCodeAt(p + 1) === 42) {
        depth++;
        p += 2;
      } else if (c === 42 && s.charCodeAt(p + 1) === 47) {
        p += 2;
        if (--depth === 0) break;
      } else p++;
    }
    if (depth !== 0) this.fail("'*/' closing the comment");
    this.p = p;
  }

  ident(): string {
    const s = this.s;
    const start = this.p;
    let p = start;
    while (p < this.end && isIdentChar(s.charCodeAt(p))) p++;
    this.p = p;
    return s.slice(start, p);
  }

  /** `NAME|NAME|0x40|21<<MAP_HUGE_SHIFT`, or a plain number, optionally followed by a comment. */
  flags(t: Map<string, number>, what: string): number {
    const s = this.s;
    let v = 0;
    for (;;) {
      const c = s.charCodeAt(this.p);
      let part: number;
      if (isDigit(c)) {
        part = this.num(what);
        if (s.charCodeAt(this.p) === 60 && s.charCodeAt(this.p + 1) === 60 /* << */) {
          this.p += 2;
          const shiftName = this.ident();
          const shift = shiftName === '' ? this.num(what) : SHIFTS.get(shiftName);
          if (shift === undefined) this.fail(`a shift name after '<<' in ${what}`);
          part = part * 2 ** shift;
        }
      } else if (isIdentStart(c)) {
        const name = this.ident();
        const known = t.get(name);
        if (known === undefined) this.fail(`${what} (unknown name ${name})`);
        part = known;
      } else {
        this.fail(what);
      }
      v = orBits(v, part);
      if (s.charCodeAt(this.p) === 124 /* | */) {
        this.p++;
        continue;
      }
      break;
    }
    this.skipComment();
    return v;
  }

  /** `-1`, `3`, `3</path>`, `3</dev/zero<char 1:5>>`. */
  fd(what: string): FdArg {
    const fd = this.num(what);
    const path = this.s.charCodeAt(this.p) === 60 /* < */ ? this.decoration(fd) : undefined;
    this.skipComment();
    return { fd, path };
  }

  /** The `<…>` after an fd, at this.p; returns the path without a nested `<char 1:5>`, escapes undone. */
  decoration(fd: number): string {
    const s = this.s;
    const start = this.p + 1;
    let p = start;
    let depth = 1;
    let inner = -1;
    while (p < this.end) {
      const c = s.charCodeAt(p);
      if (c === 92 /* \ */) p += 2;
      else if (c === 60) {
        if (depth === 1 && inner < 0) inner = p;
        depth++;
        p++;
      } else if (c === 62 /* > */) {
        if (--depth === 0) break;
        p++;
      } else p++;
    }
    if (depth !== 0) this.fail(`'>' closing the path of fd ${fd}`);
    this.p = p + 1;
    return unescapePath(s.slice(start, inner >= 0 ? inner : p));
  }

  /** Skip one argument of unknown shape, up to the `,` or `)` that ends it; return its [start, end). */
  skipArg(): number {
    const s = this.s;
    const start = this.p;
    let p = start;
    let depth = 0;
    while (p < this.end) {
      const c = s.charCodeAt(p);
      if (c === 34 /* " */) {
        p++;
        while (p < this.end && s.charCodeAt(p) !== 34) p += s.charCodeAt(p) === 92 ? 2 : 1;
        p++;
        continue;
      }
      if (c === 40 || c === 91 || c === 123) depth++;
      else if (c === 41 || c === 93 || c === 125) {
        if (depth === 0) break;
        depth--;
      } else if (c === 44 && depth === 0) break;
      else if (c === 60 /* < */ && p > start && isDigit(s.charCodeAt(p - 1)) && s.charCodeAt(p + 1) !== 60) {
        // an fd decoration: skip to its matching '>'
        let d = 1;
        p++;
        while (p < this.end && d > 0) {
          const e = s.charCodeAt(p);
          if (e === 92) p++;
          else if (e === 60) d++;
          else if (e === 62) d--;
          p++;
        }
        continue;
      } else if (c === 60 && s.charCodeAt(p + 1) === 60) p++;
      else if (c === 47 && s.charCodeAt(p + 1) === 42) {
        const q = s.indexOf('*/', p + 2);
        p = q < 0 ? this.end : q + 2;
        continue;
      }
      p++;
    }
    this.p = p;
    return start;
  }

  /** The `, ` between arguments. */
  comma(what: string): void {
    const s = this.s;
    if (s.charCodeAt(this.p) !== 44) this.fail(`', ' before ${what}`);
    this.p++;
    while (s.charCodeAt(this.p) === 32) this.p++;
  }

  close(name: string): void {
    if (this.s.charCodeAt(this.p) !== 41) this.fail(`')' after the arguments of ${name}`);
    this.p++;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Decoding one call

interface Result {
  ret: number | undefined;
  errno: string | undefined;
  errnoNum: number | undefined;
}

/** ` = 0x7f…`, ` = -1 ENOMEM (…)`, ` = ? <unavailable>`, then an optional `-T` ` <0.000012>`. */
function parseResult(sc: Scanner, out: Result): void {
  const s = sc.s;
  let p = sc.p;
  while (s.charCodeAt(p) === 32) p++;
  if (s.charCodeAt(p) !== 61 /* = */ || s.charCodeAt(p + 1) !== 32) {
    sc.p = p;
    sc.fail("' = ' and the return value");
  }
  p += 2;
  sc.p = p;
  out.errno = undefined;
  out.errnoNum = undefined;
  if (s.charCodeAt(p) === 63 /* ? */) {
    out.ret = undefined;
    sc.p = p + 1;
  } else {
    out.ret = sc.num('a return value (a number, or ?)');
    if (s.charCodeAt(sc.p) === 60 /* < */ && s.charCodeAt(sc.p - 1) !== 32) sc.decoration(out.ret); // returned fd
  }
  // errno name, its text, flags in parentheses, -T time, all optional
  for (;;) {
    while (s.charCodeAt(sc.p) === 32) sc.p++;
    if (sc.p >= sc.end) break;
    const c = s.charCodeAt(sc.p);
    if (c === 69 /* E */ && out.errno === undefined) {
      const name = sc.ident();
      out.errno = name;
      out.errnoNum = ERRNO[name];
    } else if (c === 40 /* ( */) {
      const q = s.lastIndexOf(')', sc.end - 1);
      if (q < sc.p) sc.fail("')' closing the error text");
      sc.p = q + 1;
    } else if (c === 60 /* < */) {
      // `-T` duration, `<unavailable>`, `<detached ...>`
      const q = s.indexOf('>', sc.p);
      if (q < 0 || q >= sc.end) sc.fail("'>' closing the duration");
      sc.p = q + 1;
    } else {
      sc.fail('end of line after the return value');
    }
  }
}

/** Every record is built here with the same field order, so that V8 gives them one shape (fast to read). */
function mk(name: string, args: unknown, sc: Scanner, line: number, startLine: number, pid: number | undefined, r: Result, syscall?: string): SyscallRecord {
  const rec = { line, startLine, pid, ret: r.ret, errno: r.errno, errnoNum: r.errnoNum, lossy: sc.lossy, name, args } as unknown as SyscallRecord;
  if (syscall !== undefined) (rec as OtherRecord).syscall = syscall;
  return rec;
}

const result: Result = { ret: undefined, errno: undefined, errnoNum: undefined };

/** Decode `NAME(ARGS) = RESULT` held in sc.s[sc.p, sc.end), sc.p at the first argument. */
function decodeCall(sc: Scanner, name: string, line: number, startLine: number, pid: number | undefined): SyscallRecord {
  sc.lossy = false;
  switch (name) {
    case 'mmap': {
      const addr = sc.addr('the address (NULL or a number) of mmap');
      sc.comma('the length of mmap');
      const length = sc.len('the length of mmap');
      sc.comma('the protection of mmap');
      const prot = sc.flags(PROT_T, 'PROT_ flags');
      sc.comma('the flags of mmap');
      const flags = sc.flags(MAP_T, 'MAP_ flags');
      sc.comma('the fd of mmap');
      const fd = sc.fd('an fd (a number, -1, or 3</path>)');
      sc.comma('the offset of mmap');
      const offset = sc.len('the offset of mmap');
      sc.close('mmap');
      parseResult(sc, result);
      return mk(name, { addr, length, prot, flags, fd, offset }, sc, line, startLine, pid, result);
    }
    case 'munmap': {
      const addr = sc.addr('the address of munmap');
      sc.comma('the length of munmap');
      const length = sc.len('the length of munmap');
      sc.close('munmap');
      parseResult(sc, result);
      return mk(name, { addr, length }, sc, line, startLine, pid, result);
    }
    case 'mprotect':
    case 'pkey_mprotect': {
      const addr = sc.addr(`the address of ${name}`);
      sc.comma(`the length of ${name}`);
      const length = sc.len(`the length of ${name}`);
      sc.comma(`the protection of ${name}`);
      const prot = sc.flags(PROT_T, 'PROT_ flags');
      if (name === 'pkey_mprotect') {
        sc.comma('the pkey of pkey_mprotect');
        const pkey = sc.len('the pkey of pkey_mprotect');
        sc.close(name);
        parseResult(sc, result);
        return mk(name, { addr, length, prot, pkey }, sc, line, startLine, pid, result);
      }
      sc.close(name);
      parseResult(sc, result);
      return mk(name, { addr, length, prot }, sc, line, startLine, pid, result);
    }
    case 'mremap': {
      const addr = sc.addr('the old address of mremap');
      sc.comma('the old length of mremap');
      const oldLength = sc.len('the old length of mremap');
      sc.comma('the new length of mremap');
      const newLength = sc.len('the new length of mremap');
      sc.comma('the flags of mremap');
      const flags = sc.flags(MREMAP_T, 'MREMAP_ flags');
      let newAddr: number | undefined;
      if (sc.s.charCodeAt(sc.p) === 44) {
        sc.comma('the new address of mremap');
        newAddr = sc.addr('the new address of mremap');
      }
      sc.close('mremap');
      parseResult(sc, result);
      return mk(name, { addr, oldLength, newLength, flags, newAddr }, sc, line, startLine, pid, result);
    }
    case 'brk': {
      const addr = sc.addr('the address of brk (NULL or a number)');
      sc.close('brk');
      parseResult(sc, result);
      return mk(name, { addr }, sc, line, startLine, pid, result);
    }
    case 'madvise': {
      const addr = sc.addr('the address of madvise');
      sc.comma('the length of madvise');
      const length = sc.len('the length of madvise');
      sc.comma('the advice of madvise');
      const advice = sc.flags(MADV_T, 'an MADV_ advice');
      sc.close('madvise');
      parseResult(sc, result);
      return mk(name, { addr, length, advice }, sc, line, startLine, pid, result);
    }
    default: {
      const args: OtherArg[] = [];
      const s = sc.s;
      if (s.charCodeAt(sc.p) !== 41) {
        for (;;) {
          const start = sc.skipArg();
          args.push(otherArg(s.slice(start, sc.p)));
          if (s.charCodeAt(sc.p) !== 44) break;
          sc.comma('the next argument');
        }
      }
      sc.close(name);
      parseResult(sc, result);
      return mk('other', args, sc, line, startLine, pid, result, name);
    }
  }
}

const otherScanner = new Scanner();
/** Best-effort value of an argument of an undecoded call; raw text when it is not a number, fd or known flags. */
function otherArg(text: string): OtherArg {
  const sc = otherScanner;
  sc.s = text;
  sc.p = 0;
  sc.end = text.length;
  try {
    let v: OtherArg;
    const c = text.charCodeAt(0);
    if (text === 'NULL') return 0;
    if (isDigit(c) || c === 45) {
      const p0 = 0;
      sc.num('');
      if (text.charCodeAt(sc.p) === 60 && text.charCodeAt(sc.p + 1) !== 60) {
        sc.p = p0;
        v = sc.fd('');
      } else {
        sc.p = p0;
        v = sc.flags(ANY_T, '');
      }
    } else if (isIdentStart(c)) {
      v = sc.flags(ANY_T, '');
    } else return text;
    return sc.p === text.length ? v : text;
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lines

interface Pending {
  name: string;
  text: string;
  startLine: number;
  memory: boolean;
}

const UNFINISHED = ' <unfinished ...>';
const RESUMED_HEAD = '<... ';

/**
 * A streaming parser: feed it text in chunks of any size ({@link StraceParser.push}), then call
 * {@link StraceParser.end}. Records come out in the order their calls completed. Throws
 * {@link StraceParseError} on the first malformed line.
 */
export class StraceParser {
  readonly file: string;
  readonly stats: StraceStats = {
    lines: 0, calls: 0, unfinished: 0, resumed: 0, nonMemory: 0, exits: 0, signals: 0, messages: 0, blank: 0,
  };
  private readonly pending = new Map<number, Pending>(); // key: pid, or -1 when strace printed no pid
  private readonly lost: StraceParse['pending'] = [];
  private readonly sc = new Scanner();
  private carry = '';
  private lineNo = 0;
  private ended = false;

  constructor(file = '<trace>') {
    this.file = file;
    this.sc.file = file;
  }

  /** Parse the complete lines of `chunk`; a line cut at the chunk's end waits for the next push. */
  push(chunk: string): SyscallRecord[] {
    if (this.ended) throw new Error('StraceParser.push after end()');
    const text = this.carry.length > 0 ? this.carry + chunk : chunk;
    const last = text.lastIndexOf('\n');
    const out: SyscallRecord[] = [];
    if (last < 0) {
      this.carry = text;
      return out;
    }
    this.carry = last + 1 < text.length ? text.slice(last + 1) : '';
    this.run(text, last + 1, out);
    return out;
  }

  /** Parse a last line that has no newline, and report the memory calls that never completed. */
  end(): StraceParse {
    const out: SyscallRecord[] = [];
    if (!this.ended) {
      this.ended = true;
      if (this.carry.length > 0) this.run(this.carry, this.carry.length, out);
      this.carry = '';
      for (const [k, v] of this.pending) if (v.memory) this.lost.push({ pid: k < 0 ? undefined : k, name: v.name, startLine: v.startLine });
      this.pending.clear();
    }
    return { records: out, stats: this.stats, pending: this.lost };
  }

  /** Parse the lines of text[0, n); n is just past a newline, or the end of the text. */
  private run(text: string, n: number, records: SyscallRecord[]): void {
    const { file, stats, pending, lost, sc } = this;
    sc.s = text;
    let pos = 0;
    let lineNo = this.lineNo;
    while (pos < n) {
      let eol = text.indexOf('\n', pos);
      if (eol < 0 || eol >= n) eol = n;
      lineNo++;
      let end = eol;
      if (end > pos && text.charCodeAt(end - 1) === 13) end--;
      const start = pos;
      pos = eol + 1;

      // ---- prefix: [pid N] | N␠␠, timestamp, [ip]
      let p = start;
      while (p < end && text.charCodeAt(p) === 32) p++;
      if (p === end) {
        stats.blank++;
        continue;
      }
      let pid: number | undefined;
      let c = text.charCodeAt(p);
      if (c === 91 /* [ */ && text.startsWith('[pid', p)) {
        p += 4;
        while (text.charCodeAt(p) === 32) p++;
        let v = 0;
        const d0 = p;
        while (p < end && isDigit((c = text.charCodeAt(p)))) {
          v = v * 10 + (c - 48);
          p++;
        }
        if (text.charCodeAt(p) === 60 /* < */) p = skipComm(text, p, end, 93);
        if (p === d0 || text.charCodeAt(p) !== 93) fail(file, lineNo, "a pid and ']' after '[pid'", text, start, end);
        pid = v;
        p++;
        while (text.charCodeAt(p) === 32) p++;
      } else if (isDigit(c)) {
        let q = p;
        let v = 0;
        while (q < end && isDigit((c = text.charCodeAt(q)))) {
          v = v * 10 + (c - 48);
          q++;
        }
        if (text.charCodeAt(q) === 60 /* < */ && q > p) q = skipComm(text, q, end, 32);
        if (text.charCodeAt(q) === 32) {
          pid = v;
          p = q;
          while (text.charCodeAt(p) === 32) p++;
        }
      }
      // timestamp (-t 12:34:56, -tt 12:34:56.123456, -ttt 1700000000.123456, -r 0.000123)
      c = text.charCodeAt(p);
      if (isDigit(c)) {
        let q = p;
        let sep = false;
        while (q < end) {
          c = text.charCodeAt(q);
          if (c === 58 || c === 46) sep = true;
          else if (!isDigit(c)) break;
          q++;
        }
        if (sep && text.charCodeAt(q) === 32) {
          p = q;
          while (text.charCodeAt(p) === 32) p++;
        }
      }
      // -i instruction pointer `[00007f54372cd829] `, -n syscall number `[   9] `
      while (text.charCodeAt(p) === 91) {
        let q = p + 1;
        while (q < end && (hexVal((c = text.charCodeAt(q))) >= 0 || c === 32 || c === 63)) q++;
        if (q === p + 1 || text.charCodeAt(q) !== 93 || text.charCodeAt(q + 1) !== 32) break;
        p = q + 2;
        while (text.charCodeAt(p) === 32) p++;
      }

      // ---- body
      c = text.charCodeAt(p);
      if (c === 43 /* + */ && text.startsWith('+++', p)) {
        // the thread is gone: a call of it still unfinished will never be resumed
        const gone = pending.get(pid ?? -1);
        if (gone !== undefined) {
          if (gone.memory) lost.push({ pid, name: gone.name, startLine: gone.startLine });
          pending.delete(pid ?? -1);
        }
        stats.exits++;
        continue;
      }
      if (c === 45 /* - */ && text.startsWith('---', p)) {
        stats.signals++;
        continue;
      }
      if ((c === 115 /* s */ && text.startsWith('strace:', p)) || (c === 91 && text.startsWith('[ Process', p)) || (c === 62 /* > */ && p > start)) {
        stats.messages++;
        continue;
      }
      const key = pid ?? -1;
      if (c === 60 /* < */) {
        if (!text.startsWith(RESUMED_HEAD, p)) fail(file, lineNo, "'<... NAME resumed>'", text, start, end);
        const nameStart = p + RESUMED_HEAD.length;
        const sp = text.indexOf(' resumed>', nameStart);
        if (sp < 0 || sp > end) fail(file, lineNo, "'<... NAME resumed>'", text, start, end);
        const name = text.slice(nameStart, sp);
        const memory = DECODED.has(name) || OTHER_MEMORY.has(name);
        const pend = pending.get(key);
        if (pend === undefined || pend.name !== name) {
          if (!memory) {
            stats.nonMemory++;
            continue;
          }
          fail(file, lineNo, `an earlier '${name}(... <unfinished ...>' line for ${pid === undefined ? 'this process' : `pid ${pid}`}`, text, start, end);
        }
        pending.delete(key);
        if (!memory) {
          stats.nonMemory++;
          continue;
        }
        let rest = sp + ' resumed>'.length;
        if (text.startsWith(UNFINISHED, rest)) rest += UNFINISHED.length; // thread killed mid-call
        // join: the unfinished half ends after '(', after an argument, or after ', '; the arguments' scanner
        // allows any spaces after a comma, so plain concatenation reads right in every case
        const joined = pend.text + text.slice(rest, end);
        sc.s = joined;
        sc.p = pend.text.indexOf('(') + 1;
        sc.end = joined.length;
        sc.line = lineNo;
        sc.lineText = joined;
        records.push(decodeCall(sc, name, lineNo, pend.startLine, pid));
        sc.s = text;
        stats.resumed++;
        continue;
      }
      if (!isIdentStart(c) && c !== 63 /* ??? */) fail(file, lineNo, 'a system call NAME(...)', text, start, end);
      let q = p;
      while (q < end && (isIdentChar((c = text.charCodeAt(q))) || c === 63)) q++;
      if (text.charCodeAt(q) !== 40 /* ( */) fail(file, lineNo, "'(' after the system call name", text, start, end);
      const name = text.slice(p, q);
      const memory = DECODED.has(name) || OTHER_MEMORY.has(name);
      // a thread runs one call at a time: a pending memory call must be resumed before the next one starts
      const prev = pending.get(key);
      if (prev !== undefined) {
        if (prev.memory) {
          fail(file, lineNo, `'<... ${prev.name} resumed>' (line ${prev.startLine}) before a new call of ${pid === undefined ? 'this process' : `pid ${pid}`}`, text, start, end);
        }
        pending.delete(key);
      }
      if (end - p > UNFINISHED.length && text.endsWith(UNFINISHED, end)) {
        pending.set(key, { name, text: memory ? text.slice(p, end - UNFINISHED.length) : '', startLine: lineNo, memory });
        if (memory) stats.unfinished++;
        else stats.nonMemory++;
        continue;
      }
      if (!memory) {
        stats.nonMemory++;
        continue;
      }
      sc.s = text;
      sc.p = q + 1;
      sc.end = end;
      sc.line = lineNo;
      sc.lineText = '';
      try {
        records.push(decodeCall(sc, name, lineNo, lineNo, pid));
      } catch (e) {
        if (e instanceof StraceParseError) throw new StraceParseError(file, lineNo, e.expected, text.slice(start, end));
        throw e;
      }
      stats.calls++;
    }
    this.lineNo = lineNo;
    stats.lines = lineNo;
  }
}

/**
 * Parse a whole trace. Throws {@link StraceParseError} on the first malformed line.
 * @param file name used in error messages
 */
export function parseStraceDetailed(text: string, file = '<trace>'): StraceParse {
  const parser = new StraceParser(file);
  const records = parser.push(text);
  const last = parser.end();
  for (const r of last.records) records.push(r);
  return { records, stats: last.stats, pending: last.pending };
}

/** Skip the `<comm>` that `--decode-pids=comm` (-Y) prints after a pid; `next` is the char expected after it. */
function skipComm(text: string, p: number, end: number, next: number): number {
  let q = text.indexOf('>', p);
  while (q >= 0 && q < end && text.charCodeAt(q + 1) !== next) q = text.indexOf('>', q + 1);
  return q >= 0 && q < end ? q + 1 : p;
}

function fail(file: string, line: number, expected: string, text: string, start: number, end: number): never {
  throw new StraceParseError(file, line, expected, text.slice(start, end));
}

/** Parse a whole trace into its memory-call records (see {@link parseStraceDetailed}). */
export function parseStrace(text: string, file = '<trace>'): SyscallRecord[] {
  return parseStraceDetailed(text, file).records;
}

/** The record kinds counted: `{ mmap: 950, munmap: 47, …, 'other:mlock': 2 }`. */
export function countByName(records: readonly SyscallRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) {
    const k = r.name === 'other' ? `other:${r.syscall}` : r.name;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
