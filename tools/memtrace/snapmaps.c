/*
 * snapmaps.c — an LD_PRELOAD library that snapshots /proc/self/maps of the program it is loaded into: once
 * when it is loaded (after the dynamic loader has mapped every library, before the program's main) into
 * $MEMTRACE_BEFORE, and once at exit (its destructor) into $MEMTRACE_AFTER. record-real.sh runs any program
 * under strace with it; trim-real.mjs keeps the memory calls between the two snapshots.
 *
 * Only the process whose pid is $MEMTRACE_PID snapshots (record-real.sh sets it to the pid that execs the
 * program): the programs it starts inherit LD_PRELOAD but have address spaces of their own.
 *
 * Like memtrace, nothing here allocates or maps: raw system calls into a static buffer. The file is opened as
 * "/proc/self/./maps", a spelling nothing else uses, so the trace shows where each snapshot begins (the openat)
 * and ends (the close of its fd). The buffer lives in this library's bss, which is mapped before the first
 * snapshot; the faults that fill it are not calls.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static char buf[16 << 20];

static long parse_pid(const char *s) {
  long v = 0;
  if (!s || !*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

static int ours(void) {
  return parse_pid(getenv("MEMTRACE_PID")) == syscall(SYS_getpid);
}

/* Read the whole maps file in one open: the kernel produces it a page at a time from a consistent walk of
 * each VMA, and nothing of ours maps or unmaps between the reads. */
static void snapshot(const char *path) {
  if (!path) return;
  long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/./maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) _exit(121);
  size_t n = 0;
  for (;;) {
    if (n == sizeof buf) _exit(122); /* more than 16 MiB of maps: make the buffer bigger */
    long r = syscall(SYS_read, fd, buf + n, sizeof buf - n);
    if (r < 0) _exit(123);
    if (r == 0) break;
    n += (size_t)r;
  }
  syscall(SYS_close, fd);
  long out = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) _exit(124);
  for (size_t done = 0; done < n;) {
    long w = syscall(SYS_write, out, buf + done, n - done);
    if (w <= 0) _exit(125);
    done += (size_t)w;
  }
  syscall(SYS_close, out);
}

__attribute__((constructor)) static void snapshot_before(void) {
  if (ours()) snapshot(getenv("MEMTRACE_BEFORE"));
}

__attribute__((destructor)) static void snapshot_after(void) {
  if (ours()) snapshot(getenv("MEMTRACE_AFTER"));
}
