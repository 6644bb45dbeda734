#include "cgroup.h"

#include "fdio.h"

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

static int write_file(const char *dir, const char *name, const char *text) {
    char *path = join(dir, name);
    if (!path)
        return -1;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
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
    if (mkdir(path, 0755) < 0) {
        int saved = errno;
        free(path);
        errno = saved;
        return NULL;
    }
    return path;
}

int cgroup_enter(const char *path) { return write_file(path, "cgroup.procs", "0"); }

int cgroup_kill(const char *path) { return write_file(path, "cgroup.kill", "1"); }

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
