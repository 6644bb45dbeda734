/* tracer (tests only): becomes the tracer of a process, then never waits
 * for it. While it lives, the process's exit is reported to it, not to the
 * process's parent: a run's VM traced this way is not reaped by its helper
 * until the tracer itself is gone.
 *
 *   usage: tracer PID
 *
 * Prints "tracing" once attached, then sleeps until killed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char *end = NULL;
    long pid = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (pid <= 0 || !end || *end != '\0') {
        fprintf(stderr, "usage: tracer PID\n");
        return 2;
    }
    /* Seized, not attached: the tracee is not stopped. */
    if (ptrace(PTRACE_SEIZE, (pid_t)pid, NULL, NULL) < 0) {
        perror("tracer: ptrace");
        return 2;
    }
    if (printf("tracing\n") < 0 || fflush(stdout) != 0)
        return 2;
    for (;;)
        pause();
}
