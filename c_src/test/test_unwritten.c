#include "common/unwritten.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t read_count(int fd) {
    uint64_t count = UINT64_MAX;
    cr_assert_eq(unwritten_read(fd, &count), 0, "read: %s", strerror(errno));
    return count;
}

Test(unwritten, a_fresh_page_counts_nothing_and_closes_on_exec) {
    int fd = unwritten_create();
    cr_assert_geq(fd, 0, "memfd: %s", strerror(errno));
    cr_assert_eq(read_count(fd), 0);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
}

Test(unwritten, what_is_added_through_a_mapping_is_read_at_once) {
    int fd = unwritten_create();
    _Atomic uint64_t *counter = unwritten_map(fd);
    cr_assert_not_null(counter);
    atomic_fetch_add(counter, 41);
    atomic_fetch_add(counter, 1);
    cr_assert_eq(read_count(fd), 42);
    unwritten_unmap(counter);
    close(fd);
}

/* The peer's side is another process, which may die at any moment: what
 * it added before it died stays. */
Test(unwritten, a_count_outlives_the_process_that_made_it) {
    int fd = unwritten_create();
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        _Atomic uint64_t *counter = unwritten_map(fd);
        if (!counter)
            _exit(1);
        atomic_fetch_add(counter, 1000);
        raise(SIGKILL);
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    cr_assert_eq(read_count(fd), 1000);
    close(fd);
}

/* A peer that could shrink the page would make the host's reads fail, and
 * one that could grow it would spend memory: the seals refuse both, and
 * any further seal. */
Test(unwritten, the_page_can_be_neither_shrunk_nor_grown) {
    int fd = unwritten_create();
    cr_assert_eq(ftruncate(fd, 0), -1);
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(ftruncate(fd, 1 << 20), -1);
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
    cr_assert_eq(read_count(fd), 0);
    close(fd);
}
