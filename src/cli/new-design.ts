/**
 * `mmsplit new-design NAME [--ts]`: a starting design in the current folder — the thread's baseline (every
 * fault under the mmap_lock for read), commented step by step, with one mutant — and a test that runs the
 * checker on it. Both are ready to run as they are; docs/writing-a-design.md goes on from there.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SPARE_COLORS } from '../report/data.js';

const NAME = /^[a-z][a-z0-9-]{0,47}$/;

/** NAME → NameDesign. */
function className(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_m, _d: string, c: string) => c.toUpperCase()) + 'Design';
}

/** The design file: JavaScript, or TypeScript with the types the loader checks it against. */
export function designSource(name: string, ts: boolean): string {
  const cls = className(name);
  const t = (s: string): string => (ts ? s : '');
  const color = SPARE_COLORS[[...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % SPARE_COLORS.length]!;
  const file = `${name}.${ts ? 'ts' : 'js'}`;
  return `// ${name}: a locking design for mmsplit. It starts as the thread's baseline — every page fault takes the
// mm-wide mmap_lock for read — and becomes yours step by step (docs/writing-a-design.md). After each step:
//   npx mmsplit check --design ./${file}      the checker explores its interleavings
//   npx mmsplit bench --design ./${file}      the lab measures it beside the built-in designs
//   node --test ${name}.test.mjs              the checker, as a test
import { DesignStats${ts ? ', type DesignContext, type DesignDefinition, type LockingDesign' : ''} } from 'mmsplit/designs';
import { FaultVma, handleMmFault, VM_FAULT_SIGSEGV${ts ? ', type MmStruct' : ''} } from 'mmsplit/mm';

export class ${cls}${t(' implements LockingDesign')} {
${ts ? `  readonly stats: DesignStats;
  protected readonly v = new FaultVma();

` : ''}  // ctx is this thread's view of the address space: ctx.mm (the VMAs, the maple tree, the mmap_lock),
  // ctx.pages (frames, page tables, the fault core's context), ctx.rcu and ctx.srcu (read sections,
  // callRcu / callSrcu). There is one design object per thread: keep per-thread scratch here, and what
  // threads share in the words the definition below declares (vmaWords, mmWords).
  constructor(${ts ? 'protected readonly ctx: DesignContext, readonly ' : 'ctx, '}name = '${name}') {
${ts ? '' : `    this.ctx = ctx;
    this.name = name;
`}    // fastPath, retry and fallback, plus this design's own counters, as the definition declares them.
    this.stats = new DesignStats({});
${ts ? '' : `    // The copy of the VMA a fault works on: one per thread, no allocation per fault.
    this.v = new FaultVma();
`}  }

  // do_user_addr_fault(): 0 when the access may be tried again, else VM_FAULT_* bits (a signal).
  fault(addr${t(': number')}, flags${t(': number')})${t(': number')} {
    const { mm, pages } = this.ctx;
    mm.mmapReadLock(); // mmap_read_lock(mm): no mmap, munmap, mprotect … runs until we let go
    try {
      const vma = mm.vmaLookup(addr); // find_vma(), and the stack's growth
      if (vma === 0) return VM_FAULT_SIGSEGV;
      // handle_mm_fault(): nothing can change the VMA under the lock, so the fault core works on a copy of
      // it with pages as its context (no revalidation; page tables are allocated as needed). false: it
      // may sleep (a page-cache miss waits for the read).
      return handleMmFault(pages, pages.snapshot(vma, this.v), addr, flags, false);
    } finally {
      mm.mmapReadUnlock(); // mmap_read_unlock(mm)
    }
  }

  // The mm calls the three hooks below with the mmap_lock held for write.

  // vma_start_write(): before the mm changes, splits, merges or detaches a VMA that a fault may be using.
  // Every fault here holds the mmap_lock, which the writer holds for write: none is. Nothing to do.
  vmaStartWrite(${ts ? '_mm: MmStruct, _vma: number' : '_mm, _vma'})${t(': void')} {}

  // A VMA has left the tree. No fault can still hold it (see above): free it at once. A design whose faults
  // run without the mmap_lock frees it later: this.ctx.rcu.callRcu(() => mm.vmaFree(vma)).
  retireVma(mm${t(': MmStruct')}, vma${t(': number')})${t(': void')} {
    mm.vmaFree(vma);
  }

  // mmap_write_unlock() and mmap_write_downgrade(): release what vmaStartWrite() locked in this section.
  vmaEndWriteAll(${ts ? '_mm: MmStruct' : '_mm'})${t(': void')} {}
}

// A mutant: the design with one bug, which the checker must catch (mmsplit check --design ./${file}
// --name ${name}-nolock). This one faults without the mmap_lock; lockdep-lite reports it at once.
class NoLock extends ${cls} {
  ${t('override ')}fault(addr${t(': number')}, flags${t(': number')})${t(': number')} {
    const { mm, pages } = this.ctx;
    const vma = mm.vmaLookup(addr);
    return vma === 0 ? VM_FAULT_SIGSEGV : handleMmFault(pages, pages.snapshot(vma, this.v), addr, flags, false);
  }
}

// Everything mmsplit knows of the design: loaded by \`--design ./${file}\`.
export default {
  name: '${name}',
  summary: 'my design (so far the mmap_lock baseline)',
  description: 'every fault under down_read(&mm->mmap_lock), as the baseline; to be changed',
  color: '${color}',
  // Do its faults walk the VMA tree without the mmap_lock? Then the tree is kept in RCU mode.
  lockless: false,
  // Its own counters (this.stats.extra), each with what it counts.
  counters: {},
  // Int32 words it needs in every VMA, with the value a new VMA starts with: { vmRefcnt: 1 } gives each
  // record a word found with mm.vmas.wordOffset('vmRefcnt') and read at mm.vmas.word(vma, offset).
  vmaWords: {},
  mutants: {
    '${name}-nolock': { summary: '${name} faulting without the mmap_lock', make: (ctx${t(': DesignContext')}) => new NoLock(ctx, '${name}-nolock') },
  },
  make: (ctx${t(': DesignContext')}) => new ${cls}(ctx),
}${t(' satisfies DesignDefinition')};
`;
}

/** The test beside it: every checker scenario under pct, and the mutant caught. */
export function testSource(name: string, ts: boolean): string {
  const file = `${name}.${ts ? 'ts' : 'js'}`;
  return `// The checker on ${name}: every scenario under pct finds no violation, and its mutant is caught.
// Run with: node --test ${name}.test.mjs
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCheck, CHECK_SCENARIOS } from 'mmsplit/check';
import { loadDesignModule } from 'mmsplit/designs';

const [design] = await loadDesignModule(new URL('./${file}', import.meta.url).href);

for (const s of CHECK_SCENARIOS) {
  test(\`\${design}: no violation in \${s.name}\`, { timeout: 120_000 }, async () => {
    const r = await runCheck({ design, scenario: s.name, mode: 'pct', runs: 200, seed: 1 });
    assert.equal(r.violation, undefined, \`\${r.violation?.message} (replay: mmsplit check --design ./${file} --scenario \${s.name} --replay \${r.violation?.replay})\`);
  });
}

test('${name}-nolock is caught', { timeout: 120_000 }, async () => {
  const r = await runCheck({ design: '${name}-nolock', scenario: 'fault-munmap', mode: 'pct', runs: 200, seed: 1 });
  assert.ok(r.violation, 'the checker did not catch the mutant');
});
`;
}

/** Writes NAME.js (or .ts) and NAME.test.mjs into `dir`; returns the exit code. */
export function newDesignCommand(name: string, o: { ts: boolean; dir?: string }): number {
  if (!NAME.test(name)) {
    console.error(`mmsplit new-design: '${name}': a design name is lower case letters, digits and '-', starting with a letter`);
    return 2;
  }
  const dir = resolve(o.dir ?? '.');
  const files: [string, string][] = [
    [resolve(dir, `${name}.${o.ts ? 'ts' : 'js'}`), designSource(name, o.ts)],
    [resolve(dir, `${name}.test.mjs`), testSource(name, o.ts)],
  ];
  const there = files.find(([f]) => existsSync(f));
  if (there) {
    console.error(`mmsplit new-design: ${there[0]} exists: not overwritten`);
    return 2;
  }
  for (const [f, text] of files) writeFileSync(f, text);
  const rel = `./${name}.${o.ts ? 'ts' : 'js'}`;
  console.log(`wrote ${files.map(([f]) => f).join(' and ')}
next:
  npx mmsplit check --design ${rel}
  npx mmsplit bench --design ${rel} --workloads page_fault1,churn
  node --test ${name}.test.mjs
  and docs/writing-a-design.md${o.ts ? '\n(a .ts design is type-checked and compiled when loaded: it needs typescript installed beside it)' : ''}`);
  return 0;
}
