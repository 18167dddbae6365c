// TypeScript users on the default target (ES5) get the ES2022 library these types are written against.
/// <reference lib="es2022" preserve="true" />
export * from './uapi.js';
export * from './frames.js';
export * from './pagetable.js';
export * from './pagecache.js';
export * from './vm-flags.js';
export * from './fault.js';
export * from './pte-range.js';
export * from './uaccess.js';
export * from './vma.js';
export * from './mm.js';
export * from './mmap.js';
export * from './mprotect.js';
export * from './mremap.js';
export * from './madvise.js';
export * from './proc-maps.js';
export * from './unmapped.js';
export * from './memory.js';
export * from './design.js';
export * from './paths.js';
export * from './lockdep.js';
export * from './vma-index.js';
