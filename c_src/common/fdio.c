#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

ssize_t fdio_read(int fd, void *buf, size_t len) {
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

ssize_t fdio_write_some(int fd, const void *buf, size_t len) {
    for (;;) {
        ssize_t n = write(fd, buf, len);
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

int fdio_write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = fdio_write_some(fd, p, len);
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fdio_set_nonblock(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    if (flags & O_NONBLOCK)
        return 0;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -1 : 0;
}

int fdio_set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0)
        return -1;
    if (flags & FD_CLOEXEC)
        return 0;
    return fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0 ? -1 : 0;
}

void fdio_close(int fd) {
    if (fd < 0)
        return;
    int saved = errno;
    /* Linux releases the fd even when close reports EINTR: never retry. */
    (void)close(fd);
    errno = saved;
}

ssize_t fdio_read_file(const char *path, void *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len < cap) {
        ssize_t n = fdio_read(fd, (char *)buf + len, cap - len);
        if (n < 0) {
            fdio_close(fd);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    fdio_close(fd);
    return (ssize_t)len;
}
