// TypeScript users on the default target (ES5) get the ES2022 library these types are written against.
/// <reference lib="es2022" preserve="true" />
export * from './shm/index.js';
export * from './sync/index.js';
export * from './util/prng.js';
