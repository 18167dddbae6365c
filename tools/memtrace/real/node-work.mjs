// Ordinary Node work between two /proc/self/maps snapshots (see tools/memtrace/record-real.sh): JSON, strings,
// Maps, large Buffers, zlib and crypto on the libuv pool, and a worker thread; V8's own threads collect garbage
// meanwhile, so the trace has many threads (strace -f). The snapshots are read with readSync into a Buffer
// allocated beforehand and opened as "/proc/self/./maps", a spelling nothing else uses, which
// marks them in the trace; trim-real.mjs checks that no memory call ran while the file was open.
import fs from 'node:fs';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { promisify } from 'node:util';

const buf = Buffer.alloc(8 << 20);
function snapshot(path) {
  const fd = fs.openSync('/proc/self/./maps', 'r');
  let off = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, off, buf.length - off, null);
    if (n === 0) break;
    off += n;
  }
  fs.closeSync(fd);
  fs.writeFileSync(path, buf.subarray(0, off));
}

async function work() {
  const gzip = promisify(zlib.gzip);
  const gunzip = promisify(zlib.gunzip);
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     let acc = 0;
     for (let r = 0; r < 20; r++) {
       const a = Array.from({ length: 50000 }, (_, i) => ({ i, s: 'w' + i }));
       acc += JSON.stringify(a).length;
     }
     parentPort.postMessage(acc);`,
    { eval: true },
  );
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  for (let round = 0; round < 8; round++) {
    const rows = Array.from({ length: 80000 + 10000 * round }, (_, i) => ({ id: i, name: `item${i}`, tags: Array.from({ length: i % 7 }, (_, j) => j) }));
    const text = JSON.stringify(rows);
    const back = JSON.parse(text);
    back.sort((a, b) => (a.name < b.name ? -1 : 1));
    const m = new Map();
    for (const r of back) m.set(r.name.slice(0, 5), r);
    const bigs = [];
    for (let k = 0; k < 16; k++) bigs.push(Buffer.alloc(100_000 + ((k * 7919 * (round + 1)) % 3_000_000), k));
    const z = await gzip(Buffer.from(text));
    await gunzip(z);
    crypto.createHash('sha256').update(text).digest('hex');
    await new Promise((resolve, reject) => crypto.pbkdf2('pw', 'salt', 2000, 64, 'sha512', (e) => (e ? reject(e) : resolve())));
    bigs.length = 0;
  }
  await done;
  await exited;
}

const [before, after] = process.argv.slice(2);
snapshot(before);
await work();
snapshot(after);
