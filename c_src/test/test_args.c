#include "helper/args.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

/* Parses a command line given as one string of words split at spaces;
 * out points into argv, which the caller keeps. */
static int parse(char *line, char *argv[32], helper_args_t *out) {
    int argc = 0;
    for (char *word = strtok(line, " "); word && argc < 31; word = strtok(NULL, " "))
        argv[argc++] = word;
    argv[argc] = NULL;
    return helper_args_parse(argc, argv, out);
}

Test(args, takes_the_idle_group_with_the_idle_policy) {
    char line[] = "sandbox_helper 42 --idle --idle-group /sys/fs/cgroup/cpu/sandbox-idle - erl -x";
    char *argv[32];
    helper_args_t args;
    cr_assert_eq(parse(line, argv, &args), 0);
    cr_assert_eq(args.host, 42);
    cr_assert_eq(args.idle, 1);
    cr_assert_str_eq(args.idle_group, "/sys/fs/cgroup/cpu/sandbox-idle");
    cr_assert_null(args.cgroup_parent);
    cr_assert_str_eq(args.command[0], "erl");
    cr_assert_str_eq(args.command[1], "-x");
}

Test(args, has_no_idle_group_unless_given_one) {
    char line[] = "sandbox_helper 42 --idle /sys/fs/cgroup/unified erl";
    char *argv[32];
    helper_args_t args;
    cr_assert_eq(parse(line, argv, &args), 0);
    cr_assert_null(args.idle_group);
    cr_assert_str_eq(args.cgroup_parent, "/sys/fs/cgroup/unified");
}

Test(args, refuses_an_idle_group_missing_or_not_absolute) {
    cr_redirect_stderr(); /* the usage line it prints is expected */
    char missing[] = "sandbox_helper 42 --idle-group";
    char relative[] = "sandbox_helper 42 --idle-group cpu/sandbox-idle - erl";
    char *argv[32];
    helper_args_t args;
    cr_assert_eq(parse(missing, argv, &args), -1);
    cr_assert_eq(parse(relative, argv, &args), -1);
}
