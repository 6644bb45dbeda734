#include "tree.h"

#include "common/decimal.h"
#include "common/fdio.h"
#include "common/pids.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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
    int64_t value;
    if (decimal_parse(&p, end, INT32_MAX, &value) < 0 || p == end || *p != ' ')
        return -1;
    *ppid = (pid_t)value;
    return 0;
}

static int parent_of(pid_t pid, pid_t *ppid) {
    char path[64], text[512]; /* the ppid is near the start; the rest is not needed */
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    ssize_t len = fdio_read_file(path, text, sizeof text);
    return len < 0 ? -1 : tree_parse_ppid(text, (size_t)len, ppid);
}

static pid_t parse_pid(const char *name) { return pids_parse(name, strlen(name)); }

/* Calls visit(pid, ppid, ctx) for every process /proc lists now; stops at
 * the first call that returns -1. A process that vanished between readdir
 * and open is skipped. Returns 0, or -1 with errno (/proc unreadable, or
 * the errno visit left). */
static int each_process(int (*visit)(pid_t pid, pid_t ppid, void *ctx), void *ctx) {
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
            continue;
        if (visit(pid, ppid, ctx) < 0) {
            rc = -1;
            break;
        }
    }
    int saved = errno;
    closedir(proc);
    errno = saved;
    return rc;
}

int tree_kill_group(pid_t leader, int *wait_status) {
    /* The kernel signals a whole group atomically with respect to fork: a
     * member busy forking cannot slip a child through. */
    (void)kill(-leader, SIGKILL);
    while (waitpid(leader, wait_status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

typedef struct {
    pid_t parent, spare_pgid;
    int found;
    pids_t groups; /* killed in this scan already */
} killing_t;

static int killed_already(const pids_t *groups, pid_t pgid) {
    for (size_t i = 0; i < groups->len; i++)
        if (groups->items[i] == pgid)
            return 1;
    return 0;
}

static int kill_if_child(pid_t pid, pid_t ppid, void *ctx) {
    killing_t *k = ctx;
    /* Only our own unreaped children matter, and those cannot vanish. */
    if (ppid != k->parent)
        return 0;
    k->found++;
    /* The child is ours and unreaped, so its pid and group cannot be
     * recycled while we signal them. Each group once a scan: thousands of
     * children often share one, and each kill of it walks all of them. */
    pid_t pgid = getpgid(pid);
    if (pgid > 0 && pgid != k->spare_pgid && !killed_already(&k->groups, pgid)) {
        (void)kill(-pgid, SIGKILL);
        (void)pids_push(&k->groups, pgid); /* no memory: killed again, no harm */
    }
    (void)kill(pid, SIGKILL);
    return 0;
}

int tree_kill_children(pid_t parent, pid_t spare_pgid) {
    killing_t k = {.parent = parent, .spare_pgid = spare_pgid, .found = 0};
    pids_init(&k.groups);
    int rc = each_process(kill_if_child, &k);
    pids_free(&k.groups);
    return rc < 0 ? -1 : k.found;
}

/* What tree_end_all has reaped of the one child it is asked about. */
typedef struct {
    pid_t leader;
    int status, reaped;
} reaping_t;

/* Reaps every child that has ended, without blocking. Returns how many,
 * or -1 with errno; *none_left is set once the caller has no child. */
static int reap_ended(reaping_t *r, int *none_left) {
    int count = 0;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            if (pid == r->leader) {
                r->status = status;
                r->reaped = 1;
            }
            count++;
        } else if (pid == 0) {
            return count;
        } else if (errno == ECHILD) {
            *none_left = 1;
            return count;
        } else if (errno != EINTR) {
            return -1;
        }
    }
}

/* Waits for SIGCHLD (`child`, blocked meanwhile) at most TREE_RESCAN_MS.
 * Returns 1 if it came, 0 if not, -1 with errno. */
static int child_ended_soon(const sigset_t *child) {
    const struct timespec wait = {.tv_sec = 0, .tv_nsec = TREE_RESCAN_MS * 1000000L};
    if (sigtimedwait(child, NULL, &wait) >= 0)
        return 1;
    return errno == EAGAIN ? 0 : errno == EINTR ? 1 : -1;
}

/* Reaps `count` children, or fewer if none ends for TREE_RESCAN_MS: the
 * end of one may wait on a process that is not our child yet (its tracer,
 * reparented to us only when its own parent dies), which the next scan
 * kills. Returns 1 once no child is left, 0 when it is time to scan again,
 * -1 with errno. */
static int reap(reaping_t *r, int count, const sigset_t *child) {
    for (;;) {
        int none_left = 0;
        int reaped = reap_ended(r, &none_left);
        if (reaped < 0)
            return -1;
        if (none_left)
            return 1;
        count -= reaped;
        if (count <= 0)
            return 0;
        if (reaped == 0) {
            int came = child_ended_soon(child);
            if (came <= 0)
                return came;
        }
    }
}

static int end_all(pid_t spare_pgid, reaping_t *r, const sigset_t *child) {
    pid_t self = getpid();
    for (;;) {
        /* Every child is killed before any is waited for: one still
         * running (a tree busy forking) would take the CPU the dying need. */
        int killed = tree_kill_children(self, spare_pgid);
        /* Reap as many as were just killed before scanning again: the
         * children they leave are reparented to us as they die, for the
         * next scan. One scan of /proc per generation of the tree, not per
         * process: a fork bomb leaves thousands. None found (or /proc
         * unreadable for an instant): wait for one to end, and look again. */
        int done = reap(r, killed > 0 ? killed : 1, child);
        if (done != 0)
            return done > 0 ? 0 : -1;
    }
}

int tree_end_all(pid_t spare_pgid, pid_t leader, int *leader_status) {
    /* SIGCHLD blocked while it works: one sent as a child ends is then
     * kept for sigtimedwait, not discarded. */
    sigset_t child, before;
    if (sigemptyset(&child) < 0 || sigaddset(&child, SIGCHLD) < 0 ||
        sigprocmask(SIG_BLOCK, &child, &before) < 0)
        return -1;
    reaping_t r = {.leader = leader, .status = 0, .reaped = 0};
    int rc = end_all(spare_pgid, &r, &child);
    int saved = errno;
    (void)sigprocmask(SIG_SETMASK, &before, NULL);
    errno = saved;
    if (rc < 0)
        return -1;
    if (r.reaped && leader_status)
        *leader_status = r.status;
    return r.reaped;
}

/* Every (pid, parent) pair /proc lists, in two parallel lists. */
typedef struct {
    pids_t all, parents;
} pairs_t;

static int add_pair(pid_t pid, pid_t ppid, void *ctx) {
    pairs_t *pairs = ctx;
    return pids_push(&pairs->all, pid) < 0 || pids_push(&pairs->parents, ppid) < 0 ? -1 : 0;
}

int tree_descendants(pid_t root, pids_t *out) {
    /* One pass over /proc for every (pid, parent) pair, then the closure:
     * a process is in the tree if its parent is. */
    pairs_t pairs;
    pids_init(&pairs.all);
    pids_init(&pairs.parents);
    int rc = each_process(add_pair, &pairs);
    int saved = errno;
    pids_t *all = &pairs.all, *parents = &pairs.parents;
    size_t first = out->len;
    for (int grew = rc == 0; grew && rc == 0;) {
        grew = 0;
        for (size_t i = 0; i < all->len; i++) {
            if (all->items[i] == 0)
                continue; /* taken already */
            int in_tree = parents->items[i] == root;
            for (size_t j = first; !in_tree && j < out->len; j++)
                in_tree = parents->items[i] == out->items[j];
            if (!in_tree)
                continue;
            if (pids_push(out, all->items[i]) < 0) {
                rc = -1;
                saved = errno;
                break;
            }
            all->items[i] = 0;
            grew = 1;
        }
    }
    pids_free(all);
    pids_free(parents);
    errno = saved;
    return rc;
}

int tree_parse_ns_pid(const char *status, size_t len, pid_t *ns_pid) {
    static const char key[] = "\nNSpid:";
    const size_t key_len = sizeof key - 1;
    const char *end = status + len, *line = NULL;
    for (const char *p = status; !line && (size_t)(end - p) >= key_len; p++)
        if (memcmp(p, key, key_len) == 0)
            line = p + key_len;
    if (!line)
        return -1;
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol)
        return -1; /* cut short: the last field may be missing */
    /* Fields separated by tabs; the innermost namespace's comes last. */
    const char *field = eol;
    while (field > line && field[-1] != '\t' && field[-1] != ' ')
        field--;
    pid_t pid = pids_parse(field, (size_t)(eol - field));
    if (pid <= 0)
        return -1;
    *ns_pid = pid;
    return 0;
}

/* 1 if pid's own-namespace pid is ns_pid, 0 if not or it is gone. */
static int has_ns_pid(pid_t pid, pid_t ns_pid) {
    char path[64], text[4096]; /* NSpid comes before the long lines */
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    ssize_t len = fdio_read_file(path, text, sizeof text);
    pid_t found;
    return len > 0 && tree_parse_ns_pid(text, (size_t)len, &found) == 0 && found == ns_pid;
}

pid_t tree_find_ns_pid(pid_t root, pid_t ns_pid) {
    if (has_ns_pid(root, ns_pid))
        return root; /* no namespace of its own: the common case, no scan */
    pids_t tree;
    pids_init(&tree);
    if (tree_descendants(root, &tree) < 0) {
        int saved = errno;
        pids_free(&tree);
        errno = saved;
        return -1;
    }
    pid_t found = 0;
    for (size_t i = 0; !found && i < tree.len; i++)
        if (has_ns_pid(tree.items[i], ns_pid))
            found = tree.items[i];
    pids_free(&tree);
    if (!found)
        errno = ESRCH;
    return found;
}
