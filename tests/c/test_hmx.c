/*
 * Exercises the C ABI; run by tests/c_api.rs under valgrind, against the
 * stand-in cloud named by HMX_BASE_URL / HMX_CA_FILE.
 *
 *   test_hmx fetch N           a full fetch of N devices, lookups, frees
 *   test_hmx threads N T       one client shared by T threads (at most 32)
 *   test_hmx status NAME [MS]  a fetch that must fail with status NAME
 *   test_hmx misuse            NULLs, invalid UTF-8, tiny err_len, bad frees
 *   test_hmx panic             the test-only panicking entry point
 *   test_hmx totp KEY TIME CODE SN DATA BODY
 *                              hmx_totp and hmx_sign_request give CODE and BODY
 *   test_hmx builder N         every builder setter, a fetch of N devices, extra fields
 *   test_hmx limited MIN MAX   a login refused with 429; hmx_last_retry_after_s in MIN..MAX
 *                              (-1 -1: none given) and hmx_last_http_status 429
 *   test_hmx timeouts CONNECT_MS REQUEST_MS MIN_MS MAX_MS
 *                              a login that must time out after MIN_MS..MAX_MS
 *   test_hmx network N         through the proxy HMX_PROXY, trusting the system store
 *                              (SSL_CERT_FILE), a fetch of N devices; then without it
 *   test_hmx badenv VARIABLE   the default client (NULL) with an unusable proxy in the
 *                              environment: login says INVALID_ARGUMENT and names VARIABLE
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "check.h"
#include "hmx.h"


static const char *EMAIL = "demo@hmx.invalid";
static const char *PASSWORD = "demo-password";

/* Whether `text` holds any run of 4 or more characters of `secret`. */
static int has_piece(const char *text, const char *secret) {
    size_t n = strlen(secret);
    for (size_t i = 0; i + 4 <= n; i++) {
        char piece[5];
        memcpy(piece, secret + i, 4);
        piece[4] = '\0';
        if (strstr(text, piece) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* A client for the stand-in. `timeout_ms` 0: bounds generous enough for a TLS
 * handshake under valgrind on a loaded machine (these tests check outcomes, not speed);
 * otherwise `timeout_ms` bounds both the connect and the request. */
static hmx_client *new_client(unsigned timeout_ms) {
    const char *ca_file = getenv("HMX_CA_FILE");
    char *pem = ca_file != NULL ? read_file(ca_file) : NULL;
    char err[256];
    unsigned bound = timeout_ms != 0 ? timeout_ms : 120000;
    hmx_client_builder *b = NULL;
    CHECK_STATUS(hmx_client_builder_new(&b), HMX_STATUS_OK);
    if (getenv("HMX_BASE_URL") != NULL) {
        CHECK_STATUS(hmx_client_builder_base_url(b, getenv("HMX_BASE_URL")), HMX_STATUS_OK);
    }
    CHECK_STATUS(hmx_client_builder_timeout_ms(b, bound), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_connect_timeout_ms(b, bound), HMX_STATUS_OK);
    if (pem != NULL) {
        CHECK_STATUS(hmx_client_builder_root_ca_pem(b, pem), HMX_STATUS_OK);
    }
    hmx_client *client = NULL;
    hmx_status st = hmx_client_builder_build(b, &client, err, sizeof err);
    hmx_free(b);
    free(pem);
    if (st != HMX_STATUS_OK) {
        fprintf(stderr, "hmx_client_new: %s: %s\n", hmx_status_name(st), err);
        exit(1);
    }
    CHECK(client != NULL && err[0] == '\0');
    return client;
}

static hmx_device_list *fetch(const hmx_client *client) {
    char err[256] = "junk";
    char *token = NULL;
    CHECK_STATUS(hmx_login(client, EMAIL, PASSWORD, &token, err, sizeof err), HMX_STATUS_OK);
    CHECK(err[0] == '\0' && token != NULL && strlen(token) == 40);
    hmx_device_list *list = NULL;
    CHECK_STATUS(hmx_list_devices(client, token, &list, err, sizeof err), HMX_STATUS_OK);
    hmx_free(token);
    return list;
}

static void check_list(const hmx_device_list *list, size_t expected) {
    CHECK(list != NULL && list->len == expected);
    for (size_t i = 0; i < list->len; i++) {
        const hmx_device *d = &list->items[i];
        CHECK(d->sn != NULL && d->name != NULL && d->totp_key != NULL);
        CHECK(strlen(d->sn) == 30 && strlen(d->totp_key) == 16);
        /* A serial in other case, with spaces around, finds the same device. */
        char query[64];
        snprintf(query, sizeof query, "  %s ", d->sn);
        for (char *c = query; *c; c++) {
            if (*c >= 'A' && *c <= 'Z') {
                *c = (char)(*c - 'A' + 'a');
            }
        }
        const hmx_device *found = NULL;
        CHECK_STATUS(hmx_find_device(list, query, &found), HMX_STATUS_OK);
        CHECK(found == d);
        /* The same rule for serials kept outside the list. */
        CHECK(hmx_same_serial(query, d->sn) && hmx_same_serial(d->sn, query));
        CHECK(!hmx_same_serial(d->sn, "no-such-serial"));
        CHECK(!hmx_same_serial(NULL, d->sn) && !hmx_same_serial(d->sn, "\xff"));
    }
    const hmx_device *sentinel = (const hmx_device *)list;
    const hmx_device *found = sentinel;
    CHECK_STATUS(hmx_find_device(list, "no-such-serial", &found), HMX_STATUS_NOT_FOUND);
    CHECK(found == sentinel);
}

static int scenario_fetch(size_t expected) {
    hmx_client *client = new_client(0);
    hmx_device_list *list = fetch(client);
    check_list(list, expected);
    printf("%zu devices; first %s \"%s\"\n", list->len, list->items[0].sn, list->items[0].name);
    hmx_free(list);
    hmx_free(client);
    return 0;
}

struct job {
    const hmx_client *client;
    const hmx_device_list *expected;
    int ok;
};

static void *thread_main(void *arg) {
    struct job *job = arg;
    for (int round = 0; round < 2; round++) {
        hmx_device_list *list = fetch(job->client);
        int same = list->len == job->expected->len;
        for (size_t i = 0; same && i < list->len; i++) {
            same = strcmp(list->items[i].sn, job->expected->items[i].sn) == 0 &&
                   strcmp(list->items[i].totp_key, job->expected->items[i].totp_key) == 0 &&
                   strcmp(list->items[i].name, job->expected->items[i].name) == 0;
        }
        hmx_free(list);
        if (!same) {
            return NULL;
        }
    }
    job->ok = 1;
    return NULL;
}

static int scenario_threads(size_t expected, int count) {
    CHECK(count > 0 && count <= 32);
    hmx_client *client = new_client(0);
    hmx_device_list *first = fetch(client);
    check_list(first, expected);
    pthread_t threads[32];
    struct job jobs[32];
    for (int i = 0; i < count; i++) {
        jobs[i] = (struct job){client, first, 0};
        CHECK(pthread_create(&threads[i], NULL, thread_main, &jobs[i]) == 0);
    }
    for (int i = 0; i < count; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(jobs[i].ok);
    }
    hmx_free(first);
    hmx_free(client);
    printf("%d threads agree on %zu devices\n", count, expected);
    return 0;
}

/* The status of the first failing step of a fetch, with out-parameters untouched. */
static int scenario_status(const char *want, unsigned timeout_ms) {
    hmx_client *client = new_client(timeout_ms);
    char err[512];
    char untouched = 0;
    char *token = &untouched;
    hmx_status st = hmx_login(client, EMAIL, PASSWORD, &token, err, sizeof err);
    if (st == HMX_STATUS_OK) {
        hmx_device_list *list = (hmx_device_list *)&untouched;
        st = hmx_list_devices(client, token, &list, err, sizeof err);
        if (st != HMX_STATUS_OK) {
            CHECK(list == (hmx_device_list *)&untouched);
            CHECK(!has_piece(err, token)); /* messages never carry the token, nor a piece */
        }
        hmx_free(token);
        if (st == HMX_STATUS_OK) {
            hmx_free(list);
        }
    } else {
        CHECK(token == &untouched);
    }
    CHECK(!has_piece(err, PASSWORD));
    printf("%s: %s\n", hmx_status_name(st), err);
    CHECK(strcmp(hmx_status_name(st), want) == 0);
    CHECK(st == HMX_STATUS_OK || err[0] != '\0');
    hmx_free(client);
    return 0;
}

static int scenario_misuse(void) {
    char err[256];
    const char *bad_utf8 = "\xff\xfe";
    hmx_client *client = new_client(0);
    char *token = NULL;
    hmx_device_list *list = NULL;
    const hmx_device *device = NULL;

    /* NULL out-parameters and NULL or invalid strings: INVALID_ARGUMENT, nothing sent. */
    CHECK_STATUS(hmx_client_new(NULL, 0, NULL, NULL, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err, "client_out") != NULL);
    CHECK_STATUS(hmx_client_new(bad_utf8, 0, NULL, &client, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_new("http://example.com", 0, NULL, &client, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_new("not a url", 0, NULL, &client, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_new(NULL, 0, "no pem here", &client, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_new(NULL, 0, bad_utf8, &client, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_login(client, NULL, PASSWORD, &token, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_login(client, EMAIL, NULL, &token, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_login(client, EMAIL, PASSWORD, NULL, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_login(client, bad_utf8, PASSWORD, &token, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_login(client, EMAIL, bad_utf8, &token, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err, "UTF-8") != NULL);
    CHECK_STATUS(hmx_list_devices(client, NULL, &list, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_list_devices(client, "tok", NULL, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_list_devices(client, bad_utf8, &list, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_list_devices(client, "has space", &list, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(token == NULL && list == NULL);

    /* A client pointer hmx never handed out is refused, not dereferenced. */
    int not_a_client = 0;
    CHECK_STATUS(hmx_login((const hmx_client *)&not_a_client, EMAIL, PASSWORD, &token, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);

    /* err_buf may be NULL, and err_len 1 leaves just the terminator. */
    CHECK_STATUS(hmx_login(client, NULL, PASSWORD, &token, NULL, 0), HMX_STATUS_INVALID_ARGUMENT);
    char tiny[1] = {'x'};
    CHECK_STATUS(hmx_login(client, NULL, PASSWORD, &token, tiny, 1), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(tiny[0] == '\0');
    char small[8];
    CHECK_STATUS(hmx_login(client, NULL, PASSWORD, &token, small, sizeof small), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strlen(small) == 7);

    /* hmx_find_device argument checks. */
    list = fetch(client);
    CHECK_STATUS(hmx_find_device(NULL, "x", &device), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_find_device(list, NULL, &device), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_find_device(list, list->items[0].sn, NULL), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_find_device(list, bad_utf8, &device), HMX_STATUS_INVALID_ARGUMENT);
    hmx_device_list fake = {0, NULL};
    CHECK_STATUS(hmx_find_device(&fake, "x", &device), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(device == NULL);

    /* Status names for any int. */
    CHECK(strcmp(hmx_status_name(-1), "HMX_STATUS_UNKNOWN") == 0);
    CHECK(strcmp(hmx_status_name(HMX_STATUS_STORAGE), "HMX_STATUS_STORAGE") == 0);
    CHECK(strcmp(hmx_status_name(13), "HMX_STATUS_UNKNOWN") == 0);
    CHECK(strcmp(hmx_status_name(HMX_STATUS_PANIC), "HMX_STATUS_PANIC") == 0);

    /* Frees: NULL, foreign pointers and second frees are ignored. */
    hmx_free(NULL);
    hmx_free(&not_a_client);
    char *mine = malloc(16);
    hmx_free(mine);
    free(mine);
    hmx_free(list);
    hmx_free(list);
    hmx_free(client);
    hmx_free(client);
    puts("misuse handled");
    return 0;
}

static int scenario_totp(char **v) {
    const char *key = v[0], *code = v[2], *sn = v[3], *data = v[4], *body_want = v[5];
    uint32_t device_time = (uint32_t)strtoul(v[1], NULL, 10);
    char buf[HMX_TOTP_DIGITS + 1];
    memset(buf, 'x', sizeof buf);
    CHECK_STATUS(hmx_totp(key, device_time, buf, sizeof buf), HMX_STATUS_OK);
    CHECK(strcmp(buf, code) == 0);
    CHECK_STATUS(hmx_totp(key, device_time, buf, HMX_TOTP_DIGITS), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_totp(NULL, device_time, buf, sizeof buf), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_totp(key, device_time, NULL, sizeof buf), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_totp("\xff", device_time, buf, sizeof buf), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strcmp(buf, code) == 0); /* untouched by the failures */

    char err[256];
    char *body = NULL;
    CHECK_STATUS(hmx_sign_request(key, sn, device_time, data, &body, err, sizeof err), HMX_STATUS_OK);
    CHECK(err[0] == '\0' && strcmp(body, body_want) == 0);
    hmx_free(body); /* wiped */
    char untouched = 0;
    body = &untouched;
    CHECK_STATUS(hmx_sign_request(key, sn, device_time, "[1]", &body, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err, "JSON object") != NULL);
    CHECK_STATUS(hmx_sign_request(key, sn, device_time, "{\"auth\":\"1\"}", &body, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_sign_request(NULL, sn, device_time, data, &body, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_sign_request(key, NULL, device_time, data, &body, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_sign_request(key, sn, device_time, NULL, &body, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_sign_request(key, sn, device_time, "{\xff}", &body, NULL, 0), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_sign_request(key, sn, device_time, data, NULL, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(body == &untouched);

    long long now = (long long)time(NULL) - 946684800LL;
    long long diff = (long long)hmx_device_time_now() - now;
    CHECK(diff >= -5 && diff <= 5);
    printf("%s %s\n", buf, body_want);
    return 0;
}

static hmx_client_builder *new_builder(void) {
    hmx_client_builder *b = NULL;
    CHECK_STATUS(hmx_client_builder_new(&b), HMX_STATUS_OK);
    CHECK(b != NULL);
    const char *ca_file = getenv("HMX_CA_FILE");
    CHECK(ca_file != NULL && getenv("HMX_BASE_URL") != NULL);
    char *pem = read_file(ca_file);
    CHECK_STATUS(hmx_client_builder_root_ca_pem(b, pem), HMX_STATUS_OK);
    free(pem);
    CHECK_STATUS(hmx_client_builder_base_url(b, getenv("HMX_BASE_URL")), HMX_STATUS_OK);
    return b;
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int scenario_builder(size_t expected) {
    char err[256];
    hmx_client_builder *b = new_builder();
    /* Generous: valgrind makes the TLS handshake slow. */
    CHECK_STATUS(hmx_client_builder_timeout_ms(b, 60000), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_connect_timeout_ms(b, 20000), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_accept_language(b, "uk"), HMX_STATUS_OK);
    hmx_client *client = NULL;
    CHECK_STATUS(hmx_client_builder_build(b, &client, err, sizeof err), HMX_STATUS_OK);
    hmx_device_list *list = fetch(client);
    check_list(list, expected);

    /* The rest of each device, as JSON. */
    for (size_t i = 0; i < list->len; i++) {
        char *json = NULL;
        CHECK_STATUS(hmx_device_extra_json(list, i, &json), HMX_STATUS_OK);
        CHECK(json[0] == '{' && strstr(json, "\"version_name\":\"2.4\"") != NULL);
        CHECK(strstr(json, "totp_key") == NULL && strstr(json, list->items[i].sn) == NULL);
        if (i == 0) {
            printf("extra: %s\n", json);
        }
        hmx_free(json);
    }
    char *untouched = (char *)"x";
    char *json = untouched;
    CHECK_STATUS(hmx_device_extra_json(list, list->len, &json), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_device_extra_json(NULL, 0, &json), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_device_extra_json(list, 0, NULL), HMX_STATUS_INVALID_ARGUMENT);
    hmx_device_list fake = {0, NULL};
    CHECK_STATUS(hmx_device_extra_json(&fake, 0, &json), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(json == untouched);
    hmx_free(list);

    /* Setters store; build checks, as ClientBuilder::build does, and may run again. */
    hmx_client *second = NULL;
    CHECK_STATUS(hmx_client_builder_timeout_ms(b, 0), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_build(b, &second, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err, "timeout") != NULL && second == NULL);
    CHECK_STATUS(hmx_client_builder_timeout_ms(b, 5000), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_accept_language(b, "en\r\nX-Evil: 1"), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_build(b, &second, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_accept_language(b, "en"), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_root_ca_pem(b, "no pem"), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_build(b, &second, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_base_url(b, "http://example.com"), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_build(b, &second, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err, "https") != NULL && second == NULL);
    CHECK_STATUS(hmx_client_builder_base_url(b, HMX_WELROK_URL), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_build(b, &second, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    hmx_free(b);

    b = new_builder();
    CHECK_STATUS(hmx_client_builder_base_url(b, HMX_TERNEO_URL), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_build(b, &second, err, sizeof err), HMX_STATUS_OK);
    hmx_free(second);
    second = NULL;
    CHECK_STATUS(hmx_client_builder_build(b, &second, err, sizeof err), HMX_STATUS_OK);
    hmx_free(second);

    /* Bad pointers and strings. */
    const char *bad_utf8 = "\xff\xfe";
    int not_a_builder = 0;
    CHECK_STATUS(hmx_client_builder_new(NULL), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_base_url(NULL, HMX_TERNEO_URL), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_base_url(b, NULL), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_base_url(b, bad_utf8), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_root_ca_pem(b, NULL), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_accept_language(b, bad_utf8), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_timeout_ms((hmx_client_builder *)&not_a_builder, 1),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_build((hmx_client_builder *)&not_a_builder, &second, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_build(b, NULL, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_build(NULL, &second, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    hmx_free(b);
    CHECK_STATUS(hmx_client_builder_timeout_ms(b, 1), HMX_STATUS_INVALID_ARGUMENT); /* freed */
    hmx_free(client);
    printf("builder: %zu devices\n", expected);
    return 0;
}

static int scenario_limited(long long min_s, long long max_s) {
    char err[256];
    hmx_client_builder *b = new_builder();
    hmx_client *client = NULL;
    CHECK_STATUS(hmx_client_builder_build(b, &client, err, sizeof err), HMX_STATUS_OK);
    hmx_free(b);
    char *token = NULL;
    CHECK_STATUS(hmx_login(client, EMAIL, PASSWORD, &token, err, sizeof err), HMX_STATUS_RATE_LIMITED);
    int32_t http = hmx_last_http_status();
    int64_t wait = hmx_last_retry_after_s();
    printf("%s; HTTP %d, retry after %lld s\n", err, (int)http, (long long)wait);
    CHECK(http == 429);
    CHECK(wait >= min_s && wait <= max_s);
    /* Asking again gives the same; the next fallible call resets them. */
    CHECK(hmx_last_http_status() == 429 && hmx_last_retry_after_s() == wait);
    char code[HMX_TOTP_DIGITS + 1];
    CHECK_STATUS(hmx_totp("key", 0, code, sizeof code), HMX_STATUS_OK);
    CHECK(hmx_last_http_status() == 0 && hmx_last_retry_after_s() == -1);
    /* A failure without an HTTP answer has none. */
    CHECK_STATUS(hmx_login(client, EMAIL, NULL, &token, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(hmx_last_http_status() == 0 && hmx_last_retry_after_s() == -1);
    hmx_free(client);
    return 0;
}

static int scenario_timeouts(uint32_t connect_ms, uint32_t request_ms, double min_ms, double max_ms) {
    char err[256];
    hmx_client_builder *b = new_builder();
    CHECK_STATUS(hmx_client_builder_connect_timeout_ms(b, connect_ms), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_timeout_ms(b, request_ms), HMX_STATUS_OK);
    hmx_client *client = NULL;
    CHECK_STATUS(hmx_client_builder_build(b, &client, err, sizeof err), HMX_STATUS_OK);
    hmx_free(b);
    char *token = NULL;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK_STATUS(hmx_login(client, EMAIL, PASSWORD, &token, err, sizeof err), HMX_STATUS_TIMEOUT);
    double took_ms = seconds_since(&start) * 1000.0;
    printf("timed out after %.0f ms: %s\n", took_ms, err);
    CHECK(took_ms >= min_ms && took_ms <= max_ms);
    CHECK(hmx_last_http_status() == 0);
    hmx_free(client);
    return 0;
}

static int scenario_network(size_t expected) {
    char err[256];
    const char *proxy = getenv("HMX_PROXY");
    CHECK(proxy != NULL && getenv("SSL_CERT_FILE") != NULL);
    hmx_client_builder *b = NULL;
    CHECK_STATUS(hmx_client_builder_new(&b), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_base_url(b, getenv("HMX_BASE_URL")), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_system_roots(b), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_proxy(b, proxy), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_timeout_ms(b, 60000), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_connect_timeout_ms(b, 20000), HMX_STATUS_OK);
    hmx_client *client = NULL;
    CHECK_STATUS(hmx_client_builder_build(b, &client, err, sizeof err), HMX_STATUS_OK);
    hmx_device_list *list = fetch(client);
    check_list(list, expected);
    hmx_free(list);
    hmx_free(client);

    /* No proxy: the cloud's name resolves nowhere, so nothing is reached. */
    CHECK_STATUS(hmx_client_builder_proxy(b, NULL), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_build(b, &client, err, sizeof err), HMX_STATUS_OK);
    char *token = NULL;
    hmx_status st = hmx_login(client, EMAIL, PASSWORD, &token, err, sizeof err);
    CHECK(st == HMX_STATUS_NETWORK || st == HMX_STATUS_TIMEOUT);
    hmx_free(client);

    /* A proxy hmx cannot use is refused when the client is made. */
    CHECK_STATUS(hmx_client_builder_proxy(b, "ftp://user:pw@127.0.0.1:21"), HMX_STATUS_OK);
    client = NULL;
    CHECK_STATUS(hmx_client_builder_build(b, &client, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(client == NULL && strstr(err, "socks5h://") != NULL && strstr(err, ":pw") == NULL);
    CHECK_STATUS(hmx_client_builder_proxy(b, "\xff"), HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_client_builder_system_roots(NULL), HMX_STATUS_INVALID_ARGUMENT);
    hmx_free(b);
    printf("network: %zu devices through %s\n", expected, proxy);
    return 0;
}

static int scenario_panic(void) {
#if defined(HMX_TEST_UTIL)
    char err[128];
    CHECK_STATUS(hmx_test_panic(err, sizeof err), HMX_STATUS_PANIC);
    CHECK(strstr(err, "panicked") != NULL);
    CHECK_STATUS(hmx_test_panic(NULL, 0), HMX_STATUS_PANIC);
    puts("panic contained");
    return 0;
#else
    fputs("built without HMX_TEST_UTIL\n", stderr);
    return 1;
#endif
}

static int scenario_badenv(const char *variable) {
    char err[512];
    char *token = (char *)0x1;
    CHECK_STATUS(hmx_login(NULL, EMAIL, PASSWORD, &token, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(token == (char *)0x1);
    CHECK(strstr(err, variable) != NULL);
    /* Every later call gives the same answer, not a panic. */
    CHECK_STATUS(hmx_login(NULL, EMAIL, PASSWORD, &token, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    return 0;
}

int main(int argc, char **argv) {
    CHECK(argc >= 2);
    CHECK(strcmp(hmx_version(), "0.1.0") == 0 || hmx_version()[0] != '\0');
    if (strcmp(argv[1], "fetch") == 0 && argc == 3) {
        return scenario_fetch(strtoul(argv[2], NULL, 10));
    }
    if (strcmp(argv[1], "threads") == 0 && argc == 4) {
        return scenario_threads(strtoul(argv[2], NULL, 10), atoi(argv[3]));
    }
    if (strcmp(argv[1], "status") == 0 && argc >= 3) {
        return scenario_status(argv[2], argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 0);
    }
    if (strcmp(argv[1], "misuse") == 0) {
        return scenario_misuse();
    }
    if (strcmp(argv[1], "network") == 0 && argc == 3) {
        return scenario_network(strtoul(argv[2], NULL, 10));
    }
    if (strcmp(argv[1], "builder") == 0 && argc == 3) {
        return scenario_builder(strtoul(argv[2], NULL, 10));
    }
    if (strcmp(argv[1], "limited") == 0 && argc == 4) {
        return scenario_limited(atoll(argv[2]), atoll(argv[3]));
    }
    if (strcmp(argv[1], "timeouts") == 0 && argc == 6) {
        return scenario_timeouts((uint32_t)strtoul(argv[2], NULL, 10), (uint32_t)strtoul(argv[3], NULL, 10),
                                 atof(argv[4]), atof(argv[5]));
    }
    if (strcmp(argv[1], "totp") == 0 && argc == 8) {
        return scenario_totp(argv + 2);
    }
    if (strcmp(argv[1], "badenv") == 0 && argc == 3) {
        return scenario_badenv(argv[2]);
    }
    if (strcmp(argv[1], "panic") == 0) {
        return scenario_panic();
    }
    fprintf(stderr, "unknown scenario %s\n", argv[1]);
    return 2;
}
