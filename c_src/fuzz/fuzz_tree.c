/* libFuzzer: text the helper reads from /proc and cgroup files, whatever a
 * process names itself: stat, statm, cgroup.procs and keyed values. */
#include "helper/cgroup.h"
#include "common/pids.h"
#include "helper/tree.h"
#include "helper/usage.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    pid_t ppid = -1;
    if (tree_parse_ppid(text, size, &ppid) == 0 && ppid < 0)
        abort();
    int64_t value = -1;
    if (usage_parse_stat_ticks(text, size, &value) == 0 && value < 0)
        abort();
    if (usage_parse_statm_resident(text, size, &value) == 0 && value < 0)
        abort();
    if (cgroup_parse_value(text, size, "oom_kill", &value) == 0 && value < -1)
        abort();
    pids_t pids;
    pids_init(&pids);
    if (pids_parse_lines(&pids, text, size) == 0)
        for (size_t i = 0; i < pids.len; i++)
            if (pids.items[i] <= 0)
                abort();
    pids_free(&pids);
    return 0;
}
