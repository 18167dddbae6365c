export * from './shm/index.js';
export * from './sync/index.js';
export * from './util/prng.js';
