/* reaper (tests only): runs a command as a child subreaper and reaps every
 * process orphaned below it until none is left, then exits with the
 * command's status. It stands in for an init that reaps orphans, which PID 1
 * on the test machines does not; it never kills anything. */
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: reaper command [args...]\n");
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
        execvp(argv[1], argv + 1);
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
            break; /* ECHILD: everything below us is reaped */
        if (pid == command)
            result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return result;
}
