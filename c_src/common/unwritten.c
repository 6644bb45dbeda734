#include "unwritten.h"

#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE_BYTES 4096

int unwritten_create(void) {
    int fd = memfd_create("sandbox_unwritten", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, PAGE_BYTES) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        fdio_close(fd); /* keeps errno */
        return -1;
    }
    return fd;
}

int unwritten_read(int fd, uint64_t *count) {
    ssize_t n;
    do
        n = pread(fd, count, sizeof *count, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t)n != sizeof *count) {
        errno = EIO;
        return -1;
    }
    return 0;
}

_Atomic uint64_t *unwritten_map(int fd) {
    void *page = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return page == MAP_FAILED ? NULL : page;
}

void unwritten_unmap(_Atomic uint64_t *counter) {
    if (counter)
        (void)munmap((void *)counter, PAGE_BYTES);
}
