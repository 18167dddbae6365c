export * from './sleep.js';
export * from './callbacks.js';
export * from './rcu.js';
