#include "helper/reach.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

/* /tmp/sandbox-reach-XXXXXX (0700, as mkdtemp makes it) with a/b/c in it. */
static char top[64];

static void make_tree(void) {
    snprintf(top, sizeof top, "/tmp/sandbox-reach-XXXXXX");
    cr_assert_not_null(mkdtemp(top));
    char path[128];
    snprintf(path, sizeof path, "%s/a", top);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/a/b", top);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/a/b/c", top);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "seen", 4), 4);
    close(fd);
    snprintf(path, sizeof path, "%s/secret", top);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
}

static void remove_tree(void) {
    char command[160];
    snprintf(command, sizeof command, "rm -rf '%s'", top);
    cr_assert_eq(system(command), 0);
}

static char *under(const char *rest) {
    static char path[160];
    snprintf(path, sizeof path, "%s%s", top, rest);
    return path;
}

/* Each test that makes the tree removes it: Criterion's .init and .fini
 * are beyond cppcheck, which `make check` runs here too. */
Test(reach, finds_the_outermost_directory_a_user_cannot_search) {
    make_tree();
    cr_assert_eq(reach_blocked_prefix(under("/a/b/c"), NOBODY, NOBODY), (ssize_t)strlen(top));
    cr_assert_eq(chmod(top, 0711), 0);
    cr_assert_eq(reach_blocked_prefix(under("/a/b/c"), NOBODY, NOBODY), 0, "search is enough");
    cr_assert_eq(chmod(under("/a"), 0700), 0);
    cr_assert_eq(reach_blocked_prefix(under("/a/b/c"), NOBODY, NOBODY),
                 (ssize_t)strlen(under("/a")));
    cr_assert_eq(reach_blocked_prefix(under("/a"), NOBODY, NOBODY), 0,
                 "the path itself need not be searchable");
    /* The owner's bits for the owner, the group's for the group. */
    cr_assert_eq(chown(under("/a"), NOBODY, 0), 0);
    cr_assert_eq(reach_blocked_prefix(under("/a/b/c"), NOBODY, NOBODY), 0);
    cr_assert_eq(chown(under("/a"), 0, NOBODY), 0);
    cr_assert_eq(chmod(under("/a"), 0750), 0);
    cr_assert_eq(reach_blocked_prefix(under("/a/b/c"), NOBODY, NOBODY), 0);
    cr_assert_eq(chmod(under("/a"), 0705), 0);
    cr_assert_eq(reach_blocked_prefix(under("/a/b/c"), NOBODY, NOBODY),
                 (ssize_t)strlen(under("/a")), "a group without the bit is refused");
    remove_tree();
}

/* In a child: bring a/b within nobody's reach, become nobody, then look.
 * Returns the step that failed, or 0. */
static int look_as_nobody(void) {
    /* Kept apart from argv, which loses it to the canonical path. */
    char *given = strdup(under("/a/b"));
    char *argv[] = {"bwrap", "--ro-bind", given, "/a/b", "--", "--ro-bind", "/x", "/x", NULL};
    int step = 0;
    char seen[8] = {0};
    int fd = -1;
    if (reach_bind_sources(argv, NOBODY, NOBODY) < 0)
        step = 10;
    else if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
        step = 11;
    else if ((fd = open(under("/a/b/c"), O_RDONLY | O_CLOEXEC)) < 0 || read(fd, seen, 4) != 4 ||
             strcmp(seen, "seen") != 0)
        step = 12;
    else if (access(under("/secret"), F_OK) == 0)
        step = 13; /* the rest of the covered directory is out of sight */
    else if (strcmp(argv[2], under("/a/b")) != 0)
        step = 14; /* bwrap is given the canonical path */
    if (fd >= 0)
        close(fd);
    if (argv[2] != given)
        free(argv[2]);
    free(given);
    return step;
}

Test(reach, brings_a_bind_source_within_reach_and_nothing_else) {
    if (geteuid() != 0)
        cr_skip_test("needs root, as a root host's helper has it");
    make_tree();
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0)
        _exit(look_as_nobody());
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "step %d failed", WEXITSTATUS(status));
    /* None of it reached this mount namespace. */
    cr_assert_eq(access(under("/secret"), F_OK), 0);
    remove_tree();
}

Test(reach, leaves_everything_as_it_is_when_all_is_within_reach) {
    char *argv[] = {"bwrap", "--ro-bind", "/usr", "/usr", "--bind", "/tmp", "/tmp", NULL};
    cr_assert_eq(reach_bind_sources(argv, NOBODY, NOBODY), 0);
    cr_assert_str_eq(argv[2], "/usr");
    cr_assert_str_eq(argv[5], "/tmp");
}
