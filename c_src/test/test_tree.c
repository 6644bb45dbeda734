#include "tree.h"

#include "idle_child.h"

#include <criterion/criterion.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static int parse(const char *text, pid_t *ppid) {
    return tree_parse_ppid(text, strlen(text), ppid);
}

Test(tree, parses_the_parent_pid) {
    pid_t ppid;
    cr_assert_eq(parse("1234 (sleep) S 77 1234 1234 0 -1", &ppid), 0);
    cr_assert_eq(ppid, 77);
}

Test(tree, command_names_may_hold_spaces_and_parens) {
    pid_t ppid;
    cr_assert_eq(parse("42 (a) b (c)) R 9001 42 42 0", &ppid), 0);
    cr_assert_eq(ppid, 9001);
}

Test(tree, rejects_malformed_text) {
    const char *bad[] = {"",           "12 sleep S 1 2", "12 (x)",
                         "12 (x) S",   "12 (x) S x 1",   "12 (x) S 99999999999 1",
                         "12 (x)S 1 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pid_t ppid;
        cr_assert_eq(parse(bad[i], &ppid), -1, "accepted \"%s\"", bad[i]);
    }
}

Test(tree, kills_children_found_in_proc) {
    pid_t child = fork_idle_child();
    /* Our own group is spared (the child shares it). */
    int found = tree_kill_children(getpid(), getpgrp());
    cr_assert_geq(found, 1);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}
