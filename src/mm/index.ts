export * from './frames.js';
export * from './pagetable.js';
export * from './pagecache.js';
