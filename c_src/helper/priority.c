/* Why a booted VM leaves SCHED_IDLE. A VM boots under SCHED_IDLE, inside
 * the host's idle CPU cgroup. Once it has booted, its threads wake only
 * to serve a run, and a thread under SCHED_IDLE that wakes never preempts
 * the one running: it waits for the tick (4 ms here) behind any VM that
 * is booting meanwhile, such as the pool's replacement for the VM just
 * taken. Under SCHED_OTHER the woken thread preempts a booting VM's
 * SCHED_IDLE threads at once, while the idle cgroup still keeps the
 * whole group below the host. Processes the VM started at boot
 * (erl_child_setup, which forks every port program) stay SCHED_IDLE, and
 * so does what they start. */
#include "priority.h"

#include "common/fdio.h"
#include "common/pids.h"

#include <dirent.h>
#include <linux/capability.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The weakest weight SCHED_OTHER has. */
#define BOOTED_NICE 19

static int lift_thread(pid_t tid) {
    struct sched_param no_priority = {0};
    /* Nice first, so the thread is never SCHED_OTHER at the host's nice. */
    if (setpriority(PRIO_PROCESS, (id_t)tid, BOOTED_NICE) < 0 ||
        sched_setscheduler(tid, SCHED_OTHER, &no_priority) < 0)
        return errno == ESRCH ? 0 : -1;
    return 0;
}

int priority_lift_booted(pid_t vm) {
    char path[40];
    int n = snprintf(path, sizeof path, "/proc/%d/task", (int)vm);
    if (n < 0 || (size_t)n >= sizeof path) {
        errno = EINVAL;
        return -1;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *tasks = fdopendir(fd);
    if (!tasks) {
        int saved = errno;
        fdio_close(fd);
        errno = saved;
        return -1;
    }
    int rc = 0, failure = 0;
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(tasks);
        if (!entry) {
            if (errno) {
                rc = -1;
                failure = errno;
            }
            break;
        }
        pid_t tid = pids_parse(entry->d_name, strlen(entry->d_name));
        if (tid > 0 && lift_thread(tid) < 0) {
            rc = -1;
            failure = errno;
        }
    }
    if (closedir(tasks) < 0 && rc == 0)
        return -1;
    errno = failure;
    return rc;
}

int priority_keep_nice_before_setuid(void) { return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0); }

int priority_keep_nice_after_setuid(void) {
    /* The raw call: glibc has no wrapper, and libcap would be a whole
     * library for one. Version 3: two 32-bit words of each set. */
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct sets[_LINUX_CAPABILITY_U32S_3] = {{0}};
    sets[CAP_TO_INDEX(CAP_SYS_NICE)].permitted = CAP_TO_MASK(CAP_SYS_NICE);
    sets[CAP_TO_INDEX(CAP_SYS_NICE)].effective = CAP_TO_MASK(CAP_SYS_NICE);
    int rc = (int)syscall(SYS_capset, &header, sets);
    int saved = errno;
    /* Whatever capset did: nothing more is to be kept past a later change. */
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return -1;
    errno = saved;
    return rc;
}
