// util/affinity: a thread pins itself to one CPU and puts itself under SCHED_BATCH (the simulator's pooled
// workers do), and only itself.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { lastAllowedCpu } from '../src/util/affinity.js';

const allowed = (status: string) => /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];

test('pinThisThread pins the calling thread to the CPU asked for, batchThisThread makes it SCHED_BATCH, and the process is left alone', { timeout: 30_000 }, async (t) => {
  const cpu = lastAllowedCpu();
  if (cpu === undefined) return t.skip('no /proc/self/status here');
  const before = allowed(readFileSync('/proc/self/status', 'utf8'));
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    import(workerData.module).then(({ pinThisThread, batchThisThread }) => {
      const pinned = pinThisThread(workerData.cpu);
      const batch = batchThisThread();
      // /proc/PID/task/TID/stat: the 41st field is the policy; the comm in brackets may hold spaces.
      const policy = Number(fs.readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ')[38]);
      parentPort.postMessage({ pinned, batch, policy, status: fs.readFileSync('/proc/thread-self/status', 'utf8') });
    });`;
  const w = new Worker(code, { eval: true, workerData: { cpu, module: new URL('../src/util/affinity.js', import.meta.url).href } });
  const m = await new Promise<{ pinned: boolean; batch: boolean; policy: number; status: string }>((resolve, reject) => w.once('message', resolve).once('error', reject));
  await w.terminate();
  if (!m.pinned) return t.skip('taskset is not available here: threads run unpinned');
  assert.equal(allowed(m.status), String(cpu), 'the worker runs on the one CPU');
  assert.equal(allowed(readFileSync('/proc/self/status', 'utf8')), before, 'the main thread keeps its CPUs');
  if (m.batch) assert.equal(m.policy, 3, 'SCHED_BATCH');
  const policy = Number(readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ')[38]);
  assert.equal(policy, 0, 'the main thread keeps SCHED_OTHER');
});
