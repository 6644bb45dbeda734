/* The helper's child becoming the VM (see vm.c). */
#ifndef SANDBOX_VM_H
#define SANDBOX_VM_H

#include "args.h"

#include <sys/types.h>

/* In the forked child: become the VM. Never returns. Before anything else
 * can run, it moves into the run's cgroup (if any, and unless it was born
 * in it) and tells the helper over `entered` whether it is in it ('c' or
 * 's'). */
_Noreturn void vm_exec(pid_t helper, const char *cgroup, int born_inside, int entered,
                       const helper_args_t *args);

#endif
