/*
 * memtrace: run a seeded random sequence of memory-management system calls and snapshot
 * /proc/self/maps just before the first and just after the last, so that a replay of the strace
 * trace can be checked against the kernel.
 *
 *   memtrace SEED NCALLS OUT_BEFORE OUT_AFTER [--file PATH]
 *
 * Run it under `setarch -R strace -y -e trace=memory` (see run.sh). The traced section is bracketed by
 * two marker calls that the kernel rejects without side effects:
 *   madvise(NULL, 0, 0x4d454d42)   "MEMB": BEFORE has been written, the sequence starts after this line
 *   madvise(NULL, 0, 0x4d454d45)   "MEME": the sequence is over, AFTER is written next
 * run.sh keeps only the lines strictly between them.
 *
 * Rules that keep the process itself intact and the snapshots exact:
 *  - after start-up nothing calls malloc or stdio: buffers are static, output goes through raw
 *    read/write/lseek, and the program leaves through exit_group;
 *  - the stack is pre-grown before BEFORE so that no fault extends [stack] during the sequence;
 *  - MAP_FIXED, munmap, mprotect, mremap and madvise only ever target the arena (a free region found at
 *    start-up) or regions that earlier calls of the sequence returned; "outside" cases use addresses
 *    above the user address space, which the kernel rejects;
 *  - brk never goes below the break found at start-up (except deliberately below start_brk, which fails);
 *  - every call goes through syscall(2), not the glibc wrappers, which may check arguments themselves.
 * Numbers stay below 2^53 so that the trace parses exactly into JS numbers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE 4096UL
#define ARENA_PAGES 2048UL   /* 8 MiB: small enough that random ranges collide often */
#define FILE_PAGES 64UL
#define MAX_KNOWN 256
#define MARK_BEGIN 0x4d454d42L
#define MARK_END 0x4d454d45L

static char maps_buf[8 << 20];
static uint64_t rng_state;

static uint64_t next64(void) {
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static unsigned long rnd(unsigned long n) { return n ? (unsigned long)(next64() % n) : 0; }
static int chance(unsigned pct) { return rnd(100) < pct; }

static void die(const char *msg) {
	size_t n = strlen(msg);
	if (write(2, msg, n) < 0 || write(2, "\n", 1) < 0) {}
	syscall(SYS_exit_group, 2);
}

/* Copy /proc/self/maps to out_fd with read/write only: no allocation, no memory calls. */
static void snapshot(int maps_fd, int out_fd) {
	size_t used = 0;
	if (lseek(maps_fd, 0, SEEK_SET) != 0) die("memtrace: lseek /proc/self/maps failed");
	for (;;) {
		ssize_t n = read(maps_fd, maps_buf + used, sizeof maps_buf - used);
		if (n < 0) die("memtrace: read /proc/self/maps failed");
		if (n == 0) break;
		used += (size_t)n;
		if (used == sizeof maps_buf) die("memtrace: maps larger than the buffer");
	}
	size_t off = 0;
	while (off < used) {
		ssize_t n = write(out_fd, maps_buf + off, used - off);
		if (n <= 0) die("memtrace: write snapshot failed");
		off += (size_t)n;
	}
}

/* Fault in stack pages below the current frame so that [stack] does not grow mid-sequence. */
static __attribute__((noinline)) void pregrow_stack(void) {
	volatile char buf[512 * 1024];
	for (size_t i = 0; i < sizeof buf; i += PAGE) buf[i] = 1;
	buf[sizeof buf - 1] = 1;
}

struct region { unsigned long start, len; };
static struct region known[MAX_KNOWN];
static unsigned nknown, known_next;
static unsigned long arena, arena_end;
static int file_fd = -1, file_ro_fd = -1;

static void remember(unsigned long start, unsigned long len) {
	if (!len) return;
	known[known_next].start = start;
	known[known_next].len = (len + PAGE - 1) & ~(PAGE - 1);
	known_next = (known_next + 1) % MAX_KNOWN;
	if (nknown < MAX_KNOWN) nknown++;
}

static unsigned long rand_len_pages(void) {
	unsigned r = rnd(100);
	if (r < 60) return 1 + rnd(8);
	if (r < 90) return 1 + rnd(32);
	return 1 + rnd(256);
}

/* A page-aligned range [*a, *a + *len) inside the arena or inside a region an earlier call returned. */
static void pick_range(unsigned long *a, unsigned long *len) {
	unsigned long lo = arena, hi = arena_end;
	if (nknown && chance(25)) {
		struct region *r = &known[rnd(nknown)];
		lo = r->start;
		hi = r->start + r->len;
		if (chance(50) && hi - lo > PAGE) { /* a range inside it */
			unsigned long pages = (hi - lo) / PAGE;
			unsigned long first = rnd(pages);
			*a = lo + first * PAGE;
			*len = (1 + rnd(pages - first)) * PAGE;
			return;
		}
	}
	unsigned long pages = (hi - lo) / PAGE;
	*a = lo + rnd(pages) * PAGE;
	*len = rand_len_pages() * PAGE;
	if (*a + *len > hi) *len = hi - *a;
}

/*
 * Possibly spoil an address or length the way buggy callers do. Only makes calls fail, never widens them:
 * the absurd length is offered only to calls that reject it outright (munmap: EINVAL, mmap: ENOMEM);
 * mprotect and madvise would first apply themselves to every mapping up to the first hole, libc's included.
 */
static void maybe_spoil(unsigned long *a, unsigned long *len, int allow_huge) {
	unsigned r = rnd(100);
	if (r < 3) *a += 1 + rnd(PAGE - 1);                       /* unaligned address */
	else if (r < 5) *len = 0;                                  /* zero length */
	else if (r < 6) *a = 0x800000000000UL + rnd(16) * PAGE;  /* above TASK_SIZE */
	else if (r < 7 && allow_huge) *len = 0x7ffffffff000UL;    /* absurd length: ends beyond TASK_SIZE */
}

static long do_mmap(void) {
	unsigned long a, len;
	pick_range(&a, &len);
	unsigned long prot = rnd(8);                 /* READ|WRITE|EXEC combinations */
	if (chance(3)) prot |= PROT_SEM;
	if (chance(2)) prot |= 0x10;                 /* unknown prot bit: mmap ignores it */
	int file = file_fd >= 0 && chance(35);
	unsigned long flags = chance(70) ? MAP_PRIVATE : MAP_SHARED;
	int fd = -1;
	unsigned long off = 0;
	if (file) {
		fd = (chance(90) || !(flags & MAP_SHARED)) ? file_fd : file_ro_fd; /* shared+write on O_RDONLY: EACCES */
		off = rnd(FILE_PAGES + 16) * PAGE;       /* some beyond EOF */
		if (chance(3)) off += 1 + rnd(PAGE - 1); /* unaligned offset: EINVAL */
	} else {
		flags |= MAP_ANONYMOUS;
	}
	unsigned r = rnd(100);
	unsigned long addr = 0;
	if (r < 40) { addr = a; flags |= MAP_FIXED; }
	else if (r < 50) { addr = a; flags |= MAP_FIXED_NOREPLACE; }
	else if (r < 75) {                           /* hint; the kernel rounds an unaligned one up */
		addr = a;
		if (chance(8)) addr += 1 + rnd(PAGE - 1);
	}
	/* else NULL: the kernel picks, top-down */
	if (chance(10)) flags |= MAP_POPULATE;
	if (chance(15)) flags |= MAP_NORESERVE;
	if (chance(5)) flags |= MAP_GROWSDOWN;
	if (chance(5)) flags |= MAP_STACK;
	r = rnd(100);
	if (r < 2) flags &= ~(unsigned long)(MAP_SHARED | MAP_PRIVATE);             /* no type: EINVAL */
	else if (r < 3) flags = (flags & ~3UL) | MAP_SHARED_VALIDATE | 0x200000; /* unknown flag: EOPNOTSUPP */
	else if (r < 4) { if (!file) flags &= ~(unsigned long)MAP_ANONYMOUS; }   /* fd -1 without ANON: EBADF */
	if (file && len > 96 * PAGE) len = 96 * PAGE;
	if ((flags & MAP_POPULATE) && len > 64 * PAGE) len = 64 * PAGE;
	/* spoil last: a clamp after it could turn an absurd length into a plausible one past the arena */
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) maybe_spoil(&addr, &len, 1);
	else if (chance(3)) len = 0;
	long ret = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (ret != -1) remember((unsigned long)ret, len);
	return ret;
}

static long do_munmap(void) {
	unsigned long a, len;
	pick_range(&a, &len);
	maybe_spoil(&a, &len, 1);
	return syscall(SYS_munmap, a, len);
}

static long do_mprotect(void) {
	unsigned long a, len;
	pick_range(&a, &len);
	maybe_spoil(&a, &len, 0);
	unsigned long prot = rnd(8);
	unsigned r = rnd(100);
	if (r < 3) prot |= PROT_SEM;
	else if (r < 6) prot |= PROT_GROWSDOWN;
	else if (r < 7) prot |= PROT_GROWSUP;            /* EINVAL on x86 */
	else if (r < 9) prot |= 0x10 << rnd(4);          /* unknown bit: EINVAL */
	return syscall(SYS_mprotect, a, len, prot);
}

static long do_mremap(void) {
	unsigned long a, len;
	pick_range(&a, &len);
	unsigned long newlen, flags = 0, newaddr = 0;
	unsigned r = rnd(100);
	if (r < 25) newlen = len > PAGE ? (1 + rnd(len / PAGE - 1)) * PAGE : len;   /* shrink */
	else if (r < 45) newlen = len + (1 + rnd(16)) * PAGE;                        /* grow in place */
	else if (r < 70) { newlen = (1 + rnd(32)) * PAGE; flags = MREMAP_MAYMOVE; }  /* may move */
	else if (r < 88) {                                                          /* fixed target in the arena */
		unsigned long b, blen;
		pick_range(&b, &blen);
		newaddr = b;
		newlen = chance(50) ? len : (1 + rnd(32)) * PAGE;
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		if (newaddr < arena || newaddr + newlen > arena_end) newaddr = arena + rnd(ARENA_PAGES / 2) * PAGE;
	} else {                                                                    /* keep the old range mapped */
		newlen = len;
		flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
		if (chance(40)) {
			newaddr = arena + rnd(ARENA_PAGES / 2) * PAGE;
			flags |= MREMAP_FIXED;
		}
	}
	r = rnd(100);
	if (r < 3) a += 1 + rnd(PAGE - 1);                    /* unaligned: EINVAL */
	else if (r < 5) flags |= 8;                           /* unknown flag: EINVAL */
	else if (r < 6) flags = MREMAP_FIXED;                 /* FIXED without MAYMOVE: EINVAL */
	else if (r < 7) newlen = 0;                           /* EINVAL */
	else if (r < 8 && (flags & MREMAP_DONTUNMAP)) newlen += PAGE; /* DONTUNMAP resizing: EINVAL */
	long ret = syscall(SYS_mremap, a, len, newlen, flags, newaddr);
	if (ret != -1) remember((unsigned long)ret, newlen);
	return ret;
}

static long do_madvise(void) {
	static const int advice[] = {
		MADV_DONTNEED, MADV_FREE, MADV_DONTFORK, MADV_DOFORK, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
		MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
	};
	unsigned long a, len;
	pick_range(&a, &len);
	long adv = advice[rnd(sizeof advice / sizeof advice[0])];
	if (chance(2)) adv = 5 + rnd(2);        /* 5, 6: unused advice values: EINVAL */
	if ((adv == MADV_POPULATE_READ || adv == MADV_POPULATE_WRITE) && len > 64 * PAGE) len = 64 * PAGE;
	maybe_spoil(&a, &len, 0);
	return syscall(SYS_madvise, a, len, adv);
}

static unsigned long brk0, brk_cur;
static long do_brk(void) {
	unsigned r = rnd(100);
	unsigned long want;
	if (r < 15) want = 0;                                            /* query */
	else if (r < 20) want = brk0 - 64 * PAGE;                        /* below start_brk: refused */
	else {
		long delta = (long)rnd(48) - 16;                             /* pages; mostly growing */
		want = brk_cur + delta * (long)PAGE;
		if (chance(20)) want += 1 + rnd(PAGE - 1);                   /* unaligned: allowed, rounded up inside */
		if (want < brk0) want = brk0;
	}
	long ret = syscall(SYS_brk, want);
	brk_cur = (unsigned long)ret;
	return ret;
}

static unsigned long parse_ul(const char *s, const char *what) {
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || *s == 0 || *end) die(what);
	return v;
}

int main(int argc, char **argv) {
	if (argc != 5 && !(argc == 7 && strcmp(argv[5], "--file") == 0))
		die("usage: memtrace SEED NCALLS OUT_BEFORE OUT_AFTER [--file PATH]");
	unsigned long seed = parse_ul(argv[1], "memtrace: SEED must be a number");
	unsigned long ncalls = parse_ul(argv[2], "memtrace: NCALLS must be a number");
	rng_state = seed * 0x2545f4914f6cdd1dULL + 1;

	int before_fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int after_fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int maps_fd = open("/proc/self/maps", O_RDONLY);
	if (before_fd < 0 || after_fd < 0 || maps_fd < 0) die("memtrace: cannot open the snapshot files");
	if (argc == 7) {
		file_fd = open(argv[6], O_RDWR);
		file_ro_fd = open(argv[6], O_RDONLY);
		if (file_fd < 0 || file_ro_fd < 0) die("memtrace: cannot open --file");
		if (ftruncate(file_fd, FILE_PAGES * PAGE) != 0) die("memtrace: cannot size --file");
		/* One page of the file mapped up front, so BEFORE already names its device and inode. */
		if (syscall(SYS_mmap, 0, PAGE, PROT_READ, MAP_SHARED, file_fd, 0) == -1) die("memtrace: mmap --file");
	}
	pregrow_stack();

	/* The arena: the highest free region that fits, exactly where un-hinted mmaps will go first. */
	long r = syscall(SYS_mmap, 0, ARENA_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == -1) die("memtrace: cannot find an arena");
	arena = (unsigned long)r;
	arena_end = arena + ARENA_PAGES * PAGE;
	if (syscall(SYS_munmap, arena, ARENA_PAGES * PAGE) != 0) die("memtrace: cannot free the arena");
	brk0 = brk_cur = (unsigned long)syscall(SYS_brk, 0);

	snapshot(maps_fd, before_fd);
	syscall(SYS_madvise, 0, 0, MARK_BEGIN);
	for (unsigned long i = 0; i < ncalls; i++) {
		unsigned k = rnd(100);
		if (k < 30) do_mmap();
		else if (k < 45) do_munmap();
		else if (k < 63) do_mprotect();
		else if (k < 78) do_mremap();
		else if (k < 93) do_madvise();
		else do_brk();
	}
	syscall(SYS_madvise, 0, 0, MARK_END);
	snapshot(maps_fd, after_fd);
	syscall(SYS_exit_group, 0);
	return 0;
}
