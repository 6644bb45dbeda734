#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fdio.h"

/* Writes text as the whole content of a /proc file that must be written
 * in one write(2) (the id maps). Returns 0, or -1 with errno. */
static int write_proc_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n = fdio_write_some(fd, text, len);
    if (n >= 0 && (size_t)n != len)
        errno = EIO;
    if (n < 0 || (size_t)n != len) {
        fdio_close(fd);
        return -1;
    }
    return close(fd);
}

/* "<id> <id> 1\n": the id stands for itself, and no other id is mapped. */
static int map_to_itself(const char *path, unsigned long id) {
    char line[64]; /* two 20-digit ids at most */
    int n = snprintf(line, sizeof line, "%lu %lu 1\n", id, id);
    if (n < 0 || (size_t)n >= sizeof line) {
        errno = EOVERFLOW;
        return -1;
    }
    return write_proc_file(path, line);
}

int netns_unshare_plain(void) { return unshare(CLONE_NEWNET); }

int netns_unshare_in_user_ns(void) {
    /* Read before: inside the new namespace, until mapped, they read as
     * the overflow ids. The effective ones: the only ids an unprivileged
     * process may map. */
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
        return -1;
    if (write_proc_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
        return -1;
    if (map_to_itself("/proc/self/uid_map", uid) < 0 ||
        map_to_itself("/proc/self/gid_map", gid) < 0)
        return -1;
    return 0;
}

int netns_isolate(void) {
    if (netns_unshare_plain() == 0)
        return NETNS_PLAIN;
    if (errno != EPERM)
        return -1;
    return netns_unshare_in_user_ns() == 0 ? NETNS_USER : -1;
}
