export * from './frames.js';
export * from './pagetable.js';
export * from './pagecache.js';
export * from './vm-flags.js';
export * from './fault.js';
export * from './pte-range.js';
export * from './uaccess.js';
