/* Deadlines on CLOCK_MONOTONIC, in nanoseconds, saturating at "never". */
#ifndef SANDBOX_DEADLINE_H
#define SANDBOX_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#define DEADLINE_NEVER INT64_MAX

/* Current CLOCK_MONOTONIC time in ns. Callable from any thread (unlike
 * enif_monotonic_time, which needs a scheduler). */
int64_t deadline_now(void);

/* now + timeout_ms, saturating to DEADLINE_NEVER; timeout_ms < 0 means
 * no deadline. */
int64_t deadline_after(int64_t now_ns, int64_t timeout_ms);

bool deadline_passed(int64_t now_ns, int64_t deadline_ns);

/* Milliseconds to wait in poll/epoll_wait until the deadline: rounded up so
 * a wait never ends before it, 0 once passed, -1 for DEADLINE_NEVER, and
 * clamped to INT32_MAX. */
int deadline_wait_ms(int64_t now_ns, int64_t deadline_ns);

/* The earlier of two deadlines. */
int64_t deadline_min(int64_t a, int64_t b);

#endif
