// A design is one file: the registry is the only list of designs (every other list derives from it); the
// mm lays out the words a design declares; lockdep-lite names the hook a design got wrong; a design module
// is loaded by path (JavaScript, or TypeScript type-checked first) and refused with one line when it is not
// a design; `mmsplit new-design` writes one that checks clean; the example in examples/ is checked and
// measured; and all of it works from a package installed with npm into an empty project.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { DESIGN_NAMES, validateResults } from '../src/bench/results.js';
import { runCheck, CHECK_SCENARIOS } from '../src/check/check.js';
import { AddressSpace } from '../src/designs/address-space.js';
import { PerVmaLockDesign } from '../src/designs/per-vma-lock.js';
import { BUILT_IN_DESIGN_NAMES, DESIGNS, designInfo, designNames, loadDesignModule, mutantNames, registerDesign } from '../src/designs/registry.js';
import { SpfDesign } from '../src/designs/spf.js';
import type { DesignDefinition } from '../src/mm/design.js';
import { LockAssertionError } from '../src/mm/lockdep.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../src/mm/uapi.js';
import { sysMmap, sysMunmap } from '../src/mm/mmap.js';
import { sysMprotect } from '../src/mm/mprotect.js';
import { VM_FAULT_SIGSEGV, handleMmFault, FaultVma } from '../src/mm/fault.js';
import { testSeed } from './support/seed.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const EXAMPLE = join(ROOT, 'examples/refcount-lock.js');
const PAGE = 4096;
const seed = testSeed();

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `mmsplit-${prefix}-`));
}

/** A folder whose `mmsplit` package is this checkout (what a user's project has after npm install). */
function project(prefix: string): string {
  const dir = tmp(prefix);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'mmsplit'), 'dir');
  return dir;
}

async function cli(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd, maxBuffer: 1 << 26 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

test('the registry is the only list: results, --help, the report and the docs all derive from it', async () => {
  assert.deepEqual([...DESIGN_NAMES], [...BUILT_IN_DESIGN_NAMES], 'the results format lists the registry');
  assert.deepEqual(Object.keys(DESIGNS), [...BUILT_IN_DESIGN_NAMES]);
  // Every design definition a file in src/designs exports is registered, and names and colours are distinct.
  const dir = join(ROOT, 'dist/src/designs');
  const exported: DesignDefinition[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as Record<string, unknown>;
    for (const v of Object.values(mod)) {
      if (typeof v === 'object' && v !== null && typeof (v as DesignDefinition).make === 'function' && typeof (v as DesignDefinition).color === 'string') exported.push(v as DesignDefinition);
    }
  }
  for (const d of exported) assert.ok(BUILT_IN_DESIGN_NAMES.includes(d.name), `${d.name} is defined in src/designs but not listed in registry.ts`);
  assert.equal(new Set(exported.map((d) => d.name)).size, BUILT_IN_DESIGN_NAMES.length, 'every listed design is defined in src/designs');
  const colors = BUILT_IN_DESIGN_NAMES.map((n) => designInfo(n).color.toLowerCase());
  assert.equal(new Set(colors).size, colors.length, 'one colour per design');
  // Each design's counters are the ones it keeps (AddressSpace refuses a design whose stats disagree).
  for (const name of [...BUILT_IN_DESIGN_NAMES, ...mutantNames()]) {
    const as = AddressSpace.create({ design: name, frames: 64, capacity: 64 });
    assert.deepEqual(Object.keys(as.design.stats.extra).sort(), Object.keys(designInfo(name).counters ?? {}).sort(), name);
    as.exit();
  }
  // --help lists what the registry has; the README and the tutorial name every built-in design.
  const help = (await cli(['check', '--help'])).stdout.replace(/\s+/g, ' ');
  for (const n of [...designNames(), ...mutantNames()]) assert.ok(help.includes(n), `check --help: ${n}`);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const n of BUILT_IN_DESIGN_NAMES) assert.ok(readme.includes(`\`${n}\``), `README: ${n}`);
});

test('the mm lays out the words a design declares; none of them is the mm\'s', () => {
  const as = AddressSpace.create({ design: 'per-vma-lock', frames: 64, capacity: 64 });
  const t = as.mm.vmas;
  assert.deepEqual(Object.keys(t.words), ['vmLock', 'vmLockSeq']);
  assert.throws(() => t.wordOffset('vmSequence'), /VMA word 'vmSequence' is not declared by the design \(its vmaWords: vmLock, vmLockSeq\)/);
  const v = t.alloc(0x10000, 0x20000, 0, 0, 0, 0);
  assert.equal(Atomics.load(t.i32, t.word(v, t.wordOffset('vmLockSeq'))), -1, 'a new VMA starts at the declared value');
  Atomics.store(t.i32, t.word(v, t.wordOffset('vmLock')), 7);
  const copy = t.dup(v);
  assert.equal(Atomics.load(t.i32, t.word(copy, t.wordOffset('vmLock'))), 0, 'vm_area_dup: the design\'s words start afresh');
  assert.equal(t.end(copy), 0x20000, 'and the mm\'s are copied');
  as.exit();
  const spf = AddressSpace.create({ design: 'spf', frames: 64, capacity: 64 });
  assert.deepEqual(Object.keys(spf.mm.vmas.words), ['vmSequence']);
  spf.exit();
  const base = AddressSpace.create({ design: 'mmap-lock', frames: 64, capacity: 64 });
  assert.deepEqual(Object.keys(base.mm.vmas.words), [], 'the baseline needs no word');
  for (const table of [t, base.mm.vmas]) assert.equal(table.arena.stride % 64, 0, 'a VMA a cache line or more, as in the kernel\'s SLAB_HWCACHE_ALIGN cache: two never share one');
  base.exit();
  const bad = (words: Record<string, number>) => () => registerDesign({ ...DESIGNS['spf']!, name: `bad-${Object.keys(words)[0]}`, vmaWords: words, mutants: {} });
  registerDesign({ ...DESIGNS['spf']!, name: 'words-flags', vmaWords: { flags: 0 }, mutants: {} });
  assert.throws(() => AddressSpace.create({ design: 'words-flags', frames: 64 }), /VMA word 'flags': the mm's own word has that name/);
  assert.throws(bad({ x: 1.5 }), /word 'x': its initial value must be an integer/);
});

test('lockdep-lite: a design that forgets to write-lock in vmaStartWrite, or faults holding nothing, is told by name', () => {
  // vmaStartWrite() that does not lock: the first change to a VMA asserts, naming the hook and the caller.
  class ForgetsToLock extends PerVmaLockDesign {
    override vmaStartWrite(): void {}
  }
  registerDesign({ ...DESIGNS['per-vma-lock']!, name: 'forgets-start-write', mutants: {}, make: (ctx) => new ForgetsToLock(ctx, 'forgets-start-write') });
  const as = AddressSpace.create({ design: 'forgets-start-write', frames: 64, capacity: 64, debug: true });
  const a = sysMmap(as.mm, 0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
  assert.throws(() => sysMprotect(as.mm, a + PAGE, PAGE, PROT_READ), (e: unknown) => {
    assert.ok(e instanceof LockAssertionError);
    assert.match(e.message, /^vma_assert_write_locked: VMA 0x[0-9a-f]+-0x[0-9a-f]+ is not write-locked after vmaStartWrite\(\), in __split_vma: design 'forgets-start-write': its vmaStartWrite\(\) hook must lock it$/);
    return true;
  });
  assert.equal(as.mm.mmapLockWord >= 0 && Atomics.load(as.mm.words, as.mm.mmapLockWord) & 0xfff, 0, 'the call released the mmap_lock as it failed');
  // The same design without debug mode asserts nothing (the lab's hot paths carry no checks).
  const quiet = AddressSpace.create({ design: 'forgets-start-write', frames: 64, capacity: 64 });
  const b = sysMmap(quiet.mm, 0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
  assert.equal(sysMprotect(quiet.mm, b + PAGE, PAGE, PROT_READ), 0);
  quiet.exit();

  // A seqcount design whose hook does not open the count: the same assertion.
  class NoSeq extends SpfDesign {
    override vmaStartWrite(): void {}
  }
  registerDesign({ ...DESIGNS['spf']!, name: 'forgets-seq', mutants: {}, make: (ctx) => new NoSeq(ctx, 'forgets-seq') });
  const s = AddressSpace.create({ design: 'forgets-seq', frames: 64, capacity: 64, debug: true });
  const c = sysMmap(s.mm, 0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
  assert.throws(() => sysMunmap(s.mm, c, PAGE), /vma_assert_write_locked: .* after vmaStartWrite\(\), in __split_vma: design 'forgets-seq'/);

  // A fault that is not speculative and holds neither the mmap_lock nor the VMA's lock.
  const d = as.mm.tree.findValue(a);
  assert.throws(
    () => handleMmFault(as.pages, as.pages.snapshot(d, new FaultVma()), a, 0, false),
    /^LockAssertionError: assert_fault_locked: a fault on VMA 0x[0-9a-f]+-0x[0-9a-f]+ holds neither the mmap_lock nor the VMA's lock \(design 'forgets-start-write'\)/,
  );
  as.mm.mmapReadLock();
  assert.notEqual(handleMmFault(as.pages, as.pages.snapshot(d, new FaultVma()), a, 0, false) & VM_FAULT_SIGSEGV, VM_FAULT_SIGSEGV);
  as.mm.mmapReadUnlock();
});

test('a design module that is not a design is refused with one line naming the file and the field', async () => {
  const dir = tmp('bad');
  const cases: [string, string, RegExp][] = [
    ['no-field.js', 'export default { name: "no-field", summary: "s" };', /no-field\.js 'no-field': 'description' must be a non-empty string$/],
    ['bad-color.js', 'export default { name: "bad-color", summary: "s", description: "d", color: "red", lockless: false, make: () => ({}) };', /'color' must be #rrggbb, not "red"$/],
    ['no-default.js', 'export const x = 1;', /no-default\.js: exports no design/],
    ['taken.js', 'export default { name: "spf", summary: "s", description: "d", color: "#123456", lockless: true, make: () => ({}) };', /taken\.js: design 'spf' already exists \(built in\)/],
    ['throws.js', 'throw new Error("boom at load");', /throws\.js: cannot be loaded: boom at load$/],
    ['bad-path.js', 'export default { name: "bad-path", summary: "s", description: "d", color: "#123456", lockless: true, unreachable: { "do_nothing": "why" }, make: () => ({}) };', /unreachable: 'do_nothing' is not a path of the fault core/],
    ['bad-name.js', 'export default { name: "Bad Name", summary: "s", description: "d", color: "#123456", lockless: true, make: () => ({}) };', /name 'Bad Name': use lower case/],
  ];
  for (const [f, text] of cases) writeFileSync(join(dir, f), text);
  for (const [f, , re] of cases) {
    await assert.rejects(loadDesignModule(join(dir, f)), (e: Error) => (assert.match(e.message, re, f), assert.ok(!e.message.includes('\n'), `${f}: one line`), true));
    const r = await cli(['check', '--design', join(dir, f), '--runs', '1']);
    assert.equal(r.code, 2, `${f}: exit 2`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${f}: one line: ${r.stderr}`);
    assert.match(r.stderr, /^mmsplit check: --design: /);
  }
  const missing = await cli(['bench', '--design', join(dir, 'nowhere.js')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nowhere\.js: no such file/);
  const mutant = await cli(['bench', '--designs', 'spf-novalidate']);
  assert.equal(mutant.code, 2);
  assert.match(mutant.stderr, /spf-novalidate is a mutant of spf .* the lab measures designs/);
  rmSync(dir, { recursive: true, force: true });
});

test('examples/refcount-lock.js: checked clean in every scenario, its mutant caught, measured by the lab and drawn again from its results', { timeout: 600_000 }, async () => {
  const [name] = await loadDesignModule(EXAMPLE);
  assert.equal(name, 'refcount-lock');
  for (const s of CHECK_SCENARIOS) {
    const r = await runCheck({ design: 'refcount-lock', scenario: s.name, mode: 'pct', runs: 60, seed });
    assert.equal(r.violation, undefined, `seed ${seed} ${s.name}: ${r.violation?.message} (replay ${r.violation?.replay})`);
  }
  const caught = await cli(['check', '--design', './examples/refcount-lock.js', '--name', 'refcount-lock-nodrain', '--scenario', 'fault-munmap', '--runs', '500', '--seed', String(seed)]);
  assert.equal(caught.code, 1, caught.stdout + caught.stderr);
  const replayLine = /mmsplit check --design \.\/examples\/refcount-lock\.js --name refcount-lock-nodrain --scenario fault-munmap --mode pct --replay (\d+)/.exec(caught.stdout);
  assert.ok(replayLine, 'the replay command names the module and the mutant');
  const again = await cli(['check', '--design', './examples/refcount-lock.js', '--name', 'refcount-lock-nodrain', '--scenario', 'fault-munmap', '--replay', replayLine[1]!, '--trace-lines', '2']);
  assert.equal(again.code, 1, 'the violation replays');

  const out = tmp('bench');
  const b = await cli(['bench', '--design', './examples/refcount-lock.js', '--design', 'mmap-lock', '--workloads', 'page_fault1,churn', '--threads', '2',
    '--duration', '0.05', '--warmup', '0.05', '--repetitions', '2', '--rounds', '1', '--reruns', '0', '--out', out]);
  assert.equal(b.code, 0, b.stderr);
  const results = validateResults(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
  assert.deepEqual(results.configuration.designs, ['refcount-lock', 'mmap-lock']);
  assert.equal(results.configuration.designInfo?.['refcount-lock']?.color, '#9c755f');
  assert.ok(results.configuration.designInfo?.['refcount-lock']?.source?.endsWith('examples/refcount-lock.js'));
  const mine = results.entries.filter((e) => e.design === 'refcount-lock');
  assert.equal(mine.length, 2);
  for (const e of mine) {
    assert.ok(e.failure === undefined && e.median.opsPerSec > 0, `${e.workload}: measured`);
    assert.deepEqual(Object.keys(e.counters.extra ?? {}).sort(), ['busy', 'gone'], 'its own counters are recorded');
  }
  // Drawn again in a process that never loaded the design: the results file says what it is.
  const again2 = await cli(['report', join(out, 'results.json'), '--out', join(out, 'again')]);
  assert.equal(again2.code, 0, again2.stderr);
  assert.match(again2.stdout, /page_fault1 +refcount-lock/);
  if (existsSync(join(out, 'again', 'index.html'))) assert.match(readFileSync(join(out, 'again', 'index.html'), 'utf8'), /waits for the pins to drain/);
  rmSync(out, { recursive: true, force: true });
});

test('mmsplit new-design writes a design and a test that run as they are, in JavaScript and in TypeScript', { timeout: 600_000 }, async () => {
  const dir = project('new');
  for (const [name, file, flags] of [['my-lock', './my-lock.js', []], ['my-ts-lock', './my-ts-lock.ts', ['--ts']]] as const) {
    const w = await cli(['new-design', name, ...flags], dir);
    assert.equal(w.code, 0, w.stderr);
    assert.ok(w.stdout.includes(`npx mmsplit check --design ${file}`));
    const c = await cli(['check', '--design', file, '--runs', '40', '--seed', String(seed)], dir);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /No violation/);
    const m = await cli(['check', '--design', file, '--name', `${name}-nolock`, '--scenario', 'fault-munmap', '--runs', '40', '--seed', String(seed)], dir);
    assert.equal(m.code, 1, 'the mutant is caught');
    assert.match(m.stdout, /LockAssertionError: assert_fault_locked/);
  }
  const again = await cli(['new-design', 'my-lock'], dir);
  assert.equal(again.code, 2, 'an existing design is not overwritten');
  assert.match(again.stderr, /my-lock\.js exists: not overwritten/);
  assert.equal((await cli(['new-design', 'Bad_Name'], dir)).code, 2);
  // The test it wrote runs the checker on it.
  execFileSync(process.execPath, ['--test', 'my-lock.test.mjs'], { cwd: dir, stdio: 'pipe' });
  // A type error in a TypeScript design is one line with its place.
  writeFileSync(join(dir, 'my-ts-lock.ts'), readFileSync(join(dir, 'my-ts-lock.ts'), 'utf8').replace('mm.vmaFree(vma);', 'mm.vmaFree(String(vma));'));
  const bad = await cli(['check', '--design', './my-ts-lock.ts', '--runs', '1'], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^mmsplit check: --design: .*my-ts-lock\.ts:\d+:\d+: Argument of type 'string' is not assignable to parameter of type 'number'\.\n$/);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.mjs') && f.startsWith('.')), [], 'the compiled module is removed at exit');
  rmSync(dir, { recursive: true, force: true });
});

test('from a package installed with npm into an empty project: write a design as the tutorial does, check it and measure it', { timeout: 600_000 }, async (t) => {
  const dir = tmp('pack');
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, stdio: 'pipe' });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  const proj = join(dir, 'proj');
  mkdirSync(proj);
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'proj', private: true, type: 'module' }));
  try {
    // Offline: the dependencies come from npm's cache, which installing this checkout filled.
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', join(dir, tgz)], { cwd: proj, stdio: 'pipe' });
  } catch (e) {
    t.skip(`npm could not install the package offline here: ${String((e as { stderr?: Buffer }).stderr ?? e).split('\n')[0]}`);
    return;
  }
  // The tutorial's design, as a user would write it from the example the package ships.
  const example = readFileSync(join(proj, 'node_modules/mmsplit/examples/refcount-lock.js'), 'utf8');
  writeFileSync(join(proj, 'mine.js'), example.replaceAll('refcount-lock', 'mine'));
  const npx = (args: string[]) => run('npx', ['--offline', 'mmsplit', ...args], { cwd: proj, maxBuffer: 1 << 26 });
  const c = await npx(['check', '--design', './mine.js', '--runs', '40', '--seed', String(seed)]);
  assert.match(c.stdout, /No violation/);
  const b = await npx(['bench', '--design', './mine.js', '--workloads', 'page_fault1', '--threads', '1', '--duration', '0.05', '--warmup', '0.05', '--repetitions', '1', '--rounds', '1', '--out', 'out']);
  assert.match(b.stdout, /page_fault1 +mine +1 /);
  const results = validateResults(JSON.parse(readFileSync(join(proj, 'out/results.json'), 'utf8')));
  assert.deepEqual(results.configuration.designs, ['mine']);
  rmSync(dir, { recursive: true, force: true });
});

test('a fault on a VMA freed and reused under it: a type-safe cache and a plain one are told apart', () => {
  for (const [design, how] of [
    ['per-vma-lock-7.0', /was freed and reused as another VMA \(a SLAB_TYPESAFE_BY_RCU cache: legal, but the fault must pin the VMA and recheck/],
    ['per-vma-lock', /was freed and reused \(a cache that is not type-safe: the fault read freed memory\)/],
  ] as const) {
    const as = AddressSpace.create({ design, frames: 64, capacity: 64, debug: true });
    const a = sysMmap(as.mm, 0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
    const vma = as.mm.tree.findValue(a);
    const v = as.pages.snapshot(vma, new FaultVma());
    assert.equal(sysMunmap(as.mm, a, PAGE), 0);
    as.rcu.barrier(); // the plain cache frees after a grace period
    // Allocate VMAs until the record comes back as another one.
    const arena = as.mm.vmas.arena;
    for (let n = 0; arena.peekGeneration(vma) === v.gen || arena.peekGeneration(vma) % 2 === 0; n++) {
      assert.ok(n < 4, `${design}: record ${vma} reused within 4 mmaps`);
      sysMmap(as.mm, 0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
    }
    as.mm.mmapReadLock();
    assert.throws(() => handleMmFault(as.pages, v, a, 0, false), (e: Error) => {
      assert.equal(e.name, 'UseAfterFreeError');
      assert.match(e.message, how, design);
      return true;
    });
    as.mm.mmapReadUnlock();
  }
});
