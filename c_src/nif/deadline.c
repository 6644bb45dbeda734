#include "deadline.h"

#include <time.h>

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)

int64_t deadline_now(void) {
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t deadline_after(int64_t now_ns, int64_t timeout_ms) {
    if (timeout_ms < 0)
        return DEADLINE_NEVER;
    if (timeout_ms > (DEADLINE_NEVER - now_ns) / NS_PER_MS)
        return DEADLINE_NEVER;
    return now_ns + timeout_ms * NS_PER_MS;
}

bool deadline_passed(int64_t now_ns, int64_t deadline_ns) {
    return deadline_ns != DEADLINE_NEVER && now_ns >= deadline_ns;
}

int deadline_wait_ms(int64_t now_ns, int64_t deadline_ns) {
    if (deadline_ns == DEADLINE_NEVER)
        return -1;
    if (now_ns >= deadline_ns)
        return 0;
    int64_t left = deadline_ns - now_ns;
    int64_t ms = left / NS_PER_MS + (left % NS_PER_MS != 0);
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int64_t deadline_min(int64_t a, int64_t b) { return a < b ? a : b; }
