/* The C test programs' checks (print where and what failed, then exit 1),
 * and the one file reader they share. */
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

/* The whole file at `path`, NUL-terminated; malloc'd, for the caller to free. */
static inline char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long size = ftell(f);
    CHECK(size >= 0 && fseek(f, 0, SEEK_SET) == 0);
    char *text = malloc((size_t)size + 1);
    CHECK(text != NULL && fread(text, 1, (size_t)size, f) == (size_t)size);
    text[size] = '\0';
    fclose(f);
    return text;
}

#endif
