export * from './maps.js';
export * from './strace.js';
export * from './replay.js';
