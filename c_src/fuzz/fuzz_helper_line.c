/* libFuzzer: the helper's lines, split as the input chooses. Every
 * message parsed must survive a format/parse round trip unchanged. */
#include "common/helper_line.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    helper_line_reader_t r;
    helper_line_reader_init(&r);
    size_t offset = 0;
    while (offset < size) {
        size_t used;
        helper_line_t m;
        int got = helper_line_feed(&r, (const char *)data + offset, size - offset, &used, &m);
        if (used > size - offset)
            abort();
        offset += used;
        if (got < 0 || got == 0)
            break;
        char line[HELPER_LINE_MAX];
        size_t n = helper_line_format(&m, line, sizeof line);
        helper_line_t back;
        if (n == 0 || helper_line_parse(line, n - 1, &back) < 0 || back.kind != m.kind ||
            back.a != m.a || back.b != m.b || back.c != m.c || back.d != m.d)
            abort();
    }
    return 0;
}
