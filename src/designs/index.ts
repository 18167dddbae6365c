// mmsplit/designs: the locking designs by name, and AddressSpace — a process under one of them.
// TypeScript users on the default target (ES5) get the ES2022 library these types are written against.
/// <reference lib="es2022" preserve="true" />
export { DESIGNS, designInfo, createDesign, type DesignInfo } from './registry.js';
export { AddressSpace, type AddressSpaceHandle, type AddressSpaceOptions } from './address-space.js';
export { MmapLockDesign } from './mmap-lock.js';
export { PerVmaLockDesign } from './per-vma-lock.js';
export { RcuFaultDesign } from './rcu-fault.js';
export { SpfDesign } from './spf.js';
export { SrcuDesign } from './srcu.js';
export { VmaRefcountDesign } from './vma-refcount.js';
