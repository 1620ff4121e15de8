/* LD_PRELOAD shim for fault injection: after MME_ENOSPC_AFTER successful writes (write, pwrite,
 * pwrite64, writev) to files other than stdin/stdout/stderr, every further one fails with ENOSPC,
 * as on a disk that has just filled (or with MME_FAULT_ERRNO: EDQUOT, a quota reached; EIO, a
 * failing disk or a lost NFS server). With MME_ENOSPC_COUNT=FILE it only counts them and writes the
 * count to FILE at exit (to pick the moments); with MME_ENOSPC_MARK=FILE it creates FILE when it
 * fails the first write (so a run that never met the fault can be told apart). Used by
 * tests/pipeline/enospc_inject.sh. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static atomic_long writes;
static long limit = -1;
static const char* count_file;
static const char* mark_file;
static atomic_int marked;
static int fault = ENOSPC;

__attribute__((constructor)) static void init(void) {
  const char* after = getenv("MME_ENOSPC_AFTER");
  if (after) limit = atol(after);
  count_file = getenv("MME_ENOSPC_COUNT");
  mark_file = getenv("MME_ENOSPC_MARK");
  const char* name = getenv("MME_FAULT_ERRNO");
  if (name && strcmp(name, "EDQUOT") == 0) fault = EDQUOT;
  if (name && strcmp(name, "EIO") == 0) fault = EIO;
}

__attribute__((destructor)) static void report(void) {
  if (!count_file) return;
  FILE* f = fopen(count_file, "w");
  if (f) {
    fprintf(f, "%ld\n", atomic_load(&writes));
    fclose(f);
  }
}

/* 1 when this write must fail. */
static int full(int fd) {
  if (fd <= 2) return 0;
  const long n = atomic_fetch_add(&writes, 1);
  if (limit >= 0 && n >= limit) {
    if (mark_file && atomic_exchange(&marked, 1) == 0) close(open(mark_file, O_CREAT | O_WRONLY, 0644));
    errno = fault;
    return 1;
  }
  return 0;
}

ssize_t write(int fd, const void* buf, size_t count) {
  static ssize_t (*real)(int, const void*, size_t);
  if (!real) real = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  return full(fd) ? -1 : real(fd, buf, count);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void*, size_t, off_t);
  if (!real) real = (ssize_t(*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
  return full(fd) ? -1 : real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void*, size_t, off_t);
  if (!real) real = (ssize_t(*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
  return full(fd) ? -1 : real(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec* iov, int n) {
  static ssize_t (*real)(int, const struct iovec*, int);
  if (!real) real = (ssize_t(*)(int, const struct iovec*, int))dlsym(RTLD_NEXT, "writev");
  return full(fd) ? -1 : real(fd, iov, n);
}
