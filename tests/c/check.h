/* The C test programs' checks: print where and what failed, then exit 1. */
#ifndef HMX_TEST_CHECK_H
#define HMX_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "hmx.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

#define CHECK_STATUS(expr, want)                                              \
    do {                                                                      \
        hmx_status got_ = (expr);                                             \
        if (got_ != (want)) {                                                 \
            fprintf(stderr, "%s:%d: %s returned %s, wanted %s\n", __FILE__, __LINE__, #expr, \
                    hmx_status_name(got_), hmx_status_name(want));            \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#endif
