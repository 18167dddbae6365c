/**
 * The designs by name: the only list of them. The lab, the checker, the report, --help and the results'
 * validation all read it. A built-in design is one file that exports its DesignDefinition, plus its line
 * in BUILT_IN below; a user's design is a module loaded by path (loadDesignModule), in every thread that
 * makes or attaches an address space under it.
 */
import { pathToFileURL, fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { DesignDefinitionError, type DesignContext, type DesignDefinition, type LockingDesign } from '../mm/design.js';
import { MM_PATHS } from '../mm/paths.js';

export { DesignDefinitionError };
import { mmapLock, mmapLockRbtree } from './mmap-lock.js';
import { perVmaLock } from './per-vma-lock.js';
import { perVmaLock70 } from './per-vma-lock-7.0.js';
import { rcuFault } from './rcu-fault.js';
import { spf } from './spf.js';
import { srcu, srcuSync } from './srcu.js';
import { vmaRefcount } from './vma-refcount.js';

/** The built-in designs, in the order the report draws them (baselines first, then the thread's phases). */
const BUILT_IN: readonly DesignDefinition[] = [mmapLock, mmapLockRbtree, vmaRefcount, rcuFault, srcu, srcuSync, spf, perVmaLock, perVmaLock70];

/** The design the report's ratios are taken against. */
export const REFERENCE_DESIGN = 'mmap-lock';

/** A registered design: its definition, and for a mutant the design it breaks, for a loaded one its module. */
export interface RegisteredDesign extends DesignDefinition {
  /** Set for a mutant: the design it is a broken variant of. */
  readonly mutantOf?: string;
  /** Set for a design loaded from a file: the module's file: URL (workers import it again). */
  readonly source?: string;
}

const registry = new Map<string, RegisteredDesign>();

/** Names: what a shell, a results file and a file name can all hold. */
const DESIGN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const COLOR = /^#[0-9a-fA-F]{6}$/;

/**
 * Checks that `d` is a DesignDefinition (a module's export is untyped JavaScript): one line naming the
 * first field that is wrong.
 */
export function checkDesignDefinition(d: unknown, where = 'design'): asserts d is DesignDefinition {
  let at = where; // the file, then the file and the design's name once it is known
  const failIn = (why: string): never => {
    throw new DesignDefinitionError(`${at}: ${why}`);
  };
  if (typeof d !== 'object' || d === null) failIn('not a design definition (export default { name, summary, description, color, lockless, make })');
  const o = d as Record<string, unknown>;
  const str = (k: string): void => {
    if (typeof o[k] !== 'string' || (o[k] as string).length === 0) failIn(`'${k}' must be a non-empty string`);
  };
  str('name');
  if (!DESIGN_NAME.test(o['name'] as string)) failIn(`name '${String(o['name'])}': use lower case letters, digits, '-', '.', '_' (at most 64)`);
  at = `${where} '${o['name'] as string}'`;
  str('summary');
  str('description');
  if (typeof o['color'] !== 'string' || !COLOR.test(o['color'])) failIn(`'color' must be #rrggbb, not ${JSON.stringify(o['color'])}`);
  if (typeof o['lockless'] !== 'boolean') failIn("'lockless' must be true or false (do its faults walk the VMA tree without the mmap_lock?)");
  if (o['baseline'] !== undefined && typeof o['baseline'] !== 'boolean') failIn("'baseline' must be true or false");
  if (o['index'] !== undefined && o['index'] !== 'maple' && o['index'] !== 'rbtree') failIn("'index' must be 'maple' or 'rbtree'");
  if (typeof o['make'] !== 'function') failIn("'make' must be a function (ctx) => LockingDesign");
  if (o['quiescentVma'] !== undefined && typeof o['quiescentVma'] !== 'function') failIn("'quiescentVma' must be a function (mm, vma) => string | undefined");
  for (const k of ['counters', 'vmaWords', 'mmWords', 'mutants', 'unreachable']) {
    if (o[k] !== undefined && (typeof o[k] !== 'object' || o[k] === null || Array.isArray(o[k]))) failIn(`'${k}' must be an object`);
  }
  for (const [k, v] of Object.entries((o['counters'] ?? {}) as object)) {
    if (typeof v !== 'string') failIn(`counter '${k}': say what it counts (a string)`);
    if (k === 'fastPath' || k === 'retry' || k === 'fallback') failIn(`counter '${k}' is one every design has: leave it out of counters`);
  }
  const paths: string[] = Object.values(MM_PATHS);
  for (const [k, v] of Object.entries((o['unreachable'] ?? {}) as object)) {
    if (!paths.includes(k)) failIn(`unreachable: '${k}' is not a path of the fault core (mm/paths.ts)`);
    if (typeof v !== 'string') failIn(`unreachable '${k}': say why (a string)`);
  }
  for (const [k, v] of Object.entries({ ...(o['vmaWords'] ?? {}), ...(o['mmWords'] ?? {}) } as Record<string, unknown>)) {
    if (!Number.isInteger(v)) failIn(`word '${k}': its initial value must be an integer`);
  }
  if (o['typesafeByRcu'] !== undefined) {
    const ws = o['typesafeByRcu'];
    if (!Array.isArray(ws)) failIn("'typesafeByRcu' must be a list of vmaWords names");
    for (const w of ws as unknown[]) if (typeof w !== 'string' || !Object.hasOwn((o['vmaWords'] ?? {}) as object, w)) failIn(`typesafeByRcu: '${String(w)}' is not one of its vmaWords`);
  }
  for (const [k, m] of Object.entries((o['mutants'] ?? {}) as Record<string, unknown>)) {
    if (!DESIGN_NAME.test(k)) failIn(`mutant '${k}': not a design name`);
    const mo = m as Record<string, unknown> | null;
    if (typeof mo !== 'object' || mo === null || typeof mo['summary'] !== 'string' || typeof mo['make'] !== 'function') failIn(`mutant '${k}' must be { summary, make }`);
  }
}

/**
 * Makes a design (and its mutants) selectable by name. Registering the same definition again is a no-op;
 * another design under a taken name is an error.
 */
export function registerDesign(d: DesignDefinition, source?: string): void {
  checkDesignDefinition(d, source ? fileURLToPath(source) : 'design');
  const entries: RegisteredDesign[] = [{ ...d, ...(source ? { source } : {}) }];
  for (const [name, m] of Object.entries(d.mutants ?? {})) {
    entries.push({ ...d, name, summary: m.summary, description: m.summary, make: m.make, mutants: {}, mutantOf: d.name, ...(source ? { source } : {}) });
  }
  for (const e of entries) {
    const had = registry.get(e.name);
    if (had !== undefined && (had.make !== e.make || had.source !== e.source)) {
      const where = source ? `${fileURLToPath(source)}: ` : '';
      throw new DesignDefinitionError(`${where}design '${e.name}' already exists (${had.source ? fileURLToPath(had.source) : 'built in'}): give yours another name`);
    }
  }
  for (const e of entries) if (!registry.has(e.name)) registry.set(e.name, e);
}

for (const d of BUILT_IN) registerDesign(d);

/** The designs the lab runs by default: the built-in ones, in the report's order. */
export const BUILT_IN_DESIGN_NAMES: readonly string[] = BUILT_IN.map((d) => d.name);

/** The built-in designs by name (what `mmsplit/designs` users iterate). */
export const DESIGNS: Readonly<Record<string, DesignDefinition>> = Object.fromEntries(BUILT_IN.map((d) => [d.name, d]));

/** Every registered design that is not a mutant: the built-in ones, then those loaded, in order. */
export function designNames(): string[] {
  return [...registry.values()].filter((d) => d.mutantOf === undefined).map((d) => d.name);
}

/** Every registered mutant, with the design it breaks. */
export function mutantNames(): string[] {
  return [...registry.values()].filter((d) => d.mutantOf !== undefined).map((d) => d.name);
}

export function isDesign(name: string): boolean {
  return registry.has(name);
}

export function designInfo(name: string): RegisteredDesign {
  const d = registry.get(name);
  if (!d) throw new DesignDefinitionError(`unknown design '${name}' (have: ${designNames().join(', ')}; mutants: ${mutantNames().join(', ')}; or the path of a design module, ./my-design.js)`);
  return d;
}

export function createDesign(name: string, ctx: DesignContext): LockingDesign {
  return designInfo(name).make(ctx);
}

/** Whether a --design argument names a module rather than a design: it has a path separator or a JS/TS extension. */
export function isDesignPath(arg: string): boolean {
  return arg.includes('/') || arg.includes('\\') || /\.(m?js|m?ts)$/.test(arg);
}

const loading = new Map<string, Promise<string[]>>();

/**
 * Imports a design module (a path or a file: URL), checks and registers what it exports by default — a
 * DesignDefinition or an array of them — and returns their names. A .ts module is type-checked against
 * mmsplit's types and compiled first (src/designs/load-ts.ts; needs `typescript` installed beside it).
 * Loading the same module again returns the same names.
 */
export function loadDesignModule(pathOrUrl: string): Promise<string[]> {
  const url = pathOrUrl.startsWith('file:') ? pathOrUrl : pathToFileURL(resolve(pathOrUrl)).href;
  let p = loading.get(url);
  if (p === undefined) {
    p = importDesigns(url);
    loading.set(url, p);
  }
  return p;
}

async function importDesigns(url: string): Promise<string[]> {
  const file = fileURLToPath(url);
  let mod: Record<string, unknown>;
  let target = url;
  try {
    if (/\.m?ts$/.test(file)) target = (await import('./load-ts.js')).compileDesignModule(file);
    mod = (await import(target)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof DesignDefinitionError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(file)) throw new DesignDefinitionError(`${file}: no such file`);
    // A syntax error's stack starts with the place: /…/mine.js:12 (or file:///…/mine.js:12)
    const at = /^(\S+?):(\d+)\n/.exec(err.stack ?? ''); // (Node 20 gives an ES module's syntax error no place)
    const where = at ? `${at[1]!.startsWith('file:') ? fileURLToPath(at[1]!) : at[1]}:${at[2]}` : file;
    throw new DesignDefinitionError(`${where}: cannot be loaded: ${err.name === 'SyntaxError' ? 'SyntaxError: ' : ''}${err.message.split('\n')[0]}`);
  }
  const exported = mod['default'];
  if (exported === undefined) throw new DesignDefinitionError(`${file}: exports no design (export default { name, summary, … make })`);
  const defs = Array.isArray(exported) ? exported : [exported];
  if (defs.length === 0) throw new DesignDefinitionError(`${file}: its default export is an empty array`);
  defs.forEach((d, i) => checkDesignDefinition(d, defs.length > 1 ? `${file} [${i}]` : file));
  // Workers import what this thread imported: the compiled module of a .ts design.
  for (const d of defs as DesignDefinition[]) registerDesign(d, target);
  return (defs as DesignDefinition[]).map((d) => d.name);
}

/**
 * Resolves --design arguments: names stay, paths are loaded (and replaced by the names they define).
 * Throws DesignDefinitionError with one line for an unknown name or a module that is not a design.
 */
export async function resolveDesigns(args: readonly string[]): Promise<string[]> {
  const names: string[] = [];
  for (const a of args) {
    if (isDesignPath(a)) names.push(...(await loadDesignModule(a)));
    else names.push(designInfo(a).name);
  }
  return [...new Set(names)];
}
