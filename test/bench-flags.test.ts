// The benches refuse a command line they do not take, in one line, exit 2, before measuring anything.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bench = (name: string, args: string[]) => spawnSync(process.execPath, [path.join(DIST, 'bench', `${name}.js`), ...args], { encoding: 'utf8', timeout: 60_000 });

test('benches: an unknown flag, a flag without its value, an unknown design, a number out of range: one line naming it, exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['fault', ['--designs', 'spf'], /^bench:fault: unknown flag --designs \(it takes --design, --seconds, --json\)$/],
    ['fault', ['--design', 'nosuch'], /^bench:fault: --design: unknown name nosuch \(one of .*spf.*\)$/],
    ['simulate', ['--reps'], /^bench:simulate: --reps: expected a value after it$/],
    ['simulate', ['--designs', '--json'], /^bench:simulate: --designs: expected a value after it$/],
    ['sync', ['fast'], /^bench:sync: unknown argument fast \(it takes --json\)$/],
    ['maple', ['--repetitions', '3'], /^bench:maple: unknown flag --repetitions/],
    ['designs', ['--design', 'nosuch'], /^bench:designs: --design: unknown name nosuch/],
    ['interference', ['--busy=2'], /^bench:interference: unknown flag --busy=2/],
    ['replay', ['--reps', '3'], /^bench:replay: unknown flag --reps/],
    ['fault', ['--seconds', 'x'], /^bench:fault: --seconds: expected a number above 0, got x$/],
    ['designs', ['--reps', '0'], /^bench:designs: --reps: expected a whole number above 0, got 0$/],
    ['maple', ['--reps', '1.5'], /^bench:maple: --reps: expected a whole number above 0, got 1\.5$/],
    ['interference', ['--seconds', '-1'], /^bench:interference: --seconds: expected a number above 0, got -1$/],
  ];
  for (const [name, args, line] of cases) {
    const r = bench(name, args);
    assert.equal(r.status, 2, `${name} ${args.join(' ')}: exit ${r.status}, ${r.stderr}`);
    assert.equal(r.stdout, '', `${name} ${args.join(' ')}: nothing measured`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name} ${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0]!, line);
  }
});
