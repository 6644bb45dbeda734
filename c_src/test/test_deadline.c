#include "nif/deadline.h"

#include <criterion/criterion.h>

Test(deadline, after_adds_milliseconds) {
    cr_assert_eq(deadline_after(1000, 5), 1000 + 5 * 1000000);
    cr_assert_eq(deadline_after(7, 0), 7);
}

Test(deadline, negative_timeout_is_never) {
    cr_assert_eq(deadline_after(1000, -1), DEADLINE_NEVER);
}

Test(deadline, saturates_instead_of_overflowing) {
    cr_assert_eq(deadline_after(INT64_MAX - 10, 1), DEADLINE_NEVER);
    cr_assert_eq(deadline_after(0, INT64_MAX), DEADLINE_NEVER);
}

Test(deadline, passed_at_and_after_never_for_never) {
    cr_assert_not(deadline_passed(99, 100));
    cr_assert(deadline_passed(100, 100));
    cr_assert(deadline_passed(101, 100));
    cr_assert_not(deadline_passed(INT64_MAX, DEADLINE_NEVER));
}

Test(deadline, wait_rounds_up_so_it_never_wakes_early) {
    cr_assert_eq(deadline_wait_ms(0, 1), 1);
    cr_assert_eq(deadline_wait_ms(0, 1000000), 1);
    cr_assert_eq(deadline_wait_ms(0, 1000001), 2);
    cr_assert_eq(deadline_wait_ms(5, 5), 0);
    cr_assert_eq(deadline_wait_ms(6, 5), 0);
    cr_assert_eq(deadline_wait_ms(0, DEADLINE_NEVER), -1);
    cr_assert_eq(deadline_wait_ms(0, INT64_MAX - 1), INT32_MAX);
}

Test(deadline, now_is_monotonic) {
    int64_t a = deadline_now(), b = deadline_now();
    cr_assert_gt(a, 0);
    cr_assert_geq(b, a);
}

Test(deadline, min_picks_the_earlier) {
    cr_assert_eq(deadline_min(3, 9), 3);
    cr_assert_eq(deadline_min(DEADLINE_NEVER, 9), 9);
}
