import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import {
  MAPS_NAME_COLUMN,
  MapsParseError,
  formatMaps,
  formatMapsLine,
  isSortedDisjoint,
  mmEntries,
  parseMaps,
  parseSnapshot,
  type MapsEntry,
} from '../src/trace/maps.js';
import { readLiveMaps } from '../src/trace/live-maps.js';
import { replay } from '../src/trace/replay.js';

// Compiled to <outDir>/test/maps.test.js; the fixtures stay in the source tree.
const fixtureDir = fileURLToPath(new URL('../../test/fixtures/maps/', import.meta.url));
const fixtures = readdirSync(fixtureDir).filter((f) => f.endsWith('.maps')).sort();

test('fixtures are present', () => {
  assert.ok(fixtures.length >= 4, `fixtures in ${fixtureDir}: ${fixtures.join(', ')}`);
});

for (const f of fixtures) {
  test(`parse∘format is the identity on ${f}`, () => {
    const text = readFileSync(join(fixtureDir, f), 'utf8');
    const entries = parseMaps(text, f);
    const m = /-(\d+)vmas\.maps$/.exec(f);
    if (m) assert.equal(entries.length, Number(m[1]), 'the file name gives the VMA count');
    assert.equal(formatMaps(entries), text);
    assert.ok(isSortedDisjoint(entries), 'the kernel prints VMAs in ascending, disjoint order');
    entries.forEach((e, i) => assert.equal(e.line, i + 1));
    // Only the vsyscall gate VMA lies above the 2^53 key range; every other entry is a tree VMA.
    const gates = entries.filter((e) => e.gate);
    assert.ok(gates.every((e) => e.path === '[vsyscall]'));
    assert.equal(mmEntries(entries).length, entries.length - gates.length);
    for (const e of mmEntries(entries)) assert.ok(Number.isSafeInteger(e.end) && e.end <= 2 ** 47);
  });
}

test('parse∘format is the identity on the live /proc/self/maps', () => {
  const text = readLiveMaps('/proc/self/maps');
  const entries = parseMaps(text, '/proc/self/maps');
  assert.ok(entries.length > 10);
  assert.equal(formatMaps(entries), text);
});

test('fields of known lines', () => {
  const text =
    '55a9369e7000-55a9369ec000 r-xp 00002000 fe:00 260131                     /usr/bin/cat\n' +
    '7f3703ad0000-7f3703af2000 rw-p 00000000 00:00 0 \n' +
    'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n';
  const [a, b, c] = parseMaps(text);
  assert.deepEqual(a, {
    start: 0x55a9369e7000,
    end: 0x55a9369ec000,
    perms: 'r-xp',
    offset: 0x2000,
    dev: 'fe:00',
    inode: 260131,
    path: '/usr/bin/cat',
    line: 1,
    gate: false,
  });
  assert.equal(b!.path, '');
  assert.equal(b!.inode, 0);
  // 2^64 - 0xa00000: page-aligned, so exact as a double, though above 2^53.
  assert.equal(c!.start, 2 ** 64 - 0xa00000);
  assert.equal(BigInt(c!.start), 0xffffffffff600000n);
  assert.equal(c!.end - c!.start, 4096);
  assert.equal(c!.gate, true);
  assert.equal(formatMaps([a!, b!, c!]), text);
  // The name starts at column 73 for an ordinary header.
  assert.equal(text.indexOf('/usr/bin/cat'), MAPS_NAME_COLUMN);
});

test('a header of 72 bytes or more gets exactly one pad space (seq_pad with nothing left to pad)', () => {
  const e: MapsEntry = {
    start: 0x7ffff7dd1000,
    end: 0x7ffff7dd3000,
    perms: 'r--s',
    offset: 0x123456789000,
    dev: '103:1a5',
    inode: 2 ** 63, // exact as a double
    path: '/x',
    line: 0,
  };
  const line = formatMapsLine(e);
  const header = '7ffff7dd1000-7ffff7dd3000 r--s 123456789000 103:1a5 9223372036854775808 ';
  assert.ok(header.length >= 72);
  assert.equal(line, header + ' /x');
  const [back] = parseMaps(line + '\n');
  assert.equal(back!.inode, 2 ** 63);
  assert.equal(back!.path, '/x');
  assert.equal(formatMaps([back!]), line + '\n');
  // Short numbers are zero-padded to 8 hex digits, as %08lx does.
  assert.equal(
    formatMapsLine({ start: 0x1000, end: 0x2000, perms: '---p', offset: 0, dev: '00:00', inode: 0, path: '', line: 0 }),
    '00001000-00002000 ---p 00000000 00:00 0 ',
  );
});

test('names keep their spaces; a leading space survives at the name column', () => {
  const pad = (h: string) => h + ' '.repeat(MAPS_NAME_COLUMN - h.length);
  const t1 = pad('7f0000000000-7f0000001000 r--s 00000000 fe:00 12 ') + ' lead and inner spaces (deleted)\n';
  const [e] = parseMaps(t1);
  assert.equal(e!.path, ' lead and inner spaces (deleted)');
  assert.equal(formatMaps([e!]), t1);
});

test('hand-written spacing is accepted and printed the kernel way', () => {
  const [a, b] = parseMaps('00400000-00452000 R-XP 00000000 08:01 173521 /usr/bin/dbus-daemon\n7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n'.replace('R-XP', 'r-xp'));
  assert.equal(a!.path, '/usr/bin/dbus-daemon');
  assert.equal(b!.path, '');
  assert.equal(
    formatMaps([a!, b!]),
    '00400000-00452000 r-xp 00000000 08:01 173521                             /usr/bin/dbus-daemon\n' +
      '7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n',
  );
  // Upper-case hex and a missing final newline are fine.
  const [c] = parseMaps('7F0000000000-7F0000001000 rw-p 0000A000 FE:0A 5');
  assert.equal(c!.start, 0x7f0000000000);
  assert.equal(c!.offset, 0xa000);
  assert.equal(c!.dev, 'fe:0a');
  assert.deepEqual(parseMaps(''), []);
});

test('lines out of order, overlapping or twice, and an empty snapshot, are malformed input', () => {
  const a = '7f0000000000-7f0000002000 rw-p 00000000 00:00 0 ';
  const b = '7f0000002000-7f0000003000 r--p 00000000 00:00 0 ';
  const cases: [string, number, RegExp][] = [
    [[b, a].join('\n'), 2, /expected lines in ascending address order \(this range starts below line 1's\)/],
    [[a, a].join('\n'), 2, /they overlap \(the same line twice\)/],
    [[a, '7f0000001000-7f0000004000 rw-p 00000000 00:00 0 '].join('\n'), 2, /starts at or after the end of line 1's \(7f0000000000-7f0000002000\): they overlap/],
  ];
  for (const [text, line, re] of cases) {
    assert.throws(() => parseMaps(text, 'x.maps'), (e: unknown) => e instanceof MapsParseError && e.line === line && re.test(e.message) && e.message.startsWith(`x.maps:${line}: `), text);
  }
  assert.equal(parseMaps([a, b].join('\n')).length, 2, 'adjacent ranges are fine');
  assert.deepEqual(parseMaps(''), [], 'the parser reads an empty text as no mappings');
  assert.throws(() => parseSnapshot('', 'empty.maps'), /^MapsParseError: empty\.maps:1: expected at least one mapping \(the snapshot is empty\)/);
  assert.throws(() => replay('', '', {}, 't.txt', 'before.maps'), /before\.maps:1: expected at least one mapping/);
});

test('malformed lines name file:line and what was expected', () => {
  const good = '7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n';
  const cases: [string, RegExp][] = [
    ['zz0000000000-7f0000001000 rw-p 00000000 00:00 0 ', /expected a hexadecimal start address/],
    ['7f0000000000 7f0000001000 rw-p 00000000 00:00 0 ', /expected '-' after the start address/],
    ['7f0000000000-', /expected a hexadecimal end address/],
    ['7f0000001000-7f0000000000 rw-p 00000000 00:00 0 ', /expected an address range with start < end/],
    ['7f0000000001-7f0000001000 rw-p 00000000 00:00 0 ', /expected page-aligned/],
    ['7f0000000000-7f0000001000 rwxq 00000000 00:00 0 ', /expected 's' or 'p' \(VM_MAYSHARE\)/],
    ['7f0000000000-7f0000001000 r?-p 00000000 00:00 0 ', /expected 'w' or '-' \(VM_WRITE\)/],
    ['7f0000000000-7f0000001000 rw-p  00000000 00:00 0 ', /expected a hexadecimal file offset/],
    ['7f0000000000-7f0000001000 rw-p 00000000 0000 0 ', /expected ':' between device major and minor/],
    ['7f0000000000-7f0000001000 rw-p 00000000 00:00 x ', /expected a decimal inode number/],
    ['7f0000000000-7f0000001000 rw-p 00000000 00:00 12x', /expected ' ' after the inode/],
    ['7f0000000000-7f0000001000 rw-p 00000000 00:00', /expected ' ' after the device/],
    ['7f0000000000-7f0000001000 rw-p 00000000 00:00 99999999999999999999999 ', /inode number that fits a 64-bit word/],
    ['7f0000000000-7f0000000001001 rw-p 00000000 00:00 0 ', /expected page-aligned|fits/],
    ['', /expected a hexadecimal start address/],
  ];
  const first = '7effffffe000-7efffffff000 r--p 00000000 00:00 0 \n';
  const second = '7efffffff000-7f0000000000 r--p 00000000 00:00 0 \n';
  for (const [bad, re] of cases) {
    const text = first + second + bad + '\n' + good;
    assert.throws(
      () => parseMaps(text, 'fixture.maps'),
      (e: unknown) => {
        assert.ok(e instanceof MapsParseError, String(e));
        assert.match(e.message, /^fixture\.maps:3: /);
        assert.match(e.message, re);
        assert.equal(e.file, 'fixture.maps');
        assert.equal(e.line, 3);
        return true;
      },
      bad,
    );
  }
  assert.throws(() => parseMaps('nonsense\n'), /^MapsParseError: <maps>:1: expected a hexadecimal start address at column 1/);
});
