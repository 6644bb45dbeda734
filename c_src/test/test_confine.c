#include "confine/landlock.h"
#include "confine/syscall_filter.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `body` in a forked child (a filter or Landlock cannot be undone)
 * and returns its exit status. */
static int in_child(int (*body)(void)) {
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0)
        _exit(body());
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

/* Every call the filter refuses fails with EPERM. The arguments (all -1)
 * are ones each call would refuse by itself before doing anything (a bad
 * magic, descriptor, address or flag), so that a filter that lets one
 * through does no harm here: it only fails the test. Returns the index + 1
 * of the first not refused with EPERM, 0 if all are. */
static int refuses_each(void) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall_filter_load() < 0)
        return 100;
    for (int i = 0; SYSCALL_FILTER_REFUSED[i]; i++) {
        int nr = seccomp_syscall_resolve_name(SYSCALL_FILTER_REFUSED[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        errno = 0;
        if (syscall(nr, -1L, -1L, -1L, -1L, -1L, -1L) != -1 || errno != EPERM)
            return i + 1;
    }
    return 0;
}

Test(confine, the_filter_refuses_each_listed_call) {
    int failed = in_child(refuses_each);
    cr_assert_eq(failed, 0, "%s was not refused",
                 failed > 0 && failed < 100 ? SYSCALL_FILTER_REFUSED[failed - 1] : "the load");
}

static int namespaces_refused(void) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall_filter_load() < 0)
        return 100;
    /* clone with a namespace flag: EPERM; clone3: ENOSYS, so libc falls
     * back to clone; a plain fork still works. */
    errno = 0;
    if (syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0) != -1 || errno != EPERM)
        return 1;
    errno = 0;
    if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
        return 2;
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    return child > 0 && waitpid(child, NULL, 0) == child ? 0 : 3;
}

Test(confine, the_filter_refuses_new_namespaces_but_not_fork) {
    cr_assert_eq(in_child(namespaces_refused), 0);
}

static int landlock_fences(void) {
    if (landlock_abi() == 0)
        return 0; /* nothing to show on this kernel */
    const char *ro[] = {"/usr", "/proc"};
    const char *rw[] = {"/dev"};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || landlock_confine(ro, 2, rw, 1) <= 0)
        return 100;
    if (open("/usr/bin/env", O_RDONLY | O_CLOEXEC) < 0)
        return 1; /* read below /usr: allowed */
    if (open("/dev/null", O_WRONLY | O_CLOEXEC) < 0)
        return 2; /* write below /dev: allowed */
    errno = 0;
    if (open("/etc/hostname", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
        return 3; /* anything else: refused */
    errno = 0;
    if (open("/usr/bin/env", O_WRONLY | O_CLOEXEC) >= 0 || errno != EACCES)
        return 4; /* no write below a read-only path */
    return 0;
}

Test(confine, landlock_allows_the_paths_given_and_nothing_else) {
    cr_assert_eq(in_child(landlock_fences), 0);
}
