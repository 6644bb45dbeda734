#include "cgroup.h"

#include "common/decimal.h"
#include "common/fdio.h"
#include "common/pids.h"
#include "common/syscalls.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *join(const char *dir, const char *name) {
    size_t len = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(len);
    if (path)
        snprintf(path, len, "%s/%s", dir, name);
    return path;
}

int cgroup_write(const char *dir, const char *name, const char *text) {
    char *path = join(dir, name);
    if (!path)
        return -1;
    /* O_TRUNC as a shell's ">" does: cgroup files ignore it, plain files need it. */
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return -1;
    int rc = fdio_write_all(fd, text, strlen(text));
    int saved = errno;
    fdio_close(fd);
    errno = saved;
    return rc;
}

char *cgroup_create(const char *parent, pid_t id) {
    char name[64];
    snprintf(name, sizeof name, "sandbox-run-%ld", (long)id);
    char *path = join(parent, name);
    if (!path)
        return NULL;
    /* EEXIST: a helper that had this pid before was killed before it could
     * remove its cgroup (pids are reused, and pid_max may be 32768). No live
     * helper has this pid, so the cgroup is a leftover: rmdir takes it if
     * it is empty, and fails (EBUSY) if it is not. */
    if (mkdir(path, 0755) < 0 && (errno != EEXIST || rmdir(path) < 0 || mkdir(path, 0755) < 0)) {
        int saved = errno;
        free(path);
        errno = saved;
        return NULL;
    }
    return path;
}

int cgroup_delegate(const char *path, uid_t uid, gid_t gid) {
    if (chown(path, uid, gid) < 0)
        return -1;
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(dir);
        if (!entry) {
            rc = errno ? -1 : 0;
            break;
        }
        if (entry->d_name[0] == '.' || entry->d_type == DT_DIR)
            continue;
        if (fchownat(dirfd(dir), entry->d_name, uid, gid, 0) < 0) {
            rc = -1;
            break;
        }
    }
    int saved = errno;
    closedir(dir);
    errno = saved;
    return rc;
}

char *cgroup_delegated(const char *parent, const char *name, uid_t uid, gid_t gid) {
    char *path = join(parent, name);
    if (!path)
        return NULL;
    if ((mkdir(path, 0755) < 0 && errno != EEXIST) || cgroup_delegate(path, uid, gid) < 0) {
        int saved = errno;
        free(path);
        errno = saved;
        return NULL;
    }
    return path;
}

char *cgroup_for_run(const char *parent, pid_t id, int delegate, uid_t uid, gid_t gid) {
    if (!delegate)
        return cgroup_create(parent, id);
    char name[64];
    snprintf(name, sizeof name, "sandbox-strict-%d", (int)uid);
    char *subtree = cgroup_delegated(parent, name, uid, gid);
    char *cgroup = subtree ? cgroup_create(subtree, id) : NULL;
    free(subtree);
    if (cgroup && cgroup_delegate(cgroup, uid, gid) < 0) {
        int saved = errno;
        (void)cgroup_remove(cgroup);
        free(cgroup);
        errno = saved;
        return NULL;
    }
    return cgroup;
}

int cgroup_enter(const char *path) { return cgroup_write(path, "cgroup.procs", "0"); }

int cgroup_move(const char *path, pid_t pid) {
    char text[24];
    snprintf(text, sizeof text, "%d", (int)pid);
    return cgroup_write(path, "cgroup.procs", text);
}

pid_t cgroup_fork(const char *cgroup, int *born_inside) {
    *born_inside = 0;
    int dir = cgroup ? open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dir >= 0) {
        pid_t pid = sys_clone3_into_cgroup(dir);
        if (pid == 0) {
            *born_inside = 1;
            return 0; /* dir goes at exec */
        }
        int saved = errno;
        fdio_close(dir);
        if (pid > 0) {
            *born_inside = 1;
            return pid;
        }
        /* ENOSYS, E2BIG or EINVAL: a kernel without it; the child enters. */
        errno = saved;
    }
    return fork();
}

int cgroup_kill(const char *path) { return cgroup_write(path, "cgroup.kill", "1"); }

int cgroup_remove(const char *path) {
    for (int attempt = 0; attempt < 100; attempt++) {
        if (rmdir(path) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            return -1;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
        while (nanosleep(&pause, &pause) < 0 && errno == EINTR) {
        }
    }
    return -1;
}

int cgroup_has(const char *dir, const char *name) {
    char *path = join(dir, name);
    if (!path)
        return 0;
    int found = access(path, F_OK) == 0;
    free(path);
    return found;
}

/* The whole of a cgroup file, NUL-terminated (malloc'd), or NULL. */
static char *read_all(const char *dir, const char *name, size_t *len) {
    char *path = join(dir, name);
    if (!path)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return NULL;
    size_t cap = 256, used = 0;
    char *text = malloc(cap);
    while (text) {
        if (used + 1 == cap) {
            char *bigger = realloc(text, cap * 2);
            if (!bigger) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            cap *= 2;
        }
        ssize_t n = fdio_read(fd, text + used, cap - 1 - used);
        if (n < 0) {
            free(text);
            text = NULL;
        } else if (n == 0) {
            text[used] = '\0';
            *len = used;
            break;
        } else {
            used += (size_t)n;
        }
    }
    int saved = errno;
    fdio_close(fd);
    errno = saved;
    return text;
}

int cgroup_parse_value(const char *text, size_t len, const char *key, int64_t *value) {
    size_t key_len = key ? strlen(key) : 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *v = p;
        if (key) {
            v = NULL;
            if ((size_t)(line_end - p) > key_len && memcmp(p, key, key_len) == 0 &&
                p[key_len] == ' ')
                v = p + key_len + 1;
        }
        if (v) {
            if (line_end - v == 3 && memcmp(v, "max", 3) == 0) {
                *value = -1;
                return 0;
            }
            return decimal_parse(&v, line_end, INT64_MAX, value) < 0 || v != line_end ? -1 : 0;
        }
        p = eol ? eol + 1 : end;
    }
    return -1;
}

int cgroup_read_value(const char *dir, const char *name, const char *key, int64_t *value) {
    size_t len;
    char *text = read_all(dir, name, &len);
    if (!text)
        return -1;
    int rc = cgroup_parse_value(text, len, key, value);
    free(text);
    if (rc < 0)
        errno = EINVAL;
    return rc;
}

int cgroup_procs(const char *dir, pids_t *out) {
    size_t len;
    char *text = read_all(dir, "cgroup.procs", &len);
    if (!text)
        return -1;
    int rc = pids_parse_lines(out, text, len);
    int saved = errno;
    free(text);
    errno = saved;
    return rc;
}
