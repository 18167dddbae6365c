// TypeScript users on the default target (ES5) get the ES2022 library these types are written against.
/// <reference lib="es2022" preserve="true" />
export * from './maps.js';
export * from './live-maps.js';
export * from './strace.js';
export * from './replay.js';
export * from './timeline.js';
