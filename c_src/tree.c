#include "tree.h"

#include "fdio.h"
#include "pids.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int tree_parse_ppid(const char *stat, size_t len, pid_t *ppid) {
    const char *close = NULL;
    for (size_t i = 0; i < len; i++)
        if (stat[i] == ')')
            close = stat + i;
    if (!close)
        return -1;
    const char *p = close + 1, *end = stat + len;
    /* ") S 1234 ..." : a space, the state letter, a space, the ppid. */
    if (end - p < 4 || p[0] != ' ' || p[2] != ' ')
        return -1;
    p += 3;
    long value = 0;
    if (p == end || *p < '0' || *p > '9')
        return -1;
    while (p < end && *p >= '0' && *p <= '9') {
        value = value * 10 + (*p - '0');
        if (value > 0x7fffffffL)
            return -1;
        p++;
    }
    if (p == end || *p != ' ')
        return -1;
    *ppid = (pid_t)value;
    return 0;
}

static int parent_of(pid_t pid, pid_t *ppid) {
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = fdio_read(fd, text + len, sizeof text - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof text)
            break; /* the ppid is near the start; the rest is not needed */
    }
    fdio_close(fd);
    return tree_parse_ppid(text, len, ppid);
}

static pid_t parse_pid(const char *name) { return pids_parse(name, strlen(name)); }

int tree_kill_children(pid_t parent, pid_t spare_pgid) {
    DIR *proc = opendir("/proc");
    if (!proc)
        return -1;
    int found = 0;
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(proc);
        if (!entry)
            break;
        pid_t pid = parse_pid(entry->d_name);
        pid_t ppid;
        /* A process that vanished between readdir and open is not ours to
         * worry about: only our own unreaped children matter, and those
         * cannot vanish. */
        if (pid <= 0 || parent_of(pid, &ppid) < 0 || ppid != parent)
            continue;
        found++;
        /* The child is ours and unreaped, so its pid and group cannot be
         * recycled while we signal them. */
        pid_t pgid = getpgid(pid);
        if (pgid > 0 && pgid != spare_pgid)
            (void)kill(-pgid, SIGKILL);
        (void)kill(pid, SIGKILL);
    }
    int saved = errno;
    closedir(proc);
    if (saved != 0) {
        errno = saved;
        return -1;
    }
    return found;
}

int tree_descendants(pid_t root, pids_t *out) {
    /* One pass over /proc for every (pid, parent) pair, then the closure:
     * a process is in the tree if its parent is. */
    pids_t all, parents;
    pids_init(&all);
    pids_init(&parents);
    DIR *proc = opendir("/proc");
    if (!proc)
        return -1;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(proc);
        if (!entry) {
            rc = errno ? -1 : 0;
            break;
        }
        pid_t pid = parse_pid(entry->d_name);
        pid_t ppid;
        if (pid <= 0 || parent_of(pid, &ppid) < 0)
            continue; /* gone meanwhile */
        if (pids_push(&all, pid) < 0 || pids_push(&parents, ppid) < 0) {
            rc = -1;
            break;
        }
    }
    int saved = errno;
    closedir(proc);
    size_t first = out->len;
    for (int grew = rc == 0; grew && rc == 0;) {
        grew = 0;
        for (size_t i = 0; i < all.len; i++) {
            if (all.items[i] == 0)
                continue; /* taken already */
            int in_tree = parents.items[i] == root;
            for (size_t j = first; !in_tree && j < out->len; j++)
                in_tree = parents.items[i] == out->items[j];
            if (!in_tree)
                continue;
            if (pids_push(out, all.items[i]) < 0) {
                rc = -1;
                saved = errno;
                break;
            }
            all.items[i] = 0;
            grew = 1;
        }
    }
    pids_free(&all);
    pids_free(&parents);
    errno = saved;
    return rc;
}
