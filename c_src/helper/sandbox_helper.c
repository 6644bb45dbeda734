/* sandbox_helper: owns one peer VM and everything it starts.
 *
 * The host BEAM ignores SIGCHLD, so it can neither learn how a child ended
 * nor reap the orphans a run leaves behind. This small process can: it is a
 * child subreaper, forks the peer into a process group of its own, reaps
 * every descendant, and kills the whole tree when told to (EOF or "kill"
 * on its orders pipe), when the peer ends, or when the host dies. Told the
 * run's limits ("limits" on the orders pipe), it puts them in force and
 * kills the tree when one is crossed (see limits.h). Told the peer has
 * booted ("booted <pid>", the VM's pid as its own pid namespace has it),
 * it finds the VM in its tree and lifts it out of SCHED_IDLE (see
 * priority.c); a strict run's helper keeps CAP_SYS_NICE for that alone.
 *
 * Where it is given a cgroup v2 directory it may create children in, the
 * peer runs in a cgroup of its own, killed in one write to cgroup.kill
 * before the rest (process group, orphans) is done all the same.
 *
 *   usage: see args.h
 *
 * --no-network: the peer gets a network namespace of its own, with nothing
 * in it (not even a loopback that is up), inside a user namespace of its
 * own where the helper lacks CAP_SYS_ADMIN (netns.h); if the kernel refuses
 * both, the helper fails (stage STAGE_NETWORK) rather than run the peer
 * with a network.
 *
 * File descriptors on entry, as the NIF sets them up: see protocol.h. The
 * peer gets SANDBOX_FD_NULL to SANDBOX_FD_REPLY, and the page where it
 * counts what it printed unwritten at SANDBOX_FD_GUEST_UNWRITTEN; the
 * orders and notices pipes are the helper's own. */
#include "args.h"
#include "cgroup.h"
#include "common/fdio.h"
#include "limits.h"
#include "netns.h"
#include "priority.h"
#include "common/helper_line.h"
#include "common/syscalls.h"
#include "tree.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t peer;      /* 0 until forked */
    int peer_reaped; /* its pid (and so its group id) may now be reused */
    int signal_fd;
    char *cgroup;      /* the run's cgroup, or NULL */
    int in_idle_group; /* the peer was moved into the host's idle CPU cgroup */
    helper_line_reader_t orders;
    limiter_t limiter;
    int64_t next_sample_ms;
} helper_t;

/* One or two reports in one write(2): under PIPE_BUF, so the host reads
 * them together, in this order. The host may be gone (EPIPE): the tree is
 * killed all the same. */
static void report_together(const helper_line_t *messages, size_t count) {
    char lines[2 * HELPER_LINE_MAX];
    size_t used = 0;
    for (size_t i = 0; i < count && i < 2; i++)
        used += helper_line_format(&messages[i], lines + used, sizeof lines - used);
    if (used > 0)
        (void)fdio_write_all(SANDBOX_FD_NOTICES, lines, used);
}

static void report(helper_line_kind_t kind, int64_t a, int64_t b, int64_t c) {
    helper_line_t m = {.kind = kind, .a = a, .b = b, .c = c};
    report_together(&m, 1);
}

static int64_t monotonic_ms(void) {
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
        return 0;
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void fail(helper_stage_t stage) {
    report(NOTICE_FAIL, stage, errno, 0);
    exit(1);
}

/* fail() once there may be a tree and a cgroup: neither outlives the
 * helper, however it ends. Best effort: the host hears of the failure
 * whatever happens here. */
static void fail_run(helper_t *h, helper_stage_t stage) {
    report(NOTICE_FAIL, stage, errno, 0);
    if (h->cgroup && cgroup_kill(h->cgroup) < 0 && errno == ENOENT)
        h->cgroup = NULL; /* nothing left to remove */
    if (h->peer > 0 && !h->peer_reaped)
        (void)kill(-h->peer, SIGKILL);
    (void)tree_end_all(getpgrp(), 0, NULL);
    if (h->cgroup)
        (void)cgroup_remove(h->cgroup);
    exit(1);
}

static void close_inherited_fds(void) {
    if (sys_close_range(SANDBOX_FD_FIRST_FREE, ~0U) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = SANDBOX_FD_FIRST_FREE; fd < (max > 0 ? max : 1024); fd++)
        fdio_close((int)fd);
}

static int watched_signals(sigset_t *set) {
    if (sigemptyset(set) < 0)
        return -1;
    const int signals[] = {SIGCHLD, SIGTERM, SIGHUP, SIGINT, SIGQUIT};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (sigaddset(set, signals[i]) < 0)
            return -1;
    return 0;
}

/* Measures the tree now and reports a limit crossed, after `first` (if
 * any) in the same write. Returns 1 once a limit is crossed. */
static int sample_now(helper_t *h, const helper_line_t *first, int64_t now) {
    h->next_sample_ms = now + LIMITS_SAMPLE_MS;
    helper_line_t said[2];
    size_t count = 0;
    if (first)
        said[count++] = *first;
    int crossed = limiter_check(&h->limiter);
    if (crossed)
        said[count++] = (helper_line_t){.kind = NOTICE_BREACH, .a = crossed};
    report_together(said, count);
    return crossed != 0;
}

/* The peer ended or was killed: report how, once. An out-of-memory kill
 * by the cgroup is told first, so the host knows why. */
static void peer_ended(helper_t *h, int wait_status) {
    (void)sample_now(h, NULL, monotonic_ms());
    report(NOTICE_EXIT, wait_status, 0, 0);
    h->peer_reaped = 1;
}

/* Kills the peer's whole process group, then reaps the peer. */
static void reap_peer(helper_t *h) {
    int wait_status;
    if (tree_kill_group(h->peer, &wait_status) < 0)
        fail_run(h, STAGE_SETUP);
    peer_ended(h, wait_status);
}

/* Reaps whatever has ended without blocking. Returns 1 once the peer has. */
static int reap_ended(helper_t *h) {
    for (;;) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        /* WNOWAIT: look before reaping, so the peer's group can be killed
         * while its id still cannot be recycled. */
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECHILD)
                return h->peer_reaped;
            fail_run(h, STAGE_SETUP);
        }
        if (info.si_pid == 0)
            return h->peer_reaped;
        if (info.si_pid == h->peer) {
            reap_peer(h);
        } else {
            while (waitpid(info.si_pid, NULL, 0) < 0 && errno == EINTR) {
            }
        }
    }
}

/* What the whole tree used, now that all of it is reaped: the CPU and
 * peak memory of the children the helper reaped, with what they reaped.
 * What that cannot see (the processes a strict run's PID namespace reaped
 * itself), the cgroup's CPU counter and the limiter's samples can. */
static void report_usage(const helper_t *h) {
    struct rusage usage;
    if (getrusage(RUSAGE_CHILDREN, &usage) < 0)
        memset(&usage, 0, sizeof usage);
    int64_t user_us = (int64_t)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec;
    int64_t system_us = (int64_t)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec;
    int64_t cgroup_us, max_rss_kb = usage.ru_maxrss;
    if (h->cgroup && cgroup_read_value(h->cgroup, "cpu.stat", "usage_usec", &cgroup_us) == 0 &&
        cgroup_us > user_us + system_us) {
        user_us = cgroup_us;
        system_us = 0;
    }
    if (h->limiter.peak_rss_bytes / 1024 > max_rss_kb)
        max_rss_kb = h->limiter.peak_rss_bytes / 1024;
    report(NOTICE_DONE, user_us, system_us, max_rss_kb);
}

/* Kills everything that is left and reaps it all, then reports the
 * resources the whole tree used and exits. */
static void finish(helper_t *h) {
    /* One write kills the whole cgroup; what follows then finds the dead. */
    if (h->cgroup)
        (void)cgroup_kill(h->cgroup);
    /* The peer, its group and the orphans reparented to us (setsid escapes
     * among them) are all killed before any is waited for: while the peer
     * died, a tree busy forking held the CPU it needed (seconds on a
     * loaded machine), and a tracer of the peer, not killed yet, kept it
     * from us for good. */
    int peer_status;
    int peer_reaped = tree_end_all(getpgrp(), h->peer_reaped ? 0 : h->peer, &peer_status);
    if (peer_reaped < 0)
        fail_run(h, STAGE_SETUP);
    if (peer_reaped)
        peer_ended(h, peer_status);
    report_usage(h);
    limiter_free(&h->limiter);
    if (h->cgroup)
        (void)cgroup_remove(h->cgroup);
    exit(0);
}

/* Returns 1 if a signal means the run is over. */
static int handle_signals(helper_t *h) {
    struct signalfd_siginfo infos[8];
    ssize_t n = fdio_read(h->signal_fd, infos, sizeof infos);
    if (n < 0 && errno == EAGAIN)
        return 0;
    if (n < 0)
        fail_run(h, STAGE_SETUP);
    int over = 0;
    for (size_t i = 0; i < (size_t)n / sizeof infos[0]; i++)
        over |= infos[i].ssi_signo != SIGCHLD; /* host death, or told to stop */
    return over | reap_ended(h);
}

/* Measures the tree if it is time. Returns 1 once a limit is crossed. */
static int check_limits(helper_t *h) {
    int64_t now = monotonic_ms();
    if (!h->limiter.active || now < h->next_sample_ms)
        return 0;
    return sample_now(h, NULL, now);
}

/* Puts the run's limits in force and says how, or fails. Returns 1 if the
 * run must end. */
static int enforce(helper_t *h, const helper_line_t *order) {
    limits_t limits;
    limits_from_message(order, &limits);
    if (limiter_apply(&h->limiter, &limits) < 0) {
        report(NOTICE_FAIL, STAGE_LIMITS, errno, 0);
        return 1;
    }
    /* A limit the peer is already over (the VM alone takes tens of MB)
     * ends the run now, as a cgroup's memory.max would. The host sends the
     * request on "enforced": the verdict goes in the same write, so a run
     * quicker than this check cannot end before it. */
    helper_line_t enforced;
    limiter_report(&h->limiter, &enforced);
    return sample_now(h, &enforced, monotonic_ms());
}

/* Returns 1 on EOF, a kill order, or an order it cannot understand. */
static int handle_orders(helper_t *h) {
    char orders[256];
    ssize_t n = fdio_read(SANDBOX_FD_ORDERS, orders, sizeof orders);
    if (n <= 0)
        return 1;
    size_t offset = 0;
    while (offset < (size_t)n) {
        size_t used;
        helper_line_t order;
        int got = helper_line_feed(&h->orders, orders + offset, (size_t)n - offset, &used, &order);
        offset += used;
        if (got < 0)
            return 1;
        if (got == 0)
            break;
        if (order.kind == ORDER_BOOTED) {
            /* Only where the idle group keeps the VM below the host
             * without SCHED_IDLE. Best effort: a VM left under SCHED_IDLE
             * still runs, only later after waking. */
            if (h->in_idle_group && order.a > 0 && order.a <= INT32_MAX) {
                /* The peer itself, or in a strict box the VM the box
                 * started, which reported its pid as its namespace has it. */
                pid_t vm = tree_find_ns_pid(h->peer, (pid_t)order.a);
                if (vm > 0)
                    (void)priority_lift_booted(vm);
            }
            continue;
        }
        if (order.kind != ORDER_LIMITS || enforce(h, &order))
            return 1;
    }
    return 0;
}

/* SIGTERM, not SIGKILL: on host death the helper must live long enough
 * to kill the tree. The check after it closes the race where the host
 * died before the signal was armed. Returns 1 if it did. */
static int arm_parent_death(pid_t host) {
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
        fail(STAGE_SETUP);
    return getppid() != host;
}

/* A root host's strict run: once the VM is forked (it entered its cgroup
 * as root), the helper gives up root as well. Killing, measuring and
 * limiting the box's processes then work as their owner's, which needs no
 * capability; lifting the booted VM out of SCHED_IDLE needs CAP_SYS_NICE,
 * the one it keeps. Returns 1 if the host died meanwhile. */
static int become_user(helper_t *h, const helper_args_t *args) {
    /* Keeping CAP_SYS_NICE is worth it only where the VM will be lifted
     * (see handle_orders); failing to keep it only leaves the VM idle. */
    int keep_nice = h->in_idle_group && priority_keep_nice_before_setuid() == 0;
    if (setgroups(0, NULL) < 0 || setgid(args->gid) < 0 || setuid(args->uid) < 0)
        fail_run(h, STAGE_SETUP);
    if (keep_nice && priority_keep_nice_after_setuid() < 0 && errno != EPERM)
        fail_run(h, STAGE_SETUP);
    /* A change of identity disarms the parent-death signal. */
    return arm_parent_death(args->host);
}

int main(int argc, char **argv) {
    helper_args_t args;
    if (helper_args_parse(argc, argv, &args) < 0)
        return 2;
    helper_t h = {0};
    helper_line_reader_init(&h.orders);

    close_inherited_fds();
    if (fdio_set_cloexec(SANDBOX_FD_ORDERS) < 0 || fdio_set_cloexec(SANDBOX_FD_NOTICES) < 0 ||
        fdio_set_cloexec(SANDBOX_FD_UNWRITTEN) < 0)
        return 2;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        fail(STAGE_SETUP);

    sigset_t watched;
    if (watched_signals(&watched) < 0 || sigprocmask(SIG_BLOCK, &watched, NULL) < 0)
        fail(STAGE_SETUP);
    h.signal_fd = signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK);
    if (h.signal_fd < 0)
        fail(STAGE_SETUP);
    if (arm_parent_death(args.host))
        return 1;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        fail(STAGE_SETUP);

    /* The helper joins the new namespace too: it needs no network, and the
     * peer forked next is born in it. Without CAP_SYS_ADMIN both are in a
     * user namespace of their own too, which maps this user onto itself:
     * killing, limits and cgroup files still work on the same uid. */
    if (args.no_network) {
        int kind = netns_isolate();
        if (kind < 0)
            fail(STAGE_NETWORK);
        report(NOTICE_NETWORK, kind, 0, 0);
    }

    pid_t self = getpid();
    h.cgroup = args.cgroup_parent
                   ? cgroup_for_run(args.cgroup_parent, self, args.drop, args.uid, args.gid)
                   : NULL;
    int entered[2];
    if (pipe2(entered, O_CLOEXEC) < 0)
        fail_run(&h, STAGE_SETUP);
    int born_inside;
    h.peer = cgroup_fork(h.cgroup, &born_inside);
    if (h.peer < 0)
        fail_run(&h, STAGE_FORK);
    if (h.peer == 0)
        vm_exec(self, h.cgroup, born_inside, entered[1], &args);
    /* Also from this side, so a kill of the group cannot race the child's
     * own setpgid. EACCES: it has already exec'd, after its own setpgid. */
    if (setpgid(h.peer, h.peer) < 0 && errno != EACCES && errno != ESRCH)
        fail_run(&h, STAGE_SETUP);

    char in_cgroup = 's';
    if (close(entered[1]) < 0 || fdio_read(entered[0], &in_cgroup, 1) < 0 || close(entered[0]) < 0)
        fail_run(&h, STAGE_SETUP);
    if (in_cgroup != 'c' && h.cgroup) {
        (void)cgroup_remove(h.cgroup);
        free(h.cgroup);
        h.cgroup = NULL;
    }
    /* Moved from here rather than by the child itself: the first move
     * into a cgroup after a quiet while waits for an RCU grace period
     * (16 ms measured), which the VM's boot goes on without. Before any
     * change of identity: the group is the host user's. Best effort: a
     * group removed or refused leaves the VM under SCHED_IDLE alone. */
    h.in_idle_group = args.idle && args.idle_group && cgroup_move(args.idle_group, h.peer) == 0;
    limiter_init(&h.limiter, h.cgroup, self);
    if (args.drop && become_user(&h, &args))
        finish(&h);

    /* The output and channel pipes are the peer's: holding them here would
     * keep the host from ever seeing EOF. */
    if (dup2(SANDBOX_FD_NULL, STDOUT_FILENO) < 0 || dup2(SANDBOX_FD_NULL, STDERR_FILENO) < 0 ||
        close(SANDBOX_FD_REQUEST) < 0 || close(SANDBOX_FD_REPLY) < 0)
        fail_run(&h, STAGE_SETUP);

    for (;;) {
        struct pollfd fds[2] = {{.fd = h.signal_fd, .events = POLLIN},
                                {.fd = SANDBOX_FD_ORDERS, .events = POLLIN}};
        if (poll(fds, 2, h.limiter.active ? LIMITS_SAMPLE_MS : -1) < 0) {
            if (errno == EINTR)
                continue;
            fail_run(&h, STAGE_SETUP);
        }
        int over = 0;
        if (fds[0].revents)
            over |= handle_signals(&h);
        if (fds[1].revents)
            over |= handle_orders(&h);
        if (!over)
            over |= check_limits(&h);
        if (over)
            finish(&h);
    }
}
