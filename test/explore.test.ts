// mmsplit explore: recording a replay changes no turn of it (same trace, same violation, with and without
// the recorder); every step is recorded with the thread that reached it; the command exits 2 with one line
// on bad usage, 0 with a page for a clean schedule, 1 for a violation's; and in chromium (skipped where it
// is not installed) the page of spf-novalidate's violation shows, at the violation's step, the writable PTE
// the checker names inside the VMA that mprotect made read-only, with its PTE lock and RCU's reader slots
// by thread beside it, and the keys step through the run. The recorder names the holders and waiters of
// every PTE lock and VMA lock as their words count them, and its reader slots and grace-period queues
// agree with the structures; `--serve` serves the page it wrote until SIGINT.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { replay } from '../src/check/check.js';
import { AddressSpaceRecorder, type Snapshot } from '../src/explore/record.js';
import { rwsemHeldForWrite, rwsemReaders } from '../src/sync/rwsem.js';
import { testSeed } from './support/seed.js';
import { hasChromium, launchChromium, watchProblems } from './support/browser.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;
const seed = testSeed();
/** spf-novalidate's violation in fault-mprotect, as `check --seed 1` finds it (after 18 schedules). */
const MUTANT = ['--design', 'spf-novalidate', '--scenario', 'fault-mprotect', '--seed', '1'];

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The writer bit and reader count of an rwsem word. */
function rwsemOf(word: number): { writer: boolean; readers: number } {
  const a = new Int32Array([word]);
  return { writer: rwsemHeldForWrite(a, 0), readers: rwsemReaders(a, 0) };
}

function tmpDir(what: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mmsplit-explore-${what}-`));
}

test('recording changes no turn: the same trace and violation with and without the recorder', { timeout: 120_000 }, async () => {
  const cases = [
    { design: 'spf', scenario: 'fault-munmap', token: { seed } },
    { design: 'srcu', scenario: 'fault-fault-zap', token: { seed } },
    { design: 'spf-novalidate', scenario: 'fault-mprotect', token: { seed: 2461966481 } },
  ];
  for (const c of cases) {
    const plain = await replay({ ...c, mode: 'pct' });
    const recorder = new AddressSpaceRecorder();
    const recorded = await replay({ ...c, mode: 'pct', record: recorder });
    const what = `${c.design} ${c.scenario} ${c.token.seed}`;
    assert.deepEqual(recorded.trace, plain.trace, `${what}: the recorded run took other turns`);
    assert.equal(recorded.violation, plain.violation, what);
    assert.equal(recorded.steps, plain.steps, what);
    // One record per yield point, by the thread the trace says reached it, and one for the end.
    const { steps, states } = recorder.recording();
    assert.equal(steps.length, plain.steps + 1, what);
    const reachedBy = new Map(plain.trace.filter((e) => e.point).map((e) => [e.step, e.thread]));
    for (const s of steps.slice(0, -1)) assert.equal(s.thread, reachedBy.get(s.step), `${what}: step ${s.step}`);
    assert.equal(steps.at(-1)!.thread, -1);
    assert.ok(states.length > 1 && states.length < steps.length, `${what}: ${states.length} distinct states`);
  }
  const bad = await replay({ design: 'spf-novalidate', scenario: 'fault-mprotect', mode: 'pct', token: { seed: 2461966481 } });
  assert.match(bad.violation ?? '', /writable PTE for 0x10001000 in a read-only VMA/);
});

test('the recorder names who holds and who waits for the mmap_lock: as many threads as the word counts, at every step', { timeout: 120_000 }, async () => {
  // mmap-lock's fault-munmap as `explore --design mmap-lock --scenario fault-munmap` shows it: T0 faults
  // under the read lock, T1's munmap waits for write, sleeps, takes it, downgrades it for the zap.
  const recorder = new AddressSpaceRecorder();
  await replay({ design: 'mmap-lock', scenario: 'fault-munmap', mode: 'pct', token: { seed: 3716709671 }, record: recorder });
  const { steps } = recorder.recording();
  // srcu-sync's seed 2: munmap downgrades the lock while a fault waits to read, both hold it after.
  const other = new AddressSpaceRecorder();
  await replay({ design: 'srcu-sync', scenario: 'fault-munmap', mode: 'pct', token: { seed: 2 }, record: other });
  const states = [...recorder.recording().states, ...other.recording().states];
  const seen = new Set<string>();
  for (const st of states) {
    const m = st.mmapLock, w = m.who!;
    assert.equal(w.writer.length, m.writer ? 1 : 0, JSON.stringify(m));
    assert.equal(w.readers.length, m.readers, JSON.stringify(m));
    assert.equal(w.readersWaiting.length, m.readersWaiting, JSON.stringify(m));
    assert.equal(w.writersWaiting.length, m.writersWaiting, JSON.stringify(m));
    for (const t of w.asleep) assert.ok(w.readersWaiting.includes(t) || w.writersWaiting.includes(t) || w.writer.length + w.readers.length > 0, `T${t} asleep on a free lock`);
    if (w.writer.length) seen.add(`T${w.writer[0]} writes`);
    for (const t of w.readers) seen.add(`T${t} reads`);
    for (const t of w.writersWaiting) seen.add(`T${t} waits to write`);
    for (const t of w.asleep) seen.add(`T${t} asleep`);
  }
  for (const what of ['T0 reads', 'T1 waits to write', 'T1 asleep', 'T1 writes', 'T1 reads']) assert.ok(seen.has(what), `${what} (saw: ${[...seen].join(', ')})`);
  // T1 asleep is a thread the scheduler has in futex_wait.
  const asleep = steps.find((s) => states[s.state]!.mmapLock.who!.asleep.includes(1))!;
  assert.ok(asleep, 'T1 asleep at some step');
  assert.equal(asleep.sched[1], 'sleeping in futex_wait');
});

/** Replays each design × scenario × seed 1–3 recorded; calls `fn` with every distinct state. */
async function everyState(designs: string[], scenarios: string[], fn: (st: Snapshot, what: string) => void): Promise<void> {
  for (const design of designs) for (const scenario of scenarios) for (const seed of [1, 2, 3]) {
    const recorder = new AddressSpaceRecorder();
    await replay({ design, scenario, mode: 'pct', token: { seed }, record: recorder });
    for (const st of recorder.recording().states) fn(st, `${design} ${scenario} ${seed}`);
  }
}

test('the recorder names who holds and waits for each PTE lock and VMA lock: as many threads as the words count, at every state', { timeout: 180_000 }, async () => {
  const seen = new Set<string>();
  const EXCLUDE_READERS = 1 << 30;
  await everyState(['per-vma-lock', 'per-vma-lock-7.0', 'spf', 'vma-refcount'], ['fault-munmap', 'fault-mprotect'], (st, what) => {
    for (const p of st.ptls) {
      const w = p.who!, at = `${what}: PTE lock of ${p.base.toString(16)} = ${p.word} ${JSON.stringify(w)}`;
      // A spinlock word: 0 free, else held by exactly one thread; the waiters named are others, the sleepers among them.
      assert.equal(w.writer.length, p.word === 0 ? 0 : 1, at);
      for (const t of w.writersWaiting) assert.ok(!w.writer.includes(t), at);
      for (const t of w.asleep) assert.ok(w.writersWaiting.includes(t), at);
      if (p.word === 1) assert.deepEqual(w.asleep, [], at);
      if (w.writer.length) seen.add('a PTE lock held');
    }
    for (const v of st.vmas) {
      for (const [name, value] of Object.entries(v.words)) {
        const w = v.locks?.[name], at = `${what}: VMA #${v.rec} ${name} = ${value} ${JSON.stringify(w)}`;
        if (name === 'vmLockSeq') {
          // Write-locked exactly while vm_lock_seq = mm_lock_seq, by the mmap_lock's writer.
          assert.equal(w !== undefined, value === st.mmWords.mmLockSeq, at);
          if (w && st.mmapLock.writer) assert.deepEqual(w.writer, st.mmapLock.who!.writer, at);
          if (w) seen.add('a VMA write-locked');
        } else if (name === 'vmLock') {
          const r = rwsemOf(value);
          assert.equal(w!.writer.length, r.writer ? 1 : 0, at);
          assert.equal(w!.readers.length, r.readers, at);
          if (r.writer) seen.add('vm_lock held for write');
          if (r.readers) seen.add('vm_lock held for read');
        } else if (name === 'vmRefcnt' || name === 'vmRefcount') {
          // vm_refcnt (7.0): 1 while attached + a reference per reader; a writer excluding readers adds the flag
          // and waits. vm_refcount: the tree's reference + the readers', the tree's dropped by the munmap that
          // detaches it (not at the step the record is marked detached): the readers are n - 1 or n.
          const n = value & ~EXCLUDE_READERS;
          if (name === 'vmRefcnt') assert.equal(w!.readers.length, Math.max(0, n - 1), at);
          else assert.ok(w!.readers.length === n || w!.readers.length === n - 1, at);
          assert.equal(w!.writersWaiting.length, value & EXCLUDE_READERS ? 1 : 0, at);
          if (n > 1) seen.add(`${name} read`);
          if (value & EXCLUDE_READERS) seen.add('vmRefcnt excluding readers');
        } else if (name === 'vmSequence') {
          assert.equal(w!.writer.length, value & 1, at);
          if (value & 1) seen.add('vm_sequence open');
        }
      }
    }
  });
  for (const what of ['a PTE lock held', 'a VMA write-locked', 'vm_lock held for write', 'vm_lock held for read', 'vmRefcnt read', 'vmRefcount read', 'vmRefcnt excluding readers', 'vm_sequence open']) assert.ok(seen.has(what), `${what} (saw: ${[...seen].join(', ')})`);
});

test('the RCU and SRCU readers by thread and what waits for a grace period agree with the structures, at every state', { timeout: 180_000 }, async () => {
  const seen = new Set<string>();
  await everyState(['spf', 'srcu', 'per-vma-lock-7.0'], ['fault-munmap'], (st, what) => {
    const d = st.pending.deferred, at = `${what}: ${JSON.stringify(st.pending)}`;
    // The ring's entries against its counters (where no push or drain is half done under its lock); cookies
    // taken in order, none from a grace period not yet started.
    if (!d.locked) assert.equal(d.frames, d.framesPending, at);
    assert.equal(d.frames + d.tables, d.count, at);
    if (d.count) assert.ok(d.oldestCookie! <= d.newestCookie! && d.newestCookie! <= st.rcu.gp, at);
    if (d.frames) seen.add('frames deferred');
    if (d.tables) seen.add('tables deferred');
    // The detached VMAs are exactly the records waiting for their deferred free.
    assert.deepEqual(st.pending.vmas, st.vmas.filter((v) => v.detached).map((v) => v.rec), at);
    if (st.pending.vmas.length) seen.add('a VMA free pending');
    // A dead maple node is no longer in the tree.
    if (st.tree) for (const n of st.tree) assert.ok(!st.pending.mapleNodes.includes(n.node), `${at}: node ${n.node} both in the tree and dead`);
    if (st.pending.mapleNodes.length) seen.add('maple nodes pending');
    // Reader slots: one thread each (slot 0 is the controller's), and an SRCU slot inside a section is named.
    const r = st.rcu.threads!, q = st.srcu.threads!;
    assert.equal(r.length, st.rcu.slots.length, at);
    assert.equal(r[0], -1, at);
    const named = r.filter((t) => t >= 0);
    assert.equal(new Set(named).size, named.length, `${what}: a thread in two RCU slots ${r}`);
    assert.equal(q.length, st.srcu.slots.length, at);
    assert.equal(st.srcu.slots.reduce((a, b) => a + b, 0), st.srcu.readers, at);
    st.srcu.slots.forEach((n, k) => {
      if (n > 0) {
        assert.ok(q[k]! >= 0, `${what}: SRCU slot ${k} inside a section, named by no thread`);
        seen.add('an SRCU reader named');
      }
    });
    if (named.length) seen.add('an RCU reader named');
  });
  for (const what of ['frames deferred', 'tables deferred', 'a VMA free pending', 'maple nodes pending', 'an SRCU reader named', 'an RCU reader named']) assert.ok(seen.has(what), `${what} (saw: ${[...seen].join(', ')})`);
});

test('the recorder reads the maple tree\'s nodes: their leaves hold exactly the VMAs in the tree, over their ranges', { timeout: 120_000 }, async () => {
  // spf's tree is in RCU mode: read at every step. mmap-lock's is not: read where no writer holds the lock.
  for (const c of [{ design: 'spf', seed }, { design: 'mmap-lock', seed: 3716709671 }]) {
    const recorder = new AddressSpaceRecorder();
    await replay({ design: c.design, scenario: 'fault-munmap', mode: 'pct', token: { seed: c.seed }, record: recorder });
    let read = 0;
    for (const st of recorder.recording().states) {
      if (st.tree === null) {
        assert.ok(c.design === 'mmap-lock' && st.mmapLock.writer, `${c.design}: the tree is read unless a writer may be changing it`);
        continue;
      }
      read++;
      const leaves: string[] = [];
      for (const n of st.tree) {
        let a = n.min;
        for (const x of n.slots) {
          if (n.type === 'leaf_64' && x.to !== 0) leaves.push(`#${x.to} ${a}-${x.last + 1}`);
          a = x.last + 1;
        }
        assert.equal(a, n.max + 1, `${c.design}: node ${n.node}'s slots cover its range`);
      }
      const inTree = st.vmas.filter((v) => !v.detached && v.inTree !== false).map((v) => `#${v.rec} ${v.start}-${v.end}`);
      assert.deepEqual(leaves, inTree, `${c.design}: the leaves against the VMA records`);
    }
    assert.ok(read > 1, `${c.design}: the tree read at ${read} states`);
  }
});

test('mmsplit explore: exit 2 and one line on bad usage, 0 for a clean schedule, 1 for a violation', { timeout: 180_000 }, async () => {
  const dir = tmpDir('cli');
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, '');
  const bad: [string[], RegExp][] = [
    [['explore', '--design', 'no-such-design'], /--design/],
    [['explore', '--design', 'spf', '--scenario', 'fault-munmap', '--replay', 'x1'], /--replay.*bad replay token/],
    [['explore', '--design', 'spf', '--replay', '12'], /--replay: needs --scenario/],
    [['explore', '--design', 'spf', '--scenario', 'fault-munmap', '--out', path.join(file, 'page')], /--out/],
    [['explore', '--design', 'spf', '--mode', 'stress'], /unknown mode 'stress'/],
    [['explore', '--design', 'spf', '--serve', '65536'], /--serve: '65536' is not a port/],
    [['explore', '--design', 'spf', '--serve', 'eighty'], /--serve: 'eighty' is not a port/],
  ];
  for (const [args, why] of bad) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    // One line naming the flag (commander's errors add the project's hint line after it).
    const lines = r.stderr.trim().split('\n').filter((l) => l !== '(mmsplit COMMAND --help lists its options)');
    assert.equal(lines.length, 1, `${args.join(' ')}: one line, got:\n${r.stderr}`);
    assert.match(lines[0]!, why);
    assert.equal(r.stdout, '');
  }
  const out = path.join(dir, 'clean');
  const ok = await cli(['explore', '--design', 'spf', '--scenario', 'fault-munmap', '--replay', String(seed), '--out', out]);
  assert.equal(ok.code, 0, ok.stderr);
  const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i, 'nothing external');
  assert.doesNotMatch(html, /@import|url\(/, 'no external fonts or styles');
  const found = await cli(['explore', ...MUTANT, '--out', path.join(dir, 'mutant'), '--json']);
  assert.equal(found.code, 1, found.stderr);
  const j = JSON.parse(found.stdout) as { violation: { message: string }; token: string };
  assert.match(j.violation.message, /writable PTE .* in a read-only VMA/);
  assert.equal(j.token, '2461966481');
});

test('mmsplit explore --serve: serves the page it wrote on 127.0.0.1 until SIGINT, then exits with its code', { timeout: 120_000 }, async () => {
  const dir = tmpDir('serve');
  const out = path.join(dir, 'page');
  // Port 0: the system picks a free one, so the test needs no port of its own and the URL line says which.
  const child = spawn(process.execPath, [CLI, 'explore', '--design', 'spf', '--scenario', 'fault-munmap', '--replay', String(seed), '--out', out, '--serve', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        stdout += b;
        const m = /serving (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`exited ${code} before serving:\n${stdout}\n${stderr}`)));
    });
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(await res.text(), fs.readFileSync(path.join(out, 'index.html'), 'utf8'), 'the page served is the file written');
    assert.equal((await fetch(new URL('index.html', url))).status, 200);
    assert.equal((await fetch(new URL('other.js', url))).status, 404, 'one page, nothing else');
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, `exit after SIGINT (a clean schedule)\n${stderr}`);
});

/** The little of the DOM the checks use (tsconfig has no DOM library). */
interface Dom {
  document: { body: { getAttribute(n: string): string | null }; querySelector(s: string): { textContent: string | null; className: string } | null };
}

test('the page in chromium: at the violation, the PTE the checker names is in the VMA that changed; the keys step', { timeout: 180_000 }, async (t) => {
  if (!hasChromium()) {
    t.skip('chromium not installed');
    return;
  }
  const dir = tmpDir('browser');
  // What the checker reports, on its own.
  const checked = await cli(['check', ...MUTANT, '--json']);
  assert.equal(checked.code, 1, checked.stderr);
  const report = JSON.parse(checked.stdout) as { reports: { violation?: { message: string; replay: string } }[] };
  const v = report.reports.find((r) => r.violation)!.violation!;
  const addr = /PTE for (0x[0-9a-f]+)/.exec(v.message)![1]!;
  const made = await cli(['explore', ...MUTANT, '--out', path.join(dir, 'page')]);
  assert.equal(made.code, 1, made.stderr);

  const context = await launchChromium(path.join(dir, 'profile'), { width: 1400, height: 1000 });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const problems = watchProblems(page);
    const url = pathToFileURL(path.join(dir, 'page', 'index.html')).href;
    await page.goto(url, { waitUntil: 'load' });
    const step = () => page.evaluate(() => Number((globalThis as unknown as Dom).document.body.getAttribute('data-step')));
    const n = Number(await page.locator('#slider').getAttribute('max')) + 1;
    assert.ok(n > 100, `${n} steps`);
    assert.equal(await step(), 0);

    // Jump to the violation: the banner says what the checker said, here.
    await page.keyboard.press('v');
    const at = await step();
    assert.ok(at > 0 && at < n - 1, `the violation at step index ${at} of ${n}`);
    const banner = page.locator('#violation');
    assert.match((await banner.getAttribute('class')) ?? '', /\bactive\b/);
    assert.ok((await banner.textContent())!.includes(v.message), 'the checker\'s words');
    // The PTE the checker names: highlighted, writable, inside a VMA that is read-only and changed during the run.
    const pte = page.locator('.pte.bad');
    assert.equal(await pte.count(), 1);
    assert.equal(await pte.getAttribute('data-addr'), addr);
    assert.equal(await pte.getAttribute('data-writable'), 'true');
    const rec = await pte.getAttribute('data-vma');
    assert.ok(rec, 'the PTE lies in a VMA in the tree');
    const vma = page.locator(`.vma[data-rec="${rec}"]:not(.detached)`);
    assert.equal(await vma.count(), 1);
    assert.equal((await vma.getAttribute('data-perms'))![1], '-', 'the VMA is read-only');
    assert.match((await vma.getAttribute('class'))!, /\bchanged\b/, 'the VMA changed during the run (mprotect)');
    // One step back the PTE was not there yet (or not writable): this is where it went in.
    await page.keyboard.press('ArrowLeft');
    assert.equal(await step(), at - 1);
    assert.equal(await page.locator(`.pte[data-addr="${addr}"][data-writable="true"]`).count(), 0, 'the step before, no writable PTE');
    assert.match((await banner.getAttribute('class')) ?? '', /\bpast\b/);
    await page.keyboard.press('ArrowRight');
    assert.equal(await step(), at);
    await page.screenshot({ path: path.join(dir, 'violation.png'), fullPage: true });

    // The keys.
    await page.keyboard.press('End');
    assert.equal(await step(), n - 1);
    await page.keyboard.press('Home');
    assert.equal(await step(), 0);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    assert.equal(await step(), 2);
    await page.keyboard.press('Shift+ArrowRight');
    assert.ok((await step()) > 2, 'shift+→ goes to the next change of state');
    await page.click('#prev');
    await page.click('#first');
    assert.equal(await step(), 0);
    assert.equal(await page.locator('#slider').inputValue(), '0');
    assert.equal(await page.locator('#trace td.cur').count(), 1, 'one thread is on its step');
    assert.ok((await page.locator('#tree .mnode[data-type="leaf_64"]').count()) >= 1, 'the maple tree\'s nodes');
    // The locks and RCU panels: the PTE table's lock, RCU's reader slots, what waits for a grace period.
    await page.keyboard.press('v');
    assert.ok((await page.locator('#locks .ptl-lock').count()) >= 1, 'the PTE table\'s lock');
    assert.ok((await page.locator('#rcu .rcu-slot .tid').count()) >= 1, 'an RCU reader slot named by thread');
    assert.equal(await page.locator('#rcu #pending-deferred').count(), 1, 'the deferred frees');
    assert.deepEqual(problems, []);
    console.log(`# screenshot: ${path.join(dir, 'violation.png')}`);
  } finally {
    await context.close();
  }
});
