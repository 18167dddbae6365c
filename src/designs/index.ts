// mmsplit/designs: the locking designs by name, and AddressSpace — a process under one of them.
// TypeScript users on the default target (ES5) get the ES2022 library these types are written against.
/// <reference lib="es2022" preserve="true" />
export {
  DESIGNS, BUILT_IN_DESIGN_NAMES, REFERENCE_DESIGN, designInfo, createDesign, designNames, mutantNames, isDesign, isDesignPath,
  registerDesign, loadDesignModule, resolveDesigns, checkDesignDefinition, DesignDefinitionError, type RegisteredDesign,
} from './registry.js';
export { AddressSpace, type AddressSpaceHandle, type AddressSpaceOptions } from './address-space.js';
export {
  faultUnderMmapLock, fastPathOrMmapLock, LOCK_MMAP, SpeculativeFault, SeqValidatedDesign, VmaSeqWriter,
  SEQCOUNT_WORDS, SPECULATIVE_COUNTERS, seqcountClosed, type SpeculativeStats,
} from './common.js';
export { MmapLockDesign, mmapLock, mmapLockRbtree } from './mmap-lock.js';
export { PerVmaLockDesign, perVmaLock } from './per-vma-lock.js';
export { RcuFaultDesign, rcuFault } from './rcu-fault.js';
export { SpfDesign, spf } from './spf.js';
export { SrcuDesign, srcu, srcuSync } from './srcu.js';
export { VmaRefcountDesign, vmaRefcount, REFCOUNT_WORDS, refcountQuiescent } from './vma-refcount.js';
// What a design is written against (docs/writing-a-design.md).
export { DesignStats, type DesignContext, type DesignDefinition, type LockingDesign, type MmHooks, type MutantDefinition } from '../mm/design.js';
