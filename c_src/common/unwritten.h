/* The page where a peer counts the output it did not write: past
 * :max_output the host keeps nothing more, so the peer's output devices
 * count what the code prints there rather than each write(2) it, and the
 * host adds the count to what it read from the pipe. Shared memory, so
 * that the count is exact however the VM ends (a halt, a kill): a store
 * is in the page once it is made, with no call to lose.
 *
 * The host creates it (a memfd, sealed at one page so the peer can
 * neither shrink it under the host's reads nor grow it) and reads it with
 * pread(2); the peer maps it and adds. */
#ifndef SANDBOX_UNWRITTEN_H
#define SANDBOX_UNWRITTEN_H

#include <stdatomic.h>
#include <stdint.h>

/* A fresh, zeroed, sealed page: its fd (O_CLOEXEC), or -1 with errno set. */
int unwritten_create(void);

/* The count in the page at fd: 0, or -1 with errno set (EIO if the page
 * holds less than a count). */
int unwritten_read(int fd, uint64_t *count);

/* Maps the page at fd for adding: the counter, or NULL with errno set. */
_Atomic uint64_t *unwritten_map(int fd);

/* Unmaps what unwritten_map gave. */
void unwritten_unmap(_Atomic uint64_t *counter);

#endif
