import { readFileSync } from 'node:fs';

/**
 * A live /proc/PID/maps, read as one consistent snapshot.
 *
 * The kernel's seq_file hands out at most a page of maps text per read() and drops its lock (the mmap_lock,
 * or since 6.17 the VMA's own lock) between reads; a process whose threads map, unmap or grow a mapping
 * meanwhile (a malloc arena growing by mprotect, a thread stack) yields text in which a VMA appears before
 * and after the change — twice, overlapping itself — or not at all (Documentation/filesystems/proc.rst:
 * "consistent output can be achieved only in the single read call"). parseMaps rightly refuses such text.
 * So read the whole file again until two reads in a row agree, as tools that snapshot a running process do.
 */
export function readLiveMaps(path = '/proc/self/maps', tries = 50): string {
  let prev = readFileSync(path, 'utf8');
  for (let i = 1; i < tries; i++) {
    const text = readFileSync(path, 'utf8');
    if (text === prev) return text;
    prev = text;
  }
  throw new Error(`${path}: the address space changed during each of ${tries} reads; no consistent snapshot`);
}
