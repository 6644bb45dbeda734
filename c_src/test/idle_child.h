/* Tests only: a child of the test process that does nothing until killed,
 * for tests that need a tree to find, limit or kill. */
#ifndef SANDBOX_TEST_IDLE_CHILD_H
#define SANDBOX_TEST_IDLE_CHILD_H

#include <criterion/criterion.h>
#include <sys/types.h>
#include <unistd.h>

static inline pid_t fork_idle_child(void) {
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        for (;;)
            pause();
    }
    return child;
}

#endif
