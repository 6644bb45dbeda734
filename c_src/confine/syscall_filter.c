#include "syscall_filter.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>

const char *const SYSCALL_FILTER_REFUSED[] = {
    /* other processes' memory and execution */
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    /* the kernel itself */
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "userfaultfd", "iopl", "ioperm", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "lookup_dcookie", "syslog",
    /* keys */
    "keyctl", "add_key", "request_key",
    /* the file system view */
    "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsmount", "fsconfig", "fspick",
    "move_mount", "open_tree", "mount_setattr",
    /* namespaces */
    "unshare", "setns",
    /* the clocks of the whole machine */
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    /* files by handle, past any path check */
    "open_by_handle_at", "name_to_handle_at", NULL};

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int syscall_filter_load(void) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return -1;
    int rc = 0;
    for (const char *const *name = SYSCALL_FILTER_REFUSED; rc == 0 && *name; name++) {
        int nr = seccomp_syscall_resolve_name(*name);
        if (nr != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    /* One rule a flag: any of them set refuses the call. */
    const unsigned long flags[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                   CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET, CLONE_NEWTIME};
    for (unsigned i = 0; rc == 0 && i < sizeof flags / sizeof flags[0]; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}
