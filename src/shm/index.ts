export * from './arena.js';
export * from './layout.js';
