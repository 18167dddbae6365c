// TypeScript users on the default target (ES5) get the ES2022 library these types are written against.
/// <reference lib="es2022" preserve="true" />
export * from './sleep.js';
export * from './relax.js';
export * from './callbacks.js';
export * from './spinlock.js';
export * from './mutex.js';
export * from './rwsem.js';
export * from './seqcount.js';
export * from './refcount.js';
export * from './rcu.js';
export * from './srcu.js';
