/**
 * The kernel's user ABI for the calls our mm implements, on x86-64, as include/uapi writes it: the only place
 * these numbers are written. The mm, the workloads, the checker and the tests import the constants; the strace
 * parser decodes names with the tables (PROT, MAP, MREMAP, MADV, UAPI_ERRNO), which are built from the same
 * constants.
 */

// asm-generic/mman-common.h: prot of mmap, mprotect and pkey_mprotect.
export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
/** Page may be used for atomic ops: accepted by arch_validate_prot() and ignored on x86. */
export const PROT_SEM = 0x8;
/** mprotect flag: extend the change to the start of a growsdown VMA. */
export const PROT_GROWSDOWN = 0x01000000;
/** mprotect flag: extend the change to the end of a growsup VMA (x86 has none: always -EINVAL). */
export const PROT_GROWSUP = 0x02000000;

// linux/mman.h: the mapping types, the low nibble of mmap's flags.
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
/** MAP_SHARED that refuses flags outside LEGACY_MAP_MASK (-EOPNOTSUPP) instead of ignoring them. */
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_DROPPABLE = 0x08;
// asm-generic/mman-common.h
/** The mask for the type of mapping (not a flag). */
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
// arch/x86/include/uapi/asm/mman.h
/** Only give out 32-bit addresses (x86-64). */
export const MAP_32BIT = 0x40;
/** Only map above 4 GiB (x86-64). */
export const MAP_ABOVE4G = 0x80;
// asm-generic/mman.h
export const MAP_GROWSDOWN = 0x0100;
export const MAP_DENYWRITE = 0x0800;
export const MAP_EXECUTABLE = 0x1000;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x10000;
export const MAP_STACK = 0x20000;
export const MAP_HUGETLB = 0x40000;
export const MAP_SYNC = 0x80000;
// asm-generic/mman-common.h
/** MAP_FIXED that fails with -EEXIST instead of unmapping what is there. */
export const MAP_FIXED_NOREPLACE = 0x100000;
export const MAP_UNINITIALIZED = 0x4000000;
/** Compatibility: no bit at all. */
export const MAP_FILE = 0;
/** linux/mman.h (HUGETLB_FLAG_ENCODE_SHIFT): log2 of a MAP_HUGETLB page size sits in bits [26:31] (not a flag). */
export const MAP_HUGE_SHIFT = 26;

// linux/mman.h
export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

// asm-generic/mman-common.h
export const MADV_NORMAL = 0;
export const MADV_RANDOM = 1;
export const MADV_SEQUENTIAL = 2;
export const MADV_WILLNEED = 3;
export const MADV_DONTNEED = 4;
export const MADV_FREE = 8;
export const MADV_REMOVE = 9;
export const MADV_DONTFORK = 10;
export const MADV_DOFORK = 11;
export const MADV_MERGEABLE = 12;
export const MADV_UNMERGEABLE = 13;
export const MADV_HUGEPAGE = 14;
export const MADV_NOHUGEPAGE = 15;
export const MADV_DONTDUMP = 16;
export const MADV_DODUMP = 17;
export const MADV_WIPEONFORK = 18;
export const MADV_KEEPONFORK = 19;
export const MADV_COLD = 20;
export const MADV_PAGEOUT = 21;
export const MADV_POPULATE_READ = 22;
export const MADV_POPULATE_WRITE = 23;
export const MADV_DONTNEED_LOCKED = 24;
export const MADV_COLLAPSE = 25;
export const MADV_HWPOISON = 100;
export const MADV_SOFT_OFFLINE = 101;
export const MADV_GUARD_INSTALL = 102;
export const MADV_GUARD_REMOVE = 103;

// asm-generic/errno-base.h
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const ENOTBLK = 15;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOTTY = 25;
export const ETXTBSY = 26;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EROFS = 30;
export const EMLINK = 31;
export const EPIPE = 32;
export const EDOM = 33;
export const ERANGE = 34;
// asm-generic/errno.h
export const EDEADLK = 35;
export const ENAMETOOLONG = 36;
export const ENOLCK = 37;
export const ENOSYS = 38;
export const ENOTEMPTY = 39;
export const ELOOP = 40;
export const EWOULDBLOCK = EAGAIN;
export const ENOMSG = 42;
export const EIDRM = 43;
export const ECHRNG = 44;
export const EL2NSYNC = 45;
export const EL3HLT = 46;
export const EL3RST = 47;
export const ELNRNG = 48;
export const EUNATCH = 49;
export const ENOCSI = 50;
export const EL2HLT = 51;
export const EBADE = 52;
export const EBADR = 53;
export const EXFULL = 54;
export const ENOANO = 55;
export const EBADRQC = 56;
export const EBADSLT = 57;
export const EDEADLOCK = EDEADLK;
export const EBFONT = 59;
export const ENOSTR = 60;
export const ENODATA = 61;
export const ETIME = 62;
export const ENOSR = 63;
export const ENONET = 64;
export const ENOPKG = 65;
export const EREMOTE = 66;
export const ENOLINK = 67;
export const EADV = 68;
export const ESRMNT = 69;
export const ECOMM = 70;
export const EPROTO = 71;
export const EMULTIHOP = 72;
export const EDOTDOT = 73;
export const EBADMSG = 74;
export const EOVERFLOW = 75;
export const ENOTUNIQ = 76;
export const EBADFD = 77;
export const EREMCHG = 78;
export const ELIBACC = 79;
export const ELIBBAD = 80;
export const ELIBSCN = 81;
export const ELIBMAX = 82;
export const ELIBEXEC = 83;
export const EILSEQ = 84;
export const ERESTART = 85;
export const ESTRPIPE = 86;
export const EUSERS = 87;
export const ENOTSOCK = 88;
export const EDESTADDRREQ = 89;
export const EMSGSIZE = 90;
export const EPROTOTYPE = 91;
export const ENOPROTOOPT = 92;
export const EPROTONOSUPPORT = 93;
export const ESOCKTNOSUPPORT = 94;
export const EOPNOTSUPP = 95;
export const EPFNOSUPPORT = 96;
export const EAFNOSUPPORT = 97;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ENETDOWN = 100;
export const ENETUNREACH = 101;
export const ENETRESET = 102;
export const ECONNABORTED = 103;
export const ECONNRESET = 104;
export const ENOBUFS = 105;
export const EISCONN = 106;
export const ENOTCONN = 107;
export const ESHUTDOWN = 108;
export const ETOOMANYREFS = 109;
export const ETIMEDOUT = 110;
export const ECONNREFUSED = 111;
export const EHOSTDOWN = 112;
export const EHOSTUNREACH = 113;
export const EALREADY = 114;
export const EINPROGRESS = 115;
export const ESTALE = 116;
export const EUCLEAN = 117;
export const ENOTNAM = 118;
export const ENAVAIL = 119;
export const EISNAM = 120;
export const EREMOTEIO = 121;
export const EDQUOT = 122;
export const ENOMEDIUM = 123;
export const EMEDIUMTYPE = 124;
export const ECANCELED = 125;
export const ENOKEY = 126;
export const EKEYEXPIRED = 127;
export const EKEYREVOKED = 128;
export const EKEYREJECTED = 129;
export const EOWNERDEAD = 130;
export const ENOTRECOVERABLE = 131;
export const ERFKILL = 132;
export const EHWPOISON = 133;

// ---------------------------------------------------------------------------------------------------------
// Name → value, for decoding what strace prints

export const PROT = {
  PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC, PROT_SEM, PROT_GROWSDOWN, PROT_GROWSUP,
} as const;

export const MAP = {
  MAP_FILE, MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_DROPPABLE, MAP_TYPE, MAP_FIXED, MAP_ANONYMOUS,
  MAP_32BIT, MAP_ABOVE4G, MAP_GROWSDOWN, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED, MAP_NORESERVE, MAP_POPULATE,
  MAP_NONBLOCK, MAP_STACK, MAP_HUGETLB, MAP_SYNC, MAP_FIXED_NOREPLACE, MAP_UNINITIALIZED, MAP_HUGE_SHIFT,
} as const;

export const MREMAP = { MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP } as const;

export const MADV = {
  MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTFORK,
  MADV_DOFORK, MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP,
  MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
  MADV_DONTNEED_LOCKED, MADV_COLLAPSE, MADV_HWPOISON, MADV_SOFT_OFFLINE, MADV_GUARD_INSTALL, MADV_GUARD_REMOVE,
} as const;

/** The errno names of errno-base.h and errno.h, aliases (EWOULDBLOCK, EDEADLOCK) after the name they stand for. */
export const UAPI_ERRNO = {
  EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, ENOEXEC, EBADF, ECHILD, EAGAIN, ENOMEM, EACCES, EFAULT, ENOTBLK,
  EBUSY, EEXIST, EXDEV, ENODEV, ENOTDIR, EISDIR, EINVAL, ENFILE, EMFILE, ENOTTY, ETXTBSY, EFBIG, ENOSPC, ESPIPE,
  EROFS, EMLINK, EPIPE, EDOM, ERANGE, EDEADLK, ENAMETOOLONG, ENOLCK, ENOSYS, ENOTEMPTY, ELOOP, EWOULDBLOCK, ENOMSG,
  EIDRM, ECHRNG, EL2NSYNC, EL3HLT, EL3RST, ELNRNG, EUNATCH, ENOCSI, EL2HLT, EBADE, EBADR, EXFULL, ENOANO, EBADRQC,
  EBADSLT, EDEADLOCK, EBFONT, ENOSTR, ENODATA, ETIME, ENOSR, ENONET, ENOPKG, EREMOTE, ENOLINK, EADV, ESRMNT, ECOMM,
  EPROTO, EMULTIHOP, EDOTDOT, EBADMSG, EOVERFLOW, ENOTUNIQ, EBADFD, EREMCHG, ELIBACC, ELIBBAD, ELIBSCN, ELIBMAX,
  ELIBEXEC, EILSEQ, ERESTART, ESTRPIPE, EUSERS, ENOTSOCK, EDESTADDRREQ, EMSGSIZE, EPROTOTYPE, ENOPROTOOPT,
  EPROTONOSUPPORT, ESOCKTNOSUPPORT, EOPNOTSUPP, EPFNOSUPPORT, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ENETDOWN,
  ENETUNREACH, ENETRESET, ECONNABORTED, ECONNRESET, ENOBUFS, EISCONN, ENOTCONN, ESHUTDOWN, ETOOMANYREFS, ETIMEDOUT,
  ECONNREFUSED, EHOSTDOWN, EHOSTUNREACH, EALREADY, EINPROGRESS, ESTALE, EUCLEAN, ENOTNAM, ENAVAIL, EISNAM,
  EREMOTEIO, EDQUOT, ENOMEDIUM, EMEDIUMTYPE, ECANCELED, ENOKEY, EKEYEXPIRED, EKEYREVOKED, EKEYREJECTED,
  EOWNERDEAD, ENOTRECOVERABLE, ERFKILL, EHWPOISON,
} as const;
