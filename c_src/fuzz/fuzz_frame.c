/* libFuzzer: the frame decoder fed what a hostile peer may send, in chunks
 * of sizes the input chooses. Every frame handed out must be within the
 * limit, and the decoder's memory must follow what has arrived (at most
 * twice it, or the first small block), never the announced length. */
#include "nif/frame.h"

#include <stdint.h>
#include <stdlib.h>

#define MAX_FRAME (1u << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    frame_reader_t r;
    frame_reader_init(&r, MAX_FRAME);
    size_t offset = 0;
    while (offset < size) {
        size_t n = size - offset < chunk ? size - offset : chunk;
        size_t used;
        frame_status_t st = frame_feed(&r, data + offset, n, &used);
        if (used > n)
            abort();
        offset += used;
        if (r.cap > r.length || (r.cap > 256 && r.cap > 2 * r.have))
            abort(); /* allocated for bytes that have not arrived */
        if (st == FRAME_TOO_LARGE || st == FRAME_NO_MEMORY)
            break;
        if (st == FRAME_READY) {
            size_t len;
            uint8_t *payload = frame_take(&r, &len);
            if (len > MAX_FRAME || (len > 0 && !payload))
                abort();
            free(payload);
        } else if (used < n) {
            abort(); /* NEED_MORE must consume everything */
        }
    }
    frame_reader_free(&r);
    return 0;
}
