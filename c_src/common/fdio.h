/* Robust I/O on file descriptors: EINTR retries, partial writes, flags. */
#ifndef SANDBOX_FDIO_H
#define SANDBOX_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* read(2) retried on EINTR. Returns bytes read, 0 on EOF, -1 with errno. */
ssize_t fdio_read(int fd, void *buf, size_t len);

/* Writes all of buf to a blocking fd, resuming after EINTR and partial
 * writes. Returns 0, or -1 with errno. */
int fdio_write_all(int fd, const void *buf, size_t len);

/* One write(2) retried on EINTR: for non-blocking fds, where a short count
 * or EAGAIN is expected. Returns bytes written, or -1 with errno. */
ssize_t fdio_write_some(int fd, const void *buf, size_t len);

/* Reads the start of the file at path, up to cap bytes, into buf (for
 * small files such as /proc/<pid>/stat). Returns the length read, or -1
 * with errno. */
ssize_t fdio_read_file(const char *path, void *buf, size_t cap);

/* Sets O_NONBLOCK. Returns 0, or -1 with errno. */
int fdio_set_nonblock(int fd);

/* Sets FD_CLOEXEC. Returns 0, or -1 with errno. */
int fdio_set_cloexec(int fd);

/* close(2) that keeps errno, for cleanup paths; ignores fd < 0. */
void fdio_close(int fd);

#endif
