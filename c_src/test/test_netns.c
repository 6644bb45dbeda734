#include "helper/netns.h"

#include "common/fdio.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a child that tried to isolate itself found, as it tells its parent. */
enum { ISOLATED = 0, UNSHARE_FAILED, SAME_NAMESPACE, HAS_INTERFACES, ID_CHANGED, BAD_MAP };

static ino_t net_namespace(void) {
    struct stat st;
    cr_assert_eq(stat("/proc/self/ns/net", &st), 0);
    return st.st_ino;
}

/* Only "lo" is listed in /proc/self/net/dev, after its two header lines. */
static int only_loopback(void) {
    FILE *dev = fopen("/proc/self/net/dev", "re");
    if (!dev)
        return 0;
    char line[512];
    int lines = 0, loopback = 0;
    while (fgets(line, sizeof line, dev)) {
        lines++;
        loopback += strstr(line, " lo:") != NULL || strncmp(line, "lo:", 3) == 0;
    }
    fclose(dev);
    return lines == 3 && loopback == 1;
}

/* "<uid> <uid> 1", spaces as the kernel pads them. */
static int maps_only_itself(const char *path, unsigned long id) {
    FILE *map = fopen(path, "re");
    if (!map)
        return 0;
    unsigned long inside, outside, count;
    int fields = fscanf(map, "%lu %lu %lu", &inside, &outside, &count);
    int more = fgetc(map) == '\n' && fgetc(map) == EOF;
    fclose(map);
    return fields == 3 && inside == id && outside == id && count == 1 && more;
}

/* Checks what isolate did to the calling process. */
static int found_after(int (*isolate)(void), int check_ids, ino_t before, uid_t uid, gid_t gid) {
    struct stat st;
    if (isolate() < 0)
        return UNSHARE_FAILED;
    if (stat("/proc/self/ns/net", &st) < 0 || st.st_ino == before)
        return SAME_NAMESPACE;
    if (!only_loopback())
        return HAS_INTERFACES;
    if (check_ids && (geteuid() != uid || getegid() != gid))
        return ID_CHANGED;
    if (check_ids && (!maps_only_itself("/proc/self/uid_map", uid) ||
                      !maps_only_itself("/proc/self/gid_map", gid)))
        return BAD_MAP;
    return ISOLATED;
}

/* Runs isolate in a child (it changes the process for good) and returns
 * what the child found. The child then waits to be killed, as the other
 * tests' children do, rather than exit: an exit would have valgrind report
 * the test runner's own memory in it. */
static int in_child(int (*isolate)(void), int check_ids) {
    ino_t before = net_namespace();
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int found[2];
    cr_assert_eq(pipe2(found, O_CLOEXEC), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        unsigned char what = (unsigned char)found_after(isolate, check_ids, before, uid, gid);
        if (fdio_write_all(found[1], &what, 1) < 0)
            _exit(1);
        for (;;)
            pause();
    }
    unsigned char what = 0xff;
    cr_assert_eq(close(found[1]), 0);
    cr_assert_eq(fdio_read(found[0], &what, 1), 1);
    cr_assert_eq(close(found[0]), 0);
    cr_assert_eq(kill(child, SIGKILL), 0);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    return what;
}

Test(netns, a_user_namespace_maps_the_user_onto_itself) {
    cr_assert_eq(in_child(netns_unshare_in_user_ns, 1), ISOLATED);
}

Test(netns, isolate_gives_a_namespace_of_one_kind_or_the_other) {
    cr_assert_eq(in_child(netns_isolate, 0), ISOLATED);
}

/* Where the test runs as root, the plain namespace is had; elsewhere the
 * kernel refuses it, which is what sends isolate to the user namespace. */
Test(netns, the_plain_namespace_needs_privilege) {
    int found = in_child(netns_unshare_plain, 0);
    if (geteuid() == 0)
        cr_assert_eq(found, ISOLATED);
    else
        cr_assert_eq(found, UNSHARE_FAILED);
}
