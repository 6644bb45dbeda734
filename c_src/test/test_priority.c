#include "helper/priority.h"

#include "idle_child.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void *sleep_forever(void *unused) {
    (void)unused;
    for (;;)
        pause();
    return NULL;
}

/* A child with two threads under SCHED_IDLE, as a VM boots; it says so on
 * `ready` once both exist. */
static pid_t fork_idle_vm(void) {
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        struct sched_param none = {0};
        pthread_t thread;
        if (sched_setscheduler(0, SCHED_IDLE, &none) < 0 ||
            pthread_create(&thread, NULL, sleep_forever, NULL) != 0 || write(ready[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char byte;
    cr_assert_eq(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    close(ready[1]);
    return child;
}

static void end(pid_t child) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

Test(priority, lifts_every_thread_to_sched_other_at_nice_19) {
    pid_t vm = fork_idle_vm();
    cr_assert_eq(sched_getscheduler(vm), SCHED_IDLE);
    int rc = priority_lift_booted(vm);
    int lift_errno = errno;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)vm);
    int threads = 0, lifted = 0;
    DIR *tasks = opendir(path);
    cr_assert_not_null(tasks);
    for (struct dirent *e; (e = readdir(tasks));) {
        if (e->d_name[0] == '.')
            continue;
        pid_t tid = (pid_t)atoi(e->d_name);
        threads++;
        errno = 0;
        int nice = getpriority(PRIO_PROCESS, (id_t)tid);
        lifted += sched_getscheduler(tid) == SCHED_OTHER && nice == 19 && errno == 0;
    }
    closedir(tasks);
    end(vm);
    if (geteuid() != 0) {
        /* RLIMIT_NICE 0 bars the way out of SCHED_IDLE without CAP_SYS_NICE. */
        cr_assert_eq(rc, -1);
        cr_assert_eq(lift_errno, EPERM);
        return;
    }
    cr_assert_eq(rc, 0, "errno %d", lift_errno);
    cr_assert_eq(threads, 2);
    cr_assert_eq(lifted, 2);
}

Test(priority, a_process_that_is_gone_fails) {
    pid_t vm = fork_idle_child();
    end(vm);
    cr_assert_eq(priority_lift_booted(vm), -1);
    cr_assert_eq(errno, ENOENT);
}
