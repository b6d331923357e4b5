/* Written for ember in place of pjdfstest's autoconf output: what
 * configure.ac finds on Debian 12 (glibc 2.36, Linux).  bindat, connectat,
 * chflags and the NFSv4 ACL calls are BSD-only and left undefined; lchmod
 * is left out as glibc's fails with EOPNOTSUPP on symlinks, which the
 * tests then skip the same way on every file system. */
#define _GNU_SOURCE 1
#define HAVE_SYS_SYSMACROS_H 1
#define HAVE_FACCESSAT 1
#define HAVE_FCHMODAT 1
#define HAVE_FCHOWNAT 1
#define HAVE_FSTATAT 1
#define HAVE_LINKAT 1
#define HAVE_MKDIRAT 1
#define HAVE_MKFIFOAT 1
#define HAVE_MKNODAT 1
#define HAVE_OPENAT 1
#define HAVE_POSIX_FALLOCATE 1
#define HAVE_READLINKAT 1
#define HAVE_RENAMEAT 1
#define HAVE_SYMLINKAT 1
#define HAVE_UNLINKAT 1
#define HAVE_UTIMENSAT 1
