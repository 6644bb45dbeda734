/* Landlock: the files a process (and all it starts) may touch, as a second
 * fence behind the view bubblewrap gives the VM. Where the kernel has no
 * Landlock, nothing is restricted and landlock_abi() says 0. */
#ifndef SANDBOX_LANDLOCK_H
#define SANDBOX_LANDLOCK_H

/* The kernel's Landlock ABI version, or 0 without Landlock. */
int landlock_abi(void);

/* Restricts the calling process to reading (and executing) below each of
 * ro and to everything below each of rw; every other path is refused.
 * Needs no_new_privs. Returns the ABI used (0: none on this kernel), or
 * -1 with errno (a path missing, the kernel refusing). */
int landlock_confine(const char *const *ro, int ro_count, const char *const *rw, int rw_count);

#endif
