/**
 * /proc/PID/maps, parsed and printed byte for byte as the kernel prints it.
 *
 * The kernel's format (fs/proc/task_mmu.c, show_vma_header_prefix + show_map_vma, Linux 4.x … 6.18):
 *
 *   seq_setwidth(m, 25 + sizeof(void *) * 6 - 1);            // 72 on 64-bit
 *   "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu "              // start-end perms pgoff<<PAGE_SHIFT dev ino
 *   if (name) { seq_pad(m, ' '); seq_puts(m, name); }         // pad to column 72, then one ' '
 *   seq_putc(m, '\n');
 *
 * So the header always ends with a space (an anonymous VMA's line ends "… 00:00 0 ", trailing space
 * included, no padding), and a name starts at column max(72, header length) + 1 — column 73 for every
 * header shorter than 72 bytes, one space after the header's own trailing space otherwise. The name is
 * seq_path()'s output (a '\n' in a file name is escaped as "\012", so lines never break inside a name),
 * "[heap]", "[stack]", "[vdso]", "[anon:…]" and the like, or "<path> (deleted)".
 *
 * parseMaps accepts hand-written variants too (no trailing space after the inode, any run of spaces before
 * the name, upper-case hex); formatMaps always prints the kernel's bytes, so parse∘format is the identity on
 * everything the kernel writes (checked on real /proc/self/maps files in test/maps.test.ts).
 *
 * Addresses are JS numbers. Every page-aligned 64-bit address is exactly representable as a double (a
 * multiple of 2^12 below 2^64 has at most 52 significant bits), so even the x86-64 vsyscall page
 * ffffffffff600000-ffffffffff601000 parses exactly; but it lies above 2^53 - 1, where maple-tree and rbtree
 * keys stop and integer arithmetic on doubles stops being exact in general. We keep such an entry (for
 * byte-exact printing) and mark it `gate: true`. That mirrors the kernel: the vsyscall page is the *gate
 * VMA* (get_gate_vma()), which is not in the mm's VMA tree at all — m_next() appends it after the last
 * real VMA — so code that loads a layout into a tree must skip gate entries (see {@link mmEntries}).
 * A number that a double cannot hold exactly (an unaligned address above 2^53, an inode above 2^53 that is
 * not a multiple of its ulp) is refused with a MapsParseError rather than silently rounded.
 */

export interface MapsEntry {
  /** vm_start, bytes. */
  start: number;
  /** vm_end (exclusive), bytes. */
  end: number;
  /** 'r-xp': read, write, exec, then 's' for VM_MAYSHARE or 'p'. */
  perms: string;
  /** vm_pgoff << PAGE_SHIFT for file mappings (0 for anonymous ones), bytes. */
  offset: number;
  /** MAJOR:MINOR of the file's superblock, as printed ('fe:00'; '00:00' for anonymous). */
  dev: string;
  inode: number;
  /** The name as printed after the padding: a path, '[heap]', '[anon:x]', …; '' when there is none. */
  path: string;
  /** 1-based line number in the parsed text (0 for entries not from a parse). */
  line: number;
  /**
   * True for an entry whose range reaches above 2^53 (the vsyscall gate VMA): it is printed but not kept in
   * the mm's VMA tree. Optional so that entries can be built by hand; absent means false.
   */
  gate?: boolean;
}

export class MapsParseError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly expected: string;
  constructor(file: string, line: number, column: number, expected: string, text: string) {
    const shown = text.length > 160 ? text.slice(0, 157) + '...' : text;
    super(`${file}:${line}: expected ${expected} at column ${column + 1} in ${JSON.stringify(shown)}`);
    this.name = 'MapsParseError';
    this.file = file;
    this.line = line;
    this.column = column;
    this.expected = expected;
  }
}

/** seq_setwidth(m, 25 + sizeof(void *) * 6 - 1) on a 64-bit kernel: the header is padded to this width. */
export const MAPS_PAD_WIDTH = 25 + 8 * 6 - 1;
/** Column (0-based) where a name starts after a header of ordinary length. */
export const MAPS_NAME_COLUMN = MAPS_PAD_WIDTH + 1;
/** Keys of the maple tree and the rbtree go up to 2^53 - 1; entries ending above 2^53 are gate entries. */
const KEY_LIMIT = 2 ** 53;

const SPACE = 0x20;
const DASH = 0x2d;
const COLON = 0x3a;

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** A scanner over one line; offsets are into the whole text. */
class LineScanner {
  pos: number;
  constructor(
    readonly text: string,
    readonly lineStart: number,
    readonly lineEnd: number,
    readonly file: string,
    readonly lineNo: number,
  ) {
    this.pos = lineStart;
  }

  fail(expected: string): never {
    throw new MapsParseError(this.file, this.lineNo, this.pos - this.lineStart, expected, this.text.slice(this.lineStart, this.lineEnd));
  }

  /** Hex number of at least one digit; exact or refused. */
  hex(what: string): number {
    const t = this.text;
    const begin = this.pos;
    let v = 0;
    let big: bigint | undefined;
    while (this.pos < this.lineEnd) {
      const d = hexDigit(t.charCodeAt(this.pos));
      if (d < 0) break;
      if (big === undefined) {
        v = v * 16 + d;
        if (v > Number.MAX_SAFE_INTEGER) big = BigInt('0x' + t.slice(begin, this.pos + 1));
      } else {
        big = big * 16n + BigInt(d);
      }
      this.pos++;
    }
    if (this.pos === begin) this.fail(what);
    if (big !== undefined) return this.exact(big, begin, what);
    return v;
  }

  /** Decimal number of at least one digit; exact or refused. */
  dec(what: string): number {
    const t = this.text;
    const begin = this.pos;
    let v = 0;
    let big: bigint | undefined;
    while (this.pos < this.lineEnd) {
      const c = t.charCodeAt(this.pos);
      if (c < 0x30 || c > 0x39) break;
      if (big === undefined) {
        v = v * 10 + (c - 0x30);
        if (v > Number.MAX_SAFE_INTEGER) big = BigInt(t.slice(begin, this.pos + 1));
      } else {
        big = big * 10n + BigInt(c - 0x30);
      }
      this.pos++;
    }
    if (this.pos === begin) this.fail(what);
    if (big !== undefined) return this.exact(big, begin, what);
    return v;
  }

  private exact(big: bigint, begin: number, what: string): number {
    const n = Number(big);
    if (big >= 1n << 64n || BigInt(n) !== big) {
      this.pos = begin;
      this.fail(`${what} that fits a 64-bit word and a double exactly`);
    }
    return n;
  }

  char(c: number, what: string): void {
    if (this.pos >= this.lineEnd || this.text.charCodeAt(this.pos) !== c) this.fail(what);
    this.pos++;
  }

  oneOf(a: string, b: string, what: string): string {
    const c = this.pos < this.lineEnd ? this.text[this.pos] : undefined;
    if (c !== a && c !== b) this.fail(what);
    this.pos++;
    return c!;
  }
}

/**
 * Parses /proc/PID/maps text. Each line must be `start-end perms offset major:minor inode [name]`; empty
 * input gives []. Throws {@link MapsParseError} naming `file:line` and what was expected there.
 */
export function parseMaps(text: string, file = '<maps>'): MapsEntry[] {
  const out: MapsEntry[] = [];
  const n = text.length;
  let at = 0;
  let lineNo = 0;
  while (at < n) {
    lineNo++;
    let end = text.indexOf('\n', at);
    if (end < 0) end = n;
    const s = new LineScanner(text, at, end, file, lineNo);
    const start = s.hex('a hexadecimal start address');
    s.char(DASH, "'-' after the start address");
    const stop = s.hex('a hexadecimal end address');
    if (stop <= start) {
      s.pos = at;
      s.fail('an address range with start < end');
    }
    if (start % 4096 !== 0 || stop % 4096 !== 0) {
      s.pos = at;
      s.fail('page-aligned (4 KiB) addresses');
    }
    s.char(SPACE, "' ' after the address range");
    const r = s.oneOf('r', '-', "'r' or '-' (VM_READ)");
    const w = s.oneOf('w', '-', "'w' or '-' (VM_WRITE)");
    const x = s.oneOf('x', '-', "'x' or '-' (VM_EXEC)");
    const p = s.oneOf('s', 'p', "'s' or 'p' (VM_MAYSHARE)");
    s.char(SPACE, "' ' after the permissions");
    const offset = s.hex('a hexadecimal file offset');
    s.char(SPACE, "' ' after the offset");
    const devBegin = s.pos;
    s.hex('a hexadecimal device major');
    s.char(COLON, "':' between device major and minor");
    s.hex('a hexadecimal device minor');
    const dev = text.slice(devBegin, s.pos).toLowerCase();
    s.char(SPACE, "' ' after the device");
    const inode = s.dec('a decimal inode number');
    let path = '';
    if (s.pos < end) {
      s.char(SPACE, "' ' after the inode");
      const headerLen = s.pos - at;
      const nameAt = at + Math.max(MAPS_PAD_WIDTH, headerLen) + 1;
      let pad = s.pos;
      while (pad < end && pad < nameAt && text.charCodeAt(pad) === SPACE) pad++;
      if (pad === nameAt && nameAt < end) {
        // The kernel's padding exactly: the name is everything from the name column, leading spaces of a
        // file name included.
        path = text.slice(nameAt, end);
      } else {
        // Hand-written spacing: the name is what follows the run of spaces (none if only spaces follow).
        while (pad < end && text.charCodeAt(pad) === SPACE) pad++;
        path = text.slice(pad, end);
      }
    }
    // The kernel prints the VMAs in address order, none overlapping: anything else was not printed by it
    // (two snapshots pasted together, a hand edit) and would replay as a layout no process can have.
    const prev = out[out.length - 1];
    if (prev && start < prev.end) {
      s.pos = at;
      s.fail(start < prev.start
        ? `lines in ascending address order (this range starts below line ${prev.line}'s)`
        : `a range that starts at or after the end of line ${prev.line}'s (${hex8(prev.start)}-${hex8(prev.end)}): they overlap${start === prev.start && stop === prev.end ? ' (the same line twice)' : ''}; a live maps file read while its process changed its mappings looks like this: read it again until two reads agree (readLiveMaps)`);
    }
    out.push({ start, end: stop, perms: r + w + x + p, offset, dev, inode, path, line: lineNo, gate: stop > KEY_LIMIT });
    at = end + 1;
  }
  return out;
}

/** parseMaps for a snapshot that must describe a process: at least one mapping (an empty file is an error). */
export function parseSnapshot(text: string, file = '<maps>'): MapsEntry[] {
  const out = parseMaps(text, file);
  if (out.length === 0) throw new MapsParseError(file, 1, 0, 'at least one mapping (the snapshot is empty)', text.slice(0, 160));
  return out;
}

// Above 2^53 Number#toString rounds to the shortest decimal that reads back the same double
// (2^63 prints as 9223372036854776000); BigInt prints the exact integer the kernel printed.
function hex8(v: number): string {
  const h = v <= Number.MAX_SAFE_INTEGER ? v.toString(16) : BigInt(v).toString(16);
  return h.length >= 8 ? h : '00000000'.slice(h.length) + h;
}

function dec(v: number): string {
  return v <= Number.MAX_SAFE_INTEGER ? String(v) : BigInt(v).toString();
}

/** One line as the kernel prints it (without the newline). */
export function formatMapsLine(e: MapsEntry): string {
  const header = `${hex8(e.start)}-${hex8(e.end)} ${e.perms} ${hex8(e.offset)} ${e.dev} ${dec(e.inode)} `;
  if (e.path === '') return header;
  // seq_pad(m, ' '): spaces up to MAPS_PAD_WIDTH (none if the header is already that long), then one ' '.
  const pad = header.length < MAPS_PAD_WIDTH ? MAPS_PAD_WIDTH - header.length + 1 : 1;
  return header + ' '.repeat(pad) + e.path;
}

/** The whole file as the kernel prints it: one line per entry, each ending in '\n'. */
export function formatMaps(entries: readonly MapsEntry[]): string {
  let s = '';
  for (const e of entries) s += formatMapsLine(e) + '\n';
  return s;
}

/** The entries that are VMAs of the mm (what the maple tree or rbtree holds): gate entries dropped. */
export function mmEntries(entries: readonly MapsEntry[]): MapsEntry[] {
  return entries.filter((e) => !e.gate && e.end <= KEY_LIMIT);
}

/** True if no two entries overlap and they come in ascending address order, as the kernel prints them. */
export function isSortedDisjoint(entries: readonly MapsEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) if (entries[i]!.start < entries[i - 1]!.end) return false;
  return true;
}
