// Test helpers for running code on real worker threads with a timeout, so a lost wake-up fails a test
// instead of hanging it.
import { Worker } from 'node:worker_threads';

const syncUrl = new URL('../../src/sync/index.js', import.meta.url).href;
const shmUrl = new URL('../../src/shm/index.js', import.meta.url).href;

/**
 * Runs `body` (the source of an async function body) on a worker; it sees `sync`, `shm` (the modules) and
 * `data` (the workerData), and its return value is the result. Rejects on error or after `timeoutMs`.
 */
export function onWorker<T = unknown>(body: string, data: unknown, timeoutMs = 15_000): { done: Promise<T>; worker: Worker } {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const sync = await import(${JSON.stringify(syncUrl)});
      const shm = await import(${JSON.stringify(shmUrl)});
      sync.setWaitLimit(${timeoutMs});
      const data = workerData;
      const result = await (async () => { ${body} })();
      parentPort.postMessage({ ok: true, result });
    })().catch((e) => parentPort.postMessage({ ok: false, error: String(e && e.stack || e) }));`;
  const worker = new Worker(src, { eval: true, workerData: data });
  const done = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`worker did not finish within ${timeoutMs} ms (lost wake-up or deadlock)`));
    }, timeoutMs);
    worker.once('message', (m: { ok: boolean; result: T; error: string }) => {
      clearTimeout(timer);
      void worker.terminate();
      if (m.ok) resolve(m.result);
      else reject(new Error(m.error));
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return { done, worker };
}

/** Polls `cond` on the event loop until it holds, failing after `timeoutMs`. */
export async function eventually(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
