export { RbTree, RbTreeError, EEXIST, type RbEntry, type RbTreeHandle, type RbTreeOptions } from './tree.js';
export { RB_NODE, RB_MAX, RB_RED, RB_BLACK } from './layout.js';
