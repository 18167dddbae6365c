// TypeScript users on the default target (ES5) get the ES2022 library these types are written against.
/// <reference lib="es2022" preserve="true" />
export { RbTree, RbTreeError, EEXIST, type RbEntry, type RbTreeHandle, type RbTreeOptions } from './tree.js';
export { RB_NODE, RB_MAX, RB_RED, RB_BLACK } from './layout.js';
