/* System calls that libc wraps only lately (pidfd_open and
 * pidfd_send_signal from glibc 2.36, close_range from 2.34; musl wraps
 * none of them) or not at all (clone3), made through syscall(2): the
 * sources then build with glibc 2.28 and with musl. Where the kernel
 * lacks one, it fails with ENOSYS and the caller falls back. The numbers are the same on every
 * architecture (the kernel numbers new calls alike everywhere). */
#ifndef SANDBOX_SYSCALLS_H
#define SANDBOX_SYSCALLS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* A pidfd of pid (close-on-exec, as the kernel makes every pidfd). Linux 5.3+. */
static inline int sys_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

/* Sends sig to the process the pidfd names, whatever has its pid now. Linux 5.1+. */
static inline int sys_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Closes every fd from first to last. Linux 5.9+. */
static inline int sys_close_range(unsigned first, unsigned last) {
    return (int)syscall(SYS_close_range, first, last, 0);
}

/* clone3's arguments as of Linux 5.7, spelled out so that older kernel
 * headers build, and its flag for a child born in a cgroup. */
struct sandbox_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};
#define SANDBOX_CLONE_INTO_CGROUP 0x200000000ULL

/* Forks (the child returns 0, as from fork()) into the cgroup whose
 * directory cgroup_fd is. The caller must be single-threaded: no atfork
 * handler runs. Linux 5.7+. */
static inline pid_t sys_clone3_into_cgroup(int cgroup_fd) {
    struct sandbox_clone_args args = {
        .flags = SANDBOX_CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)cgroup_fd};
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

#endif
