/* libFuzzer: the helper's status lines, split as the input chooses. Every
 * message parsed must survive a format/parse round trip unchanged. */
#include "common/status.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    status_reader_t r;
    status_reader_init(&r);
    size_t offset = 0;
    while (offset < size) {
        size_t used;
        status_msg_t m;
        int got = status_feed(&r, (const char *)data + offset, size - offset, &used, &m);
        if (used > size - offset)
            abort();
        offset += used;
        if (got < 0 || got == 0)
            break;
        char line[STATUS_LINE_MAX];
        size_t n = status_format(&m, line, sizeof line);
        status_msg_t back;
        if (n == 0 || status_parse(line, n - 1, &back) < 0 || back.kind != m.kind ||
            back.a != m.a || back.b != m.b || back.c != m.c || back.d != m.d)
            abort();
    }
    return 0;
}
