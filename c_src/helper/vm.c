/* The helper's child, from fork to the VM's exec: into the run's cgroup,
 * a process group of its own, the page where it counts output it does not
 * write, a descriptor of the output pipe for a strict VM, no terminal, its
 * identity, its priority, a parent-death signal, every signal at its
 * default, then the command. */
#include "vm.h"

#include "cgroup.h"
#include "reach.h"

#include "common/fdio.h"
#include "common/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Every signal back to SIG_DFL. Through the raw syscall: glibc's sigaction
 * refuses its internal signals (32, 33), which posix_spawn left ignored in
 * the helper, and an ignored signal stays ignored across exec. SIG_DFL is
 * 0, so a zeroed kernel sigaction means "default" whatever its layout. */
static int reset_signal_dispositions(void) {
    uint64_t kernel_sigaction[4] = {0};
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (syscall(SYS_rt_sigaction, sig, kernel_sigaction, NULL, sizeof(uint64_t)) < 0 &&
            errno != EINVAL)
            return -1;
    }
    return 0;
}

/* The helper stays in the host's session, so that the VM's priority is
 * weighed against the host's own threads (the kernel's autogroups are per
 * session); but the VM must not reach the host's terminal, if it has one:
 * it gives it up, for itself and all it starts. */
static int drop_terminal(void) {
    int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (tty < 0)
        return 0; /* ENXIO: no terminal to give up */
    int rc = ioctl(tty, TIOCNOTTY);
    fdio_close(tty);
    return rc;
}

void vm_exec(pid_t helper, const char *cgroup, int born_inside, int entered,
             const helper_args_t *args) {
    sigset_t none;
    char **argv = args->command;
    char in_cgroup = cgroup && (born_inside || cgroup_enter(cgroup) == 0) ? 'c' : 's';
    if (fdio_write_all(entered, &in_cgroup, 1) < 0)
        _exit(127);
    if (setpgid(0, 0) < 0 || drop_terminal() < 0)
        _exit(127);
    /* dup2 leaves the copy without close-on-exec: the VM keeps it. */
    if (dup2(SANDBOX_FD_UNWRITTEN, SANDBOX_FD_GUEST_UNWRITTEN) < 0)
        _exit(127);
    if (args->guest_output) {
        int fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK);
        if (fd < 0 || dup2(fd, SANDBOX_FD_GUEST_OUTPUT) < 0)
            _exit(127);
        if (fd != SANDBOX_FD_GUEST_OUTPUT)
            fdio_close(fd);
    }
    if (args->drop && reach_bind_sources(argv, args->uid, args->gid) < 0)
        _exit(127);
    /* Groups, then gid, then uid: each step needs the privilege the next
     * one gives up. The parent-death signal goes with a change of
     * identity, so it is armed after. */
    if (args->drop && (setgroups(0, NULL) < 0 || setgid(args->gid) < 0 || setuid(args->uid) < 0)) {
        dprintf(STDERR_FILENO, "sandbox_helper: cannot become %d:%d: %s\n", (int)args->uid,
                (int)args->gid, strerror(errno));
        _exit(127);
    }
    /* Threads and processes the VM starts inherit either. */
    struct sched_param no_priority = {0};
    if (args->idle && sched_setscheduler(0, SCHED_IDLE, &no_priority) < 0)
        _exit(127);
    /* Relative to the helper's (the host's) niceness; the kernel caps it
     * at 19. */
    if (args->nice) {
        errno = 0;
        int current = getpriority(PRIO_PROCESS, 0);
        if ((current == -1 && errno) || setpriority(PRIO_PROCESS, 0, current + args->nice) < 0)
            _exit(127);
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        _exit(127);
    /* The helper may have died before PDEATHSIG was armed. */
    if (getppid() != helper)
        _exit(127);
    if (reset_signal_dispositions() < 0 || sigemptyset(&none) < 0 ||
        sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        _exit(127);
    execv(argv[0], argv);
    dprintf(STDERR_FILENO, "sandbox_helper: cannot start %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}
