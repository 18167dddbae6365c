// util/affinity: a thread pins itself to one CPU (the simulator's pooled workers do), and only itself.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { lastAllowedCpu } from '../src/util/affinity.js';

const allowed = (status: string) => /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];

test('pinThisThread pins the calling thread to the CPU asked for, and leaves the process alone', { timeout: 30_000 }, async (t) => {
  const cpu = lastAllowedCpu();
  if (cpu === undefined) return t.skip('no /proc/self/status here');
  const before = allowed(readFileSync('/proc/self/status', 'utf8'));
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    import(workerData.module).then(({ pinThisThread }) => {
      const pinned = pinThisThread(workerData.cpu);
      parentPort.postMessage({ pinned, status: fs.readFileSync('/proc/thread-self/status', 'utf8') });
    });`;
  const w = new Worker(code, { eval: true, workerData: { cpu, module: new URL('../src/util/affinity.js', import.meta.url).href } });
  const m = await new Promise<{ pinned: boolean; status: string }>((resolve, reject) => w.once('message', resolve).once('error', reject));
  await w.terminate();
  if (!m.pinned) return t.skip('taskset is not available here: threads run unpinned');
  assert.equal(allowed(m.status), String(cpu), 'the worker runs on the one CPU');
  assert.equal(allowed(readFileSync('/proc/self/status', 'utf8')), before, 'the main thread keeps its CPUs');
});
