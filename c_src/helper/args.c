#include "args.h"

#include "common/decimal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int usage(void) {
    fprintf(stderr, "usage: sandbox_helper <host pid> [--no-network] [--user UID:GID] "
                    "[--guest-output] [--idle | --nice N] [--idle-group DIR] <cgroup parent | -> "
                    "<command> [args...]\n");
    return -1;
}

/* A decimal id up to the end of text or to `stop`. */
static int id(const char **p, const char *end, int64_t *out) {
    return decimal_parse(p, end, INT32_MAX, out);
}

int helper_args_parse(int argc, char **argv, helper_args_t *out) {
    memset(out, 0, sizeof *out);
    int i = 1;
    int64_t value;
    const char *p = i < argc ? argv[i] : "";
    if (i >= argc || id(&p, p + strlen(p), &value) < 0 || *p)
        return usage();
    out->host = (pid_t)value;
    for (i = 2; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--no-network") == 0) {
            out->no_network = 1;
            continue;
        }
        if (strcmp(argv[i], "--guest-output") == 0) {
            out->guest_output = 1;
            continue;
        }
        if (strcmp(argv[i], "--idle") == 0) {
            out->idle = 1;
            continue;
        }
        if (strcmp(argv[i], "--idle-group") == 0) {
            if (++i >= argc || argv[i][0] != '/')
                return usage();
            out->idle_group = argv[i];
            continue;
        }
        if (strcmp(argv[i], "--nice") == 0) {
            if (++i >= argc)
                return usage();
            p = argv[i];
            if (decimal_parse(&p, p + strlen(p), 19, &value) < 0 || *p)
                return usage();
            out->nice = (int)value;
            continue;
        }
        if (strcmp(argv[i], "--user") != 0 || ++i >= argc)
            return usage();
        int64_t uid, gid;
        p = argv[i];
        const char *end = p + strlen(p);
        if (id(&p, end, &uid) < 0 || *p++ != ':' || id(&p, end, &gid) < 0 || p != end)
            return usage();
        out->drop = 1;
        out->uid = (uid_t)uid;
        out->gid = (gid_t)gid;
    }
    if (argc - i < 2)
        return usage();
    out->cgroup_parent = strcmp(argv[i], "-") == 0 ? NULL : argv[i];
    out->command = argv + i + 1;
    return 0;
}
