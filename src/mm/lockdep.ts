/**
 * Lockdep-lite: in debug mode (the checker, the tests) the mm asserts what the kernel asserts about locks,
 * so that a design calling or answering a hook without the lock it needs is told at once, by the hook's and
 * the kernel function's names, instead of corrupting the address space somewhere later.
 *
 *   mmap_assert_write_locked   every change to a VMA or the tree holds the mmap_lock for write
 *   vma_assert_write_locked    after vmaStartWrite(vma), and before a VMA is detached, the design says no
 *                              fault can use it (MmHooks.vmaIsWriteLocked, for designs that lock VMAs)
 *   assert_fault_locked        a fault that is not speculative holds the mmap_lock or its VMA's lock
 *                              (MmHooks.vmaIsLocked)
 *   PTE lock held              a PTE the fault core installs is installed under its PTE lock
 *
 * Like lockdep it cannot say which thread holds a shared lock: "held" means held by someone.
 */

/** A lock the kernel would assert held was not. */
export class LockAssertionError extends Error {
  override readonly name = 'LockAssertionError';
}
