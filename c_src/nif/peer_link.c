/* The frame channels with the peer ({packet, 4}, tags in protocol.h): its
 * frames in, as events; the request and the capture-begun frame out. */
#include "run.h"

#include "common/fdio.h"
#include "common/pids.h"
#include "common/protocol.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/uio.h>

/* Reads per readiness event, so one flooding run cannot starve the rest. */
#define READS_PER_EVENT 16

/* Turns one frame into its event. Returns -1 if it breaks the protocol. */
static int handle_frame(run_t *r, const uint8_t *frame, size_t len, int64_t now) {
    if (len == 0)
        return -1;
    run_event_kind_t kind;
    switch (frame[0]) {
    case SANDBOX_TAG_BOOTED:
        /* The OS pid: 1 to 10 decimal digits, at most INT32_MAX. */
        r->os_pid = (int)pids_parse((const char *)frame + 1, len - 1);
        if (r->os_pid == 0)
            return -1;
        helper_link_send_booted(r);
        kind = EV_BOOTED;
        break;
    case SANDBOX_TAG_STARTED:
    case SANDBOX_TAG_CAPTURING:
        if (len != 1)
            return -1;
        kind = frame[0] == SANDBOX_TAG_STARTED ? EV_STARTED : EV_CAPTURING;
        break;
    case SANDBOX_TAG_RESULT:
        r->result = frame;
        r->result_len = len;
        kind = EV_RESULT;
        break;
    default:
        return -1;
    }
    /* The peer flushed its output before 'C' (the setup's, to be dropped)
     * and 'R' (the code's, all of it); what it printed before 'B' is its
     * boot's, dropped by an early capture that begins there. */
    if (kind == EV_BOOTED || kind == EV_CAPTURING || kind == EV_RESULT)
        capture_drain(r, now);
    int rc = run_event(r, kind, 0, 0, now);
    r->result = NULL;
    return rc;
}

void peer_link_read(run_t *r, int64_t now) {
    const scratch_t *s = r->scratch;
    for (int i = 0; i < READS_PER_EVENT && r->fds.reply >= 0; i++) {
        ssize_t n = fdio_read(r->fds.reply, s->read, s->len);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            run_event(r, EV_PEER_LOST, 0, 0, now);
            return;
        }
        size_t offset = 0;
        while (offset < (size_t)n && r->fds.reply >= 0) {
            size_t used;
            frame_status_t st = frame_feed(&r->frames, s->read + offset, (size_t)n - offset, &used);
            offset += used;
            if (st == FRAME_NEED_MORE)
                break;
            if (st != FRAME_READY) {
                run_event(r, EV_PEER_BROKE, 0, 0, now); /* too large, or no memory for it */
                break;
            }
            size_t frame_len;
            uint8_t *frame = frame_take(&r->frames, &frame_len);
            if (handle_frame(r, frame, frame_len, now) < 0)
                run_event(r, EV_PEER_BROKE, 0, 0, now);
            free(frame);
        }
    }
}

void peer_link_write_request(run_t *r, int64_t now) {
    size_t total = sizeof r->request_header + r->request.size;
    while (r->request_sent < total) {
        struct iovec iov[2];
        int count = 0;
        if (r->request_sent < sizeof r->request_header) {
            iov[count].iov_base = r->request_header + r->request_sent;
            iov[count++].iov_len = sizeof r->request_header - r->request_sent;
            iov[count].iov_base = r->request.data;
            iov[count++].iov_len = r->request.size;
        } else {
            iov[count].iov_base = r->request.data + (r->request_sent - sizeof r->request_header);
            iov[count++].iov_len = total - r->request_sent;
        }
        ssize_t n = writev(r->fds.request, iov, count);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return; /* the rest when the pipe has room */
        if (n < 0) {
            run_event(r, EV_PEER_LOST, 0, 0, now); /* EPIPE: the peer is gone */
            return;
        }
        r->request_sent += (size_t)n;
    }
    /* All sent: stop asking for writability, keep the pipe open so the peer
     * never sees EOF on its request channel. */
    run_unwatch(r, WATCH_REQUEST);
}

void peer_link_deliver_request(run_t *r, int64_t now) {
    run_watch(r, WATCH_REQUEST, EPOLLOUT);
    peer_link_write_request(r, now);
}

/* The request was taken whole before 'S', so the pipe is empty and these
 * five bytes fit at once. */
int peer_link_send_capture_begun(run_t *r) {
    uint8_t frame[5];
    frame_header(1, frame);
    frame[4] = SANDBOX_TAG_CAPTURE_BEGUN;
    ssize_t n = fdio_write_some(r->fds.request, frame, sizeof frame);
    return n == (ssize_t)sizeof frame ? 0 : -1;
}
