/**
 * The paths of the fault core and of the VMA operations that `mmsplit check --coverage` counts, in the
 * kernel's words: what a design's runs can reach whatever the design (its own schedPoints and counters add
 * to them). Code marks each with covered(MM_PATHS.x) (util/coverage.ts).
 */
export const MM_PATHS = {
  anonZeroPage: 'do_anonymous_page: the zero page mapped (read)',
  anonNewPage: 'do_anonymous_page: a new page (write)',
  readFault: 'do_read_fault: a page-cache page mapped read-only',
  cowFault: 'do_cow_fault: a private copy of a file page',
  sharedFault: 'do_shared_fault: a shared file page mapped writable',
  wpShared: 'do_wp_page: a shared page made writable',
  wpReuse: 'do_wp_page: wp_page_reuse',
  wpCopy: 'do_wp_page: wp_page_copy',
  protnone: 'a PROT_NONE PTE made present',
  spurious: 'spurious fault: the PTE was already there',
  accessError: 'access_error: SIGSEGV',
  beyondEof: 'beyond EOF: SIGBUS',
  wouldSleep: 'would sleep (GFP_NOWAIT, page-cache miss): VM_FAULT_RETRY',
  secondWalk: 'the second page-table walk ended elsewhere: VM_FAULT_RETRY',
  revalidateFailed: 'revalidate() failed under the PTE lock: VM_FAULT_RETRY',
  raceLost: 'pte_same failed: another fault got there first',
  splitBelow: '__split_vma: new VMA below',
  splitAbove: '__split_vma: new VMA above',
  mergeNewBoth: 'vma_merge_new_range: prev, range and next become one',
  mergeNewPrev: 'vma_merge_new_range: prev grows',
  mergeNewNext: 'vma_merge_new_range: next grows',
  modifyMergeBoth: 'vma_modify: prev swallows the range and next',
  modifyMergePrev: 'vma_modify: prev takes the range',
  modifyMergeNext: 'vma_modify: next takes the range',
  modifySplit: 'vma_modify: split off',
  unmapDowngrade: 'munmap: mmap_lock downgraded for the zap',
  retire: 'vma_mark_detached: a VMA retired',
} as const;

/**
 * The paths a design's faults cannot take when they hold a lock that mprotect holds for write (the
 * mmap_lock, or the VMA's own lock, which mprotect takes with vma_start_write before it changes vm_flags
 * and keeps until mmap_write_unlock): for DesignDefinition.unreachable. Such a fault sees a VMA's flags and
 * its PTEs agree, so a PROT_NONE PTE lies in a PROT_NONE VMA, where access_error() ends the fault first.
 */
export const UNREACHABLE_UNDER_MPROTECT_EXCLUSION: Readonly<Record<string, string>> = {
  [MM_PATHS.protnone]:
    'its faults hold a lock mprotect holds for write from changing vm_flags to changing the PTEs: a PROT_NONE PTE is only ever seen in a PROT_NONE VMA, where access_error() comes first',
};

/**
 * What a fault that may sleep cannot reach: GFP_NOWAIT and a page-cache miss that gives up are for faults
 * under rcu_read_lock; one that may sleep reads the page. For DesignDefinition.unreachable.
 */
export const UNREACHABLE_WHEN_FAULTS_MAY_SLEEP: Readonly<Record<string, string>> = {
  [MM_PATHS.wouldSleep]: 'its faults may sleep (nothing they hold is rcu_read_lock): a page-cache miss reads the page',
};

/**
 * What a fault that holds the mmap_lock or its VMA's lock cannot reach (for DesignDefinition.unreachable):
 * besides the above, the fault core's checks for a speculative fault — the second page-table walk and
 * revalidate() — are for faults that hold nothing; a locked fault's tables cannot be freed under it and its
 * revalidate() is always true.
 */
export const UNREACHABLE_WHEN_LOCKED: Readonly<Record<string, string>> = {
  ...UNREACHABLE_UNDER_MPROTECT_EXCLUSION,
  ...UNREACHABLE_WHEN_FAULTS_MAY_SLEEP,
  [MM_PATHS.secondWalk]: 'its faults hold a lock munmap takes before free_pgtables(): the table they walked stays, so they do not walk again',
  [MM_PATHS.revalidateFailed]: 'its faults hold a lock every VMA change takes: revalidate() has nothing to check and says yes',
};
