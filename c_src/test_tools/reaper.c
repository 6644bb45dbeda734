/* reaper (tests only): runs a command as a child subreaper and reaps every
 * process orphaned below it until none is left, then exits with the
 * command's status. It stands in for an init that reaps orphans, which PID 1
 * on the test machines does not.
 *
 *   usage: reaper [--kill-leftovers] command [args...]
 *
 * By default it never kills anything. With --kill-leftovers, whatever is
 * still below it once the command has exited is SIGKILLed (each orphan and
 * its process group): the mutant runner wraps each test run in it, so a
 * mutant that breaks the tree kill leaves nothing on the machine. */
#include "helper/tree.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int kill_leftovers = argc > 1 && strcmp(argv[1], "--kill-leftovers") == 0;
    char **command_argv = argv + 1 + kill_leftovers;
    if (argc < 2 + kill_leftovers) {
        fprintf(stderr, "usage: reaper [--kill-leftovers] command [args...]\n");
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        perror("reaper: prctl");
        return 2;
    }
    pid_t command = fork();
    if (command < 0) {
        perror("reaper: fork");
        return 2;
    }
    if (command == 0) {
        execvp(command_argv[0], command_argv);
        perror("reaper: exec");
        _exit(127);
    }
    int result = 0;
    for (;;) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            return result; /* ECHILD: everything below us is reaped */
        if (pid == command) {
            result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
    }
    /* Our own group is the caller's (make, a shell): never signalled. */
    if (kill_leftovers && tree_end_all(getpgrp(), 0, NULL) < 0)
        perror("reaper");
    while (wait(NULL) > 0 || errno == EINTR) {
    }
    return result;
}
