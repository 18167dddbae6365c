// Worker for test/mm-vma.test.ts: attaches to an mm and answers find_vma for the addresses it is given.
import { parentPort, workerData } from 'node:worker_threads';
import { MmStruct, type MmHandle } from '../../src/mm/mm.js';

const { handle, addrs } = workerData as { handle: MmHandle; addrs: number[] };
const mm = MmStruct.attach(handle);
const out = addrs.map((a) => {
  const v = mm.findVma(a);
  return v === 0 ? null : [mm.vmas.start(v), mm.vmas.end(v), mm.vmas.flags(v)];
});
parentPort!.postMessage({ out, mapCount: mm.mapCount, mmapBase: mm.mmapBase });
