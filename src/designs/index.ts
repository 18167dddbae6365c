import type { DesignContext, LockingDesign } from '../mm/design.js';
import { MmapLockDesign } from './mmap-lock.js';

/** The designs by name, as the lab and the checker select them. */
export const DESIGNS: Readonly<Record<string, (ctx: DesignContext) => LockingDesign>> = {
  'mmap-lock': (ctx) => new MmapLockDesign(ctx),
};

export function createDesign(name: string, ctx: DesignContext): LockingDesign {
  const make = DESIGNS[name];
  if (!make) throw new Error(`unknown design '${name}' (have: ${Object.keys(DESIGNS).join(', ')})`);
  return make(ctx);
}

export { MmapLockDesign };
