#include "common/decimal.h"

#include <criterion/criterion.h>
#include <string.h>

static int parse(const char *text, int64_t max, int64_t *value, size_t *used) {
    const char *p = text;
    int rc = decimal_parse(&p, text + strlen(text), max, value);
    *used = (size_t)(p - text);
    return rc;
}

Test(decimal, parses_digits_up_to_the_first_non_digit) {
    int64_t value;
    size_t used;
    cr_assert_eq(parse("1234 rest", INT64_MAX, &value, &used), 0);
    cr_assert_eq(value, 1234);
    cr_assert_eq(used, 4);
    cr_assert_eq(parse("0", INT64_MAX, &value, &used), 0);
    cr_assert_eq(value, 0);
}

Test(decimal, takes_max_and_refuses_one_more) {
    int64_t value;
    size_t used;
    cr_assert_eq(parse("9223372036854775807", INT64_MAX, &value, &used), 0);
    cr_assert_eq(value, INT64_MAX);
    cr_assert_eq(parse("9223372036854775808", INT64_MAX, &value, &used), -1);
    cr_assert_eq(parse("2147483647", INT32_MAX, &value, &used), 0);
    cr_assert_eq(parse("2147483648", INT32_MAX, &value, &used), -1);
    cr_assert_eq(parse("5", 5, &value, &used), 0);
    cr_assert_eq(parse("7", 5, &value, &used), -1, "a single digit over a small max");
}

Test(decimal, needs_a_digit) {
    int64_t value;
    size_t used;
    const char *bad[] = {"", "-1", " 1", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(parse(bad[i], INT64_MAX, &value, &used), -1, "accepted \"%s\"", bad[i]);
}
