#include "helper/cgroup.h"
#include "helper/limits.h"
#include "common/pids.h"
#include "helper/usage.h"

#include "common/syscalls.h"
#include "idle_child.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- pids ---------------------------------------------------------------- */

Test(pids, parses_one_pid_per_line) {
    pids_t l;
    pids_init(&l);
    const char *text = "12\n3456\n\n7\n";
    cr_assert_eq(pids_parse_lines(&l, text, strlen(text)), 0);
    cr_assert_eq(l.len, 3);
    cr_assert_eq(l.items[0], 12);
    cr_assert_eq(l.items[1], 3456);
    cr_assert_eq(l.items[2], 7);
    pids_free(&l);
}

Test(pids, rejects_what_is_not_a_pid) {
    const char *bad[] = {"x\n", "12 \n", "-1\n", "0\n", "99999999999\n", "2147483648\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pids_t l;
        pids_init(&l);
        cr_assert_eq(pids_parse_lines(&l, bad[i], strlen(bad[i])), -1, "accepted %s", bad[i]);
        pids_free(&l);
    }
}

Test(pids, grows_past_its_first_allocation) {
    pids_t l;
    pids_init(&l);
    for (pid_t p = 1; p <= 1000; p++)
        cr_assert_eq(pids_push(&l, p), 0);
    cr_assert_eq(l.len, 1000);
    cr_assert_eq(l.items[999], 1000);
    pids_free(&l);
}

/* ---- usage --------------------------------------------------------------- */

Test(usage, sums_the_four_cpu_times_of_stat) {
    /* pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime cutime cstime ... */
    const char *stat = "42 (a (b) c) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 1";
    int64_t ticks;
    cr_assert_eq(usage_parse_stat_ticks(stat, strlen(stat), &ticks), 0);
    cr_assert_eq(ticks, 310);
}

Test(usage, rejects_malformed_stat) {
    const char *bad[] = {"", "42 (x) S 1 2", "42 x S 1 42 42 0 -1 0 0 0 0 0 1 2 3 4",
                         "42 (x) S 1 42 42 0 -1 0 0 0 0 0 1 2 3 x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ticks;
        cr_assert_eq(usage_parse_stat_ticks(bad[i], strlen(bad[i]), &ticks), -1, "accepted %s",
                     bad[i]);
    }
}

Test(usage, reads_the_resident_pages_of_statm) {
    int64_t pages;
    cr_assert_eq(usage_parse_statm_resident("9000 1234 100 1 0 500 0\n", 24, &pages), 0);
    cr_assert_eq(pages, 1234);
    cr_assert_eq(usage_parse_statm_resident("9000", 4, &pages), -1);
}

Test(usage, measures_this_process) {
    /* Touch 32 MB so the resident set is at least that. */
    size_t size = 32u << 20;
    char *block = malloc(size);
    cr_assert_not_null(block);
    memset(block, 1, size);
    pids_t self;
    pids_init(&self);
    cr_assert_eq(pids_push(&self, getpid()), 0);
    cr_assert_eq(pids_push(&self, 0x7ffffff0), 0); /* no such process: skipped */
    usage_t u;
    usage_sample(&self, &u);
    cr_assert_geq(u.rss_bytes, (int64_t)size);
    cr_assert_geq(u.cpu_us, 0);
    free(block);
    pids_free(&self);
}

/* ---- cgroup files -------------------------------------------------------- */

Test(cgroup, parses_single_and_keyed_values) {
    int64_t v;
    cr_assert_eq(cgroup_parse_value("17\n", 3, NULL, &v), 0);
    cr_assert_eq(v, 17);
    cr_assert_eq(cgroup_parse_value("max\n", 4, NULL, &v), 0);
    cr_assert_eq(v, -1);
    const char *events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
    cr_assert_eq(cgroup_parse_value(events, strlen(events), "oom_kill", &v), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(cgroup_parse_value(events, strlen(events), "oom", &v), 0);
    cr_assert_eq(v, 2, "a key is not matched by a longer one");
    cr_assert_eq(cgroup_parse_value(events, strlen(events), "max", &v), 0);
    cr_assert_eq(v, 12);
    cr_assert_eq(cgroup_parse_value(events, strlen(events), "absent", &v), -1);
    cr_assert_eq(cgroup_parse_value("x\n", 2, NULL, &v), -1);
}

/* mkdir and rmdir treat a plain directory as they treat a cgroup: an empty
 * one can be removed, one with something in it cannot (EBUSY there,
 * ENOTEMPTY here). */
Test(cgroup, takes_the_place_of_an_empty_leftover_of_the_same_pid) {
    char parent[] = "/tmp/sandbox-cgroup-test-XXXXXX";
    cr_assert_not_null(mkdtemp(parent));
    char leftover[128];
    snprintf(leftover, sizeof leftover, "%s/sandbox-run-4242", parent);
    cr_assert_eq(mkdir(leftover, 0755), 0);

    char *path = cgroup_create(parent, 4242);
    cr_assert_not_null(path, "a leftover made the run go without a cgroup");
    cr_assert_str_eq(path, leftover);
    free(path);
    cr_assert_eq(rmdir(leftover), 0);
    cr_assert_eq(rmdir(parent), 0);
}

/* In a plain directory, cgroup.procs is a plain file: what a move writes. */
Test(cgroup, a_move_writes_the_pid_to_cgroup_procs) {
    char dir[] = "/tmp/sandbox-cgroup-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char procs[128];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
    FILE *f = fopen(procs, "we");
    cr_assert_not_null(f);
    cr_assert_eq(fclose(f), 0);

    cr_assert_eq(cgroup_move(dir, 2147483647), 0);
    char text[32] = "";
    f = fopen(procs, "re");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(text, sizeof text, f));
    cr_assert_eq(fclose(f), 0);
    cr_assert_str_eq(text, "2147483647");

    cr_assert_eq(unlink(procs), 0);
    cr_assert_eq(cgroup_move(dir, 1), -1, "a directory that is no cgroup took a pid");
    cr_assert_eq(rmdir(dir), 0);
}

Test(cgroup, never_takes_the_place_of_one_still_in_use) {
    char parent[] = "/tmp/sandbox-cgroup-test-XXXXXX";
    cr_assert_not_null(mkdtemp(parent));
    char in_use[128], inside[160];
    snprintf(in_use, sizeof in_use, "%s/sandbox-run-4243", parent);
    snprintf(inside, sizeof inside, "%s/child", in_use);
    cr_assert_eq(mkdir(in_use, 0755), 0);
    cr_assert_eq(mkdir(inside, 0755), 0);

    cr_assert_null(cgroup_create(parent, 4243));
    cr_assert_eq(access(inside, F_OK), 0);
    cr_assert_eq(rmdir(inside), 0);
    cr_assert_eq(rmdir(in_use), 0);
    cr_assert_eq(rmdir(parent), 0);
}

/* A fresh cgroup in this machine's cgroup2 hierarchy, or NULL where there
 * is none this process may create one in (not root). */
static char *fresh_real_cgroup(void) {
    FILE *mounts = fopen("/proc/self/mountinfo", "re");
    cr_assert_not_null(mounts);
    char line[4096], mount[1024] = "";
    while (!mount[0] && fgets(line, sizeof line, mounts)) {
        char point[1024];
        const char *type = strstr(line, " - cgroup2 ");
        if (type && sscanf(line, "%*s %*s %*s %*s %1023s", point) == 1)
            strcpy(mount, point);
    }
    fclose(mounts);
    char *path = malloc(1100);
    cr_assert_not_null(path);
    snprintf(path, 1100, "%s/sandbox-fork-test-%ld", mount, (long)getpid());
    if (!mount[0] || mkdir(path, 0755) < 0) {
        free(path);
        return NULL;
    }
    return path;
}

/* Whether clone3 can fork into the cgroup here: Linux 5.7+, and not under
 * valgrind, which runs no clone3. */
static int forks_into(const char *cgroup) {
    int dir = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dir, 0);
    pid_t probe = sys_clone3_into_cgroup(dir);
    if (probe == 0)
        _exit(0);
    close(dir);
    if (probe < 0)
        return 0;
    cr_assert_eq(waitpid(probe, NULL, 0), probe);
    return 1;
}

/* Born in it where the kernel can, not moved there: the child's first
 * look at its cgroup. */
Test(cgroup, a_child_is_born_in_its_cgroup) {
    int born = -1;
    pid_t plain = cgroup_fork(NULL, &born);
    if (plain == 0)
        _exit(0);
    cr_assert_gt(plain, 0);
    cr_assert_eq(born, 0);
    cr_assert_eq(waitpid(plain, NULL, 0), plain);

    char *cgroup = fresh_real_cgroup();
    if (!cgroup)
        cr_skip_test("needs a cgroup2 hierarchy this process may create cgroups in (root)");
    int can = forks_into(cgroup);
    int report[2];
    cr_assert_eq(pipe(report), 0);
    pid_t child = cgroup_fork(cgroup, &born);
    if (child == 0) {
        char text[4096] = "";
        FILE *own = fopen("/proc/self/cgroup", "re");
        size_t len = own ? fread(text, 1, sizeof text - 1, own) : 0;
        text[len] = '\0';
        char verdict = strstr(text, strrchr(cgroup, '/')) ? 'y' : 'n';
        _exit(write(report[1], &verdict, 1) == 1 ? 0 : 1);
    }
    cr_assert_gt(child, 0);
    char verdict = 0;
    cr_assert_eq(read(report[0], &verdict, 1), 1);
    cr_assert_eq(waitpid(child, NULL, 0), child);
    close(report[0]);
    close(report[1]);
    cr_assert_eq(rmdir(cgroup), 0);
    free(cgroup);
    cr_assert_eq(born, can, "born inside: %d, where the kernel can: %d", born, can);
    cr_assert_eq(verdict, can ? 'y' : 'n', "in its cgroup from birth: %c", verdict);
}

/* ---- the limiter, against a directory that looks like a cgroup ------------ */

static char fake[64];

static void put(const char *name, const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", fake, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void get(const char *name, char *out, size_t cap) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", fake, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void make_fake_cgroup(void) {
    strcpy(fake, "/tmp/sandbox-fake-cgroup-XXXXXX");
    cr_assert_not_null(mkdtemp(fake));
    char procs[32];
    snprintf(procs, sizeof procs, "%d\n", (int)getpid());
    put("cgroup.procs", procs);
    put("cpu.stat", "usage_usec 5000000\nuser_usec 4000000\nsystem_usec 1000000\n");
    put("memory.max", "max\n");
    put("memory.swap.max", "max\n");
    put("memory.oom.group", "0\n");
    put("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    put("pids.max", "max\n");
    put("pids.current", "23\n");
    put("pids.events", "max 0\n");
}

static void remove_fake_cgroup(void) {
    char command[96];
    snprintf(command, sizeof command, "rm -rf %s", fake);
    cr_assert_eq(system(command), 0);
}

Test(limits, takes_the_controllers_a_cgroup_has) {
    make_fake_cgroup();
    limiter_t l;
    limiter_init(&l, fake, getpid());
    limits_t want = {.memory_bytes = 1 << 30, .cpu_ms = 2000, .processes = 5, .file_bytes = -1};
    cr_assert_eq(limiter_apply(&l, &want), 0);
    cr_assert_eq(l.memory, MECHANISM_CGROUP);
    cr_assert_eq(l.cpu, MECHANISM_CGROUP);
    cr_assert_eq(l.processes, MECHANISM_CGROUP);
    cr_assert_eq(l.file_size, MECHANISM_NONE);
    char text[64];
    get("memory.max", text, sizeof text);
    cr_assert_str_eq(text, "1073741824");
    get("memory.swap.max", text, sizeof text);
    cr_assert_str_eq(text, "0");
    get("memory.oom.group", text, sizeof text);
    cr_assert_str_eq(text, "1");
    get("pids.max", text, sizeof text);
    cr_assert_str_eq(text, "28", "the peer's own 23 tasks, then 5 more");
    cr_assert_eq(limiter_check(&l), 0);

    put("cpu.stat", "usage_usec 7000001\n");
    cr_assert_eq(limiter_check(&l), LIMIT_CPU, "2 s of CPU after the limits were applied");
    put("cpu.stat", "usage_usec 5000000\n");
    put("pids.events", "max 3\n");
    cr_assert_eq(limiter_check(&l), LIMIT_PROCESSES);
    put("memory.events", "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n");
    cr_assert_eq(limiter_check(&l), LIMIT_MEMORY, "an out-of-memory kill comes first");
    limiter_free(&l);
    remove_fake_cgroup();
}

Test(limits, samples_what_no_controller_enforces) {
    make_fake_cgroup();
    char path[128];
    snprintf(path, sizeof path, "%s/memory.max", fake);
    cr_assert_eq(unlink(path), 0);
    snprintf(path, sizeof path, "%s/pids.max", fake);
    cr_assert_eq(unlink(path), 0);
    limiter_t l;
    limiter_init(&l, fake, getpid());
    /* The members (this process) use more than 1 kB of memory. */
    limits_t want = {.memory_bytes = 1024, .cpu_ms = -1, .processes = 0, .file_bytes = -1};
    cr_assert_eq(limiter_apply(&l, &want), 0);
    cr_assert_eq(l.memory, MECHANISM_SAMPLING);
    cr_assert_eq(l.processes, MECHANISM_SAMPLING);
    cr_assert_eq(l.cpu, MECHANISM_NONE);
    cr_assert_eq(limiter_check(&l), LIMIT_MEMORY);

    l.limits.memory_bytes = INT64_C(1) << 50;
    cr_assert_eq(limiter_check(&l), 0, "one member, as many as when applied");
    char procs[64];
    snprintf(procs, sizeof procs, "%d\n%d\n", (int)getpid(), (int)getppid());
    put("cgroup.procs", procs);
    cr_assert_eq(limiter_check(&l), LIMIT_PROCESSES, "one more than allowed");
    limiter_free(&l);
    remove_fake_cgroup();
}

Test(limits, sets_the_file_size_rlimit_of_every_member) {
    pid_t child = fork_idle_child();
    limiter_t l;
    limiter_init(&l, NULL, getpid()); /* no cgroup: the tree is this one's children */
    limits_t want = {.memory_bytes = -1, .cpu_ms = 60000, .processes = -1, .file_bytes = 4096};
    cr_assert_eq(limiter_apply(&l, &want), 0);
    cr_assert_eq(l.file_size, MECHANISM_RLIMIT);
    cr_assert_eq(l.cpu, MECHANISM_SAMPLING);
    struct rlimit got;
    cr_assert_eq(prlimit(child, RLIMIT_FSIZE, NULL, &got), 0);
    cr_assert_eq(got.rlim_cur, 4096);
    cr_assert_eq(got.rlim_max, 4096);
    cr_assert_eq(limiter_check(&l), 0);
    limiter_free(&l);
    kill(child, SIGKILL);
    cr_assert_eq(waitpid(child, NULL, 0), child);
}
