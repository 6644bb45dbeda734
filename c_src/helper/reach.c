#include "reach.h"

#include "common/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* As the kernel decides for a user with no supplementary groups and no
 * capabilities (ACLs aside: a directory they open counts as closed). */
static int searchable(const struct stat *st, uid_t uid, gid_t gid) {
    if (!S_ISDIR(st->st_mode))
        return 0;
    if (st->st_uid == uid)
        return (st->st_mode & S_IXUSR) != 0;
    if (st->st_gid == gid)
        return (st->st_mode & S_IXGRP) != 0;
    return (st->st_mode & S_IXOTH) != 0;
}

ssize_t reach_blocked_prefix(const char *path, uid_t uid, gid_t gid) {
    size_t len = strlen(path);
    char *prefix = malloc(len + 1);
    if (!prefix)
        return -1;
    ssize_t blocked = 0;
    for (size_t end = 1; end < len && blocked == 0; end++) {
        if (path[end] != '/')
            continue;
        memcpy(prefix, path, end);
        prefix[end] = '\0';
        struct stat st;
        if (stat(prefix, &st) < 0) {
            blocked = -1;
            break;
        }
        if (!searchable(&st, uid, gid))
            blocked = (ssize_t)end;
    }
    int saved = errno;
    free(prefix);
    errno = saved;
    return blocked;
}

typedef struct {
    char *path;     /* canonical */
    size_t blocked; /* length of the directory above it the user cannot search */
    int fd;         /* O_PATH, opened before that directory is covered */
} source_t;

static int complain(const char *what, const char *path) {
    dprintf(STDERR_FILENO, "sandbox_helper: cannot %s %s: %s\n", what, path, strerror(errno));
    return -1;
}

/* mkdir -p of the directories between the covered one (a tmpfs of ours
 * now) and the source's path, then the mount point itself: a directory or
 * an empty file, as the source is. */
static int make_mount_point(const source_t *s) {
    char *path = s->path;
    for (size_t i = s->blocked + 1; path[i]; i++) {
        if (path[i] != '/')
            continue;
        path[i] = '\0';
        int rc = mkdir(path, 0755);
        path[i] = '/';
        if (rc < 0 && errno != EEXIST)
            return -1;
    }
    struct stat st;
    if (fstat(s->fd, &st) < 0)
        return -1;
    if (S_ISDIR(st.st_mode))
        return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0)
        return -1;
    fdio_close(fd);
    return 0;
}

static int cover_and_bind(source_t *sources, size_t count) {
    if (unshare(CLONE_NEWNS) < 0)
        return complain("unshare", "the mount namespace");
    /* Nothing done here may reach the host's mount table. */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
        return complain("make private", "/");
    for (size_t i = 0; i < count; i++) {
        sources[i].fd = open(sources[i].path, O_PATH | O_CLOEXEC);
        if (sources[i].fd < 0)
            return complain("open", sources[i].path);
    }
    for (size_t i = 0; i < count; i++) {
        char *dir = sources[i].path;
        size_t len = sources[i].blocked;
        int covered = 0;
        for (size_t j = 0; j < i && !covered; j++)
            covered = sources[j].blocked == len && strncmp(sources[j].path, dir, len) == 0;
        if (covered)
            continue;
        char saved = dir[len];
        dir[len] = '\0';
        int rc = mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m");
        if (rc < 0)
            complain("cover", dir);
        dir[len] = saved;
        if (rc < 0)
            return -1;
    }
    for (size_t i = 0; i < count; i++) {
        char from[32];
        snprintf(from, sizeof from, "/proc/self/fd/%d", sources[i].fd);
        if (make_mount_point(&sources[i]) < 0)
            return complain("make a mount point at", sources[i].path);
        if (mount(from, sources[i].path, "none", MS_BIND | MS_REC, NULL) < 0)
            return complain("bind", sources[i].path);
    }
    return 0;
}

static int is_bind(const char *arg) {
    return strcmp(arg, "--bind") == 0 || strcmp(arg, "--ro-bind") == 0;
}

int reach_bind_sources(char **argv, uid_t uid, gid_t gid) {
    size_t count = 0, capacity = 0;
    source_t *sources = NULL;
    int rc = 0;
    for (size_t i = 1; argv[i] && argv[i + 1] && strcmp(argv[i], "--") != 0; i++) {
        if (!is_bind(argv[i]))
            continue;
        char *canonical = realpath(argv[++i], NULL);
        if (!canonical)
            continue; /* bwrap says what is missing */
        ssize_t blocked = reach_blocked_prefix(canonical, uid, gid);
        if (blocked <= 0) {
            free(canonical);
            if (blocked < 0)
                return complain("look at the directories above", argv[i]);
            continue;
        }
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 8;
            source_t *grown = realloc(sources, capacity * sizeof *sources);
            if (!grown) {
                free(canonical);
                rc = complain("remember", argv[i]);
                break;
            }
            sources = grown;
        }
        /* bwrap resolves the path as the box's user: the canonical one
         * leads into the tmpfs by no directory it may not search. */
        argv[i] = canonical;
        sources[count++] = (source_t){.path = canonical, .blocked = (size_t)blocked, .fd = -1};
    }
    if (rc == 0 && count > 0)
        rc = cover_and_bind(sources, count);
    for (size_t i = 0; i < count; i++)
        if (sources[i].fd >= 0)
            fdio_close(sources[i].fd);
    /* The paths stay: argv points at them. */
    free(sources);
    return rc;
}
