// maps-read on the host kernel: what Linux itself keeps of a /proc/PID/maps reader beside busy processes.
// The lab's maps-read point (src/workloads/roles.ts, 'maps' and 'remap') on real threads of this kernel: one
// thread reads /proc/self/maps whole, again and again, with 256 file VMAs of 4 pages that nobody changes in
// it; another unmaps a random page of a 128 MiB anonymous mapping and maps it again MAP_FIXED, and touches
// it. Linux ≥ 6.17 reads maps under per-VMA locks (lock_next_vma), so this is the reference for the lab's
// per-vma-lock-7.0 point; `--rwsem` instead makes every page of text (4 KiB, as seq_file fills it) hold a
// writer-preferring pthread rwlock that the updater takes for write around each munmap and mmap, the
// hand-off pattern of the mmap_lock designs, between two threads of the host scheduler.
// Prints, every 10 ms until killed, the time (s) and the reads done so far: `maps-read [--rwsem]`
// (kept.py turns busy processes on and off beside it and computes what each level kept).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define VMAS 256
#define REGION (128ul << 20)

static pthread_rwlock_t lock;
static int use_rwsem;
static atomic_long reads;
static char *region;

static void *reader(void *arg) {
  (void)arg;
  static char buf[PAGE];
  for (;;) {
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0) { perror("open /proc/self/maps"); exit(1); }
    for (;;) {
      if (use_rwsem) pthread_rwlock_rdlock(&lock);
      ssize_t n = read(fd, buf, sizeof buf);
      if (use_rwsem) pthread_rwlock_unlock(&lock);
      if (n <= 0) break;
    }
    close(fd);
    atomic_fetch_add(&reads, 1);
  }
}

static void *updater(void *arg) {
  unsigned seed = 1;
  (void)arg;
  for (;;) {
    char *a = region + (size_t)(rand_r(&seed) % (REGION / PAGE)) * PAGE;
    if (use_rwsem) pthread_rwlock_wrlock(&lock);
    munmap(a, PAGE);
    if (use_rwsem) pthread_rwlock_unlock(&lock);
    if (use_rwsem) pthread_rwlock_wrlock(&lock);
    if (mmap(a, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != a) { perror("mmap"); exit(1); }
    if (use_rwsem) pthread_rwlock_unlock(&lock);
    a[0] = 1;
  }
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc > 2 || (argc == 2 && strcmp(argv[1], "--rwsem") != 0)) { fprintf(stderr, "usage: maps-read [--rwsem]\n"); return 2; }
  use_rwsem = argc == 2;
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&lock, &attr);
  // The VMAs nobody changes: adjacent 4-page windows of one file, 8 pages apart in it, so no two merge.
  char path[] = "/tmp/maps-read-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || ftruncate(fd, (off_t)VMAS * 8 * PAGE) != 0) { perror("file"); return 1; }
  unlink(path);
  char *base = mmap(NULL, (size_t)VMAS * 4 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (int k = 0; k < VMAS; k++) {
    if (mmap(base + (size_t)k * 4 * PAGE, 4 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, (off_t)k * 8 * PAGE) == MAP_FAILED) { perror("mmap file"); return 1; }
  }
  region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pthread_t r, u;
  pthread_create(&r, NULL, reader, NULL);
  pthread_create(&u, NULL, updater, NULL);
  for (;;) {
    printf("%.6f %ld\n", now(), atomic_load(&reads));
    fflush(stdout);
    usleep(10000);
  }
}
