/* The seccomp filter of a strict run: the kernel's surface that code in the
 * box has no business with (tracing other processes, loading modules or
 * BPF, mounting, making namespaces, keys, clocks, ...) is refused with
 * EPERM; clone3, whose flags a filter cannot read, with ENOSYS so that
 * libc falls back to clone, whose namespace flags are refused. Built with
 * libseccomp, which also refuses every other architecture's calls. */
#ifndef SANDBOX_SYSCALL_FILTER_H
#define SANDBOX_SYSCALL_FILTER_H

/* The names of the system calls refused with EPERM (NULL-terminated). */
extern const char *const SYSCALL_FILTER_REFUSED[];

/* Loads the filter on the calling thread; it is inherited by everything
 * the process starts. Needs no_new_privs. Returns 0, or -1 with errno. */
int syscall_filter_load(void);

#endif
