/* System calls that libc wraps only lately (pidfd_open and
 * pidfd_send_signal from glibc 2.36, close_range from 2.34; musl wraps
 * none of them), made through syscall(2): the sources then build with
 * glibc 2.28 and with musl. Where the kernel lacks one, it fails with
 * ENOSYS and the caller falls back. The numbers are the same on every
 * architecture (the kernel numbers new calls alike everywhere). */
#ifndef SANDBOX_SYSCALLS_H
#define SANDBOX_SYSCALLS_H

#include <stddef.h>
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

#endif
