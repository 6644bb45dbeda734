/* sandbox_confine: the last step into the box of a strict run, run by
 * bubblewrap inside the namespaces it made. It adds what bubblewrap does
 * not do (Landlock on the files, the seccomp filter), checks that every
 * step took effect, and only then executes the VM: a box that is less
 * than asked for never runs code.
 *
 *   usage: sandbox_confine [--ro PATH]... [--rw PATH]...
 *                          [--not-ns KIND:INODE]... -- COMMAND [ARGS...]
 *          sandbox_confine --landlock-abi
 *
 * --ro, --rw: what Landlock lets the box read, and read and write.
 * --not-ns: a namespace of the host (/proc/self/ns/KIND there had INODE)
 * that the box must not share. What fails is said on stderr (which is the
 * run's output pipe, so it reaches the host's boot error) and ends it with
 * status 70. */
#include "landlock.h"
#include "syscall_filter.h"

#include "common/decimal.h"
#include "common/fdio.h"
#include "common/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define REFUSED 70

static _Noreturn void refuse(const char *what) {
    dprintf(STDERR_FILENO, "sandbox_confine: %s%s%s\n", what, errno ? ": " : "",
            errno ? strerror(errno) : "");
    _exit(REFUSED);
}

/* The value of "Key:" in /proc/self/status, as text, or NULL. */
static const char *status_field(const char *status, const char *key, char *out, size_t cap) {
    size_t key_len = strlen(key);
    for (const char *line = status; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > key_len && strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
            const char *v = line + key_len + 1;
            while (v < line + len && (*v == ' ' || *v == '\t'))
                v++;
            size_t n = (size_t)(line + len - v) < cap - 1 ? (size_t)(line + len - v) : cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* Refuses to go on unless the field's text is `want`; with `want` NULL,
 * unless it holds only hex zeros. */
static void expect(const char *status, const char *key, const char *want) {
    char value[128];
    if (!status_field(status, key, value, sizeof value))
        refuse(key);
    if (want ? strcmp(value, want) == 0 : strspn(value, "0") == strlen(value))
        return;
    errno = 0;
    char what[192];
    snprintf(what, sizeof what, "%s is %s", key, value);
    refuse(what);
}

/* Whether any of the field's ids (real, effective, saved, file system) is
 * 0; a field that cannot be read counts as root. */
static bool any_root_id(const char *status, const char *key) {
    char ids[128];
    if (!status_field(status, key, ids, sizeof ids))
        return true;
    for (char *save = NULL, *id = strtok_r(ids, " \t", &save); id;
         id = strtok_r(NULL, " \t", &save))
        if (strcmp(id, "0") == 0)
            return true;
    return false;
}

/* Never root, no capability of any kind, no_new_privs, the filter on. */
static void check_identity(void) {
    char status[4096];
    ssize_t n = fdio_read_file("/proc/self/status", status, sizeof status - 1);
    if (n < 0)
        refuse("/proc/self/status");
    /* refuse() does not return; the cast keeps cppcheck from doubting it. */
    status[n < 0 ? 0 : (size_t)n] = '\0';
    errno = 0;
    if (any_root_id(status, "Uid") || any_root_id(status, "Gid"))
        refuse("running as root");
    expect(status, "CapEff", NULL);
    expect(status, "CapPrm", NULL);
    expect(status, "CapBnd", NULL);
    expect(status, "CapAmb", NULL);
    expect(status, "NoNewPrivs", "1");
    expect(status, "Seccomp", "2");
}

/* KIND:INODE: the box's namespace of that kind must be another one. */
static void check_not_shared(const char *spec) {
    const char *colon = strchr(spec, ':');
    int64_t inode;
    const char *p = colon ? colon + 1 : NULL;
    errno = 0;
    if (!p || decimal_parse(&p, p + strlen(p), INT64_MAX, &inode) < 0 || *p)
        refuse("a malformed --not-ns");
    char path[64];
    snprintf(path, sizeof path, "/proc/self/ns/%.*s", (int)(colon - spec), spec);
    struct stat st;
    if (stat(path, &st) < 0)
        refuse(path);
    if ((int64_t)st.st_ino == inode) {
        errno = 0;
        refuse(path); /* the host's own: the box is not one */
    }
}

int main(int argc, char **argv) {
    /* What Sandbox.info/0 reports: the kernel's Landlock ABI, 0 for none. */
    if (argc == 2 && strcmp(argv[1], "--landlock-abi") == 0) {
        printf("%d\n", landlock_abi());
        return 0;
    }
    const char **ro = calloc((size_t)argc, sizeof *ro);
    const char **rw = calloc((size_t)argc, sizeof *rw);
    const char **not_ns = calloc((size_t)argc, sizeof *not_ns);
    int ro_count = 0, rw_count = 0, ns_count = 0, i = 1;
    if (!ro || !rw || !not_ns)
        refuse("out of memory");
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (strcmp(argv[i], "--ro") == 0)
            ro[ro_count++] = argv[i + 1];
        else if (strcmp(argv[i], "--rw") == 0)
            rw[rw_count++] = argv[i + 1];
        else if (strcmp(argv[i], "--not-ns") == 0)
            not_ns[ns_count++] = argv[i + 1];
        else
            break;
    }
    errno = 0;
    if (i + 1 >= argc || strcmp(argv[i], "--") != 0)
        refuse("usage: sandbox_confine [--ro PATH]... [--rw PATH]... [--not-ns KIND:INODE]... "
               "-- COMMAND [ARGS...]");
    char **command = argv + i + 1;

    /* The helper opened it for the VM's output device (protocol.h). */
    int flags = fcntl(SANDBOX_FD_GUEST_OUTPUT, F_GETFL);
    if (flags < 0 || !(flags & O_NONBLOCK))
        refuse("no output descriptor of the VM's own");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        refuse("no_new_privs");
    if (landlock_confine(ro, ro_count, rw, rw_count) < 0)
        refuse("landlock");
    if (syscall_filter_load() < 0)
        refuse("seccomp");
    check_identity();
    for (int k = 0; k < ns_count; k++)
        check_not_shared(not_ns[k]);
    free(ro);
    free(rw);
    free(not_ns);

    execv(command[0], command);
    refuse(command[0]);
}
