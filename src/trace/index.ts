export * from './maps.js';
export * from './strace.js';
