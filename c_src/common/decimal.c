#include "decimal.h"

int decimal_parse(const char **p, const char *end, int64_t max, int64_t *out) {
    const char *s = *p;
    if (s == end || *s < '0' || *s > '9')
        return -1;
    int64_t value = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        int digit = *s - '0';
        if (digit > max || value > (max - digit) / 10)
            return -1;
        value = value * 10 + digit;
        s++;
    }
    *out = value;
    *p = s;
    return 0;
}
