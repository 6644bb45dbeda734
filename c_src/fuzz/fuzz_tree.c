/* libFuzzer: /proc/<pid>/stat text, whatever a process names itself. */
#include "tree.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pid_t ppid = -1;
    if (tree_parse_ppid((const char *)data, size, &ppid) == 0 && ppid < 0)
        abort();
    return 0;
}
