/*
 * The local client from C; run by tests/c_api.rs under valgrind against the
 * stand-in thermostat at HMX_DEVICE_HOST (serial HMX_DEVICE_SN).
 *
 *   test_local discover PORT N      hmx_discover hears N devices on PORT
 *   test_local read                 telemetry, parameters and the clock
 *   test_local write KEY ID VALUE   a signed write of parameter ID, read back
 *   test_local blocked KEY ID VALUE the device refuses the write: HMX_STATUS_BLOCKED
 *   test_local busy STATUS          a telemetry read that must end in STATUS
 *   test_local misuse               NULLs, bad JSON, reserved members
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hmx.h"


static char err[512];

static const char *env(const char *name) {
    const char *value = getenv(name);
    CHECK(value != NULL);
    return value;
}

static int scenario_discover(unsigned port, size_t expected) {
    hmx_found_list *list = NULL;
    CHECK_STATUS(hmx_discover((uint16_t)port, 1500, &list, err, sizeof err), HMX_STATUS_OK);
    CHECK(list != NULL && list->len == expected);
    for (size_t i = 0; i < list->len; i++) {
        const hmx_found *f = &list->items[i];
        CHECK(f->sn != NULL && strlen(f->sn) == 30);
        CHECK(f->ip != NULL && strncmp(f->ip, "127.0.0.", 8) == 0);
        CHECK(f->hw != NULL && f->connection != NULL && strcmp(f->connection, "cloudCon") == 0);
        CHECK(f->wifi_dbm == -61 && f->cloud);
        printf("%s %s %s\n", f->sn, f->ip, f->hw);
    }
    hmx_free(list);
    return 0;
}

static int scenario_read(void) {
    const char *host = env("HMX_DEVICE_HOST"), *sn = env("HMX_DEVICE_SN");
    char *reply = NULL;
    CHECK_STATUS(hmx_local_request(host, sn, NULL, "{\"cmd\":4}", 0, &reply, err, sizeof err),
                 HMX_STATUS_OK);
    /* As the device sent it: its first member is sn. */
    CHECK(strncmp(reply, "{\"sn\":", 6) == 0 && strstr(reply, "\"t.1\"") != NULL);
    hmx_free(reply);
    char *params = NULL;
    CHECK_STATUS(hmx_local_parameters(host, sn, 0, &params, err, sizeof err), HMX_STATUS_OK);
    CHECK(params[0] == '[' && strstr(params, "[23,") != NULL);
    printf("parameters: %.60s...\n", params);
    hmx_free(params);
    uint32_t now = 0;
    CHECK_STATUS(hmx_local_device_time(host, sn, 0, &now, err, sizeof err), HMX_STATUS_OK);
    CHECK(now > 600000000u);
    printf("device time %u\n", now);
    return 0;
}

/* The value of parameter `id` in a parameter list's JSON, e.g. [23,2,"5"]. */
static int has_value(const char *params, const char *id, const char *value) {
    char needle[64];
    snprintf(needle, sizeof needle, "[%s,", id);
    const char *at = strstr(params, needle);
    if (at == NULL) {
        return 0;
    }
    const char *end = strchr(at, ']');
    snprintf(needle, sizeof needle, "\"%s\"", value);
    const char *found = strstr(at, needle);
    return found != NULL && found < end;
}

static int scenario_write(const char *key, const char *id, const char *value) {
    const char *host = env("HMX_DEVICE_HOST"), *sn = env("HMX_DEVICE_SN");
    char values[64];
    snprintf(values, sizeof values, "{\"%s\":\"%s\"}", id, value);
    char *reply = NULL;
    CHECK_STATUS(hmx_local_set(host, sn, key, values, 0, &reply, err, sizeof err), HMX_STATUS_OK);
    printf("set: %s\n", reply);
    hmx_free(reply);
    char *params = NULL;
    CHECK_STATUS(hmx_local_parameters(host, sn, 0, &params, err, sizeof err), HMX_STATUS_OK);
    CHECK(has_value(params, id, value));
    hmx_free(params);
    /* The same as the device expects it, through hmx_local_request. */
    char request[96];
    snprintf(request, sizeof request, "{\"par\":[[%s,2,\"%s\"]]}", id, value);
    CHECK_STATUS(hmx_local_request(host, sn, key, request, 0, &reply, err, sizeof err), HMX_STATUS_OK);
    hmx_free(reply);
    return 0;
}

static int scenario_blocked(const char *key, const char *id, const char *value) {
    const char *host = env("HMX_DEVICE_HOST"), *sn = env("HMX_DEVICE_SN");
    char values[64];
    snprintf(values, sizeof values, "{\"%s\":\"%s\"}", id, value);
    char *untouched = (char *)"x";
    char *reply = untouched;
    CHECK_STATUS(hmx_local_set(host, sn, key, values, 0, &reply, err, sizeof err), HMX_STATUS_BLOCKED);
    CHECK(reply == untouched && strstr(err, "LAN locking") != NULL);
    CHECK(strstr(err, key) == NULL);
    printf("%s: %s\n", hmx_status_name(HMX_STATUS_BLOCKED), err);
    CHECK_STATUS(hmx_local_request(host, sn, NULL, "{\"par\":[[23,2,\"1\"]]}", 0, &reply, err, sizeof err),
                 HMX_STATUS_BLOCKED);
    return 0;
}

static int scenario_busy(const char *want) {
    const char *host = env("HMX_DEVICE_HOST"), *sn = env("HMX_DEVICE_SN");
    char *reply = NULL;
    hmx_status st = hmx_local_request(host, sn, NULL, "{\"cmd\":4}", 0, &reply, err, sizeof err);
    printf("%s: %s\n", hmx_status_name(st), st == HMX_STATUS_OK ? "telemetry" : err);
    CHECK(strcmp(hmx_status_name(st), want) == 0);
    if (st == HMX_STATUS_OK) {
        hmx_free(reply);
    }
    return 0;
}

static int scenario_misuse(void) {
    char *reply = NULL;
    const char *sn = "058016000543464839373520000159";
    CHECK_STATUS(hmx_local_request(NULL, sn, NULL, "{\"cmd\":4}", 0, &reply, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_local_request("127.0.0.1:9", NULL, NULL, "{\"cmd\":4}", 0, &reply, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_local_request("127.0.0.1:9", sn, NULL, "{\"cmd\":", 0, &reply, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_local_request("127.0.0.1:9", sn, NULL, "{}", 0, &reply, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_local_request("127.0.0.1:9", sn, NULL, "{\"time\":\"1\"}", 0, &reply, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_local_request("127.0.0.1:9", sn, "\xff", "{\"cmd\":4}", 0, &reply, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_local_request("http://x/", sn, NULL, "{\"cmd\":4}", 0, &reply, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_local_request("127.0.0.1:9", sn, NULL, "{\"cmd\":4}", 0, NULL, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_local_set("127.0.0.1:9", sn, NULL, "{\"x\":1}", 0, &reply, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_local_set("127.0.0.1:9", sn, NULL, "[1]", 0, &reply, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    uint32_t t = 7;
    CHECK_STATUS(hmx_local_device_time("127.0.0.1:9", sn, 0, NULL, err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK(t == 7 && reply == NULL);
    hmx_found_list *list = NULL;
    CHECK_STATUS(hmx_discover(0, 10, NULL, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(list == NULL);
    /* Nothing listens there: the device does not answer. */
    hmx_status st = hmx_local_request("127.0.0.1:9", sn, NULL, "{\"cmd\":4}", 500, &reply, err, sizeof err);
    CHECK(st == HMX_STATUS_NETWORK || st == HMX_STATUS_TIMEOUT);
    puts("misuse handled");
    return 0;
}

int main(int argc, char **argv) {
    CHECK(argc >= 2);
    if (strcmp(argv[1], "discover") == 0 && argc == 4) {
        return scenario_discover((unsigned)strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10));
    }
    if (strcmp(argv[1], "read") == 0) {
        return scenario_read();
    }
    if (strcmp(argv[1], "write") == 0 && argc == 5) {
        return scenario_write(argv[2], argv[3], argv[4]);
    }
    if (strcmp(argv[1], "blocked") == 0 && argc == 5) {
        return scenario_blocked(argv[2], argv[3], argv[4]);
    }
    if (strcmp(argv[1], "busy") == 0 && argc == 3) {
        return scenario_busy(argv[2]);
    }
    if (strcmp(argv[1], "misuse") == 0) {
        return scenario_misuse();
    }
    fprintf(stderr, "unknown scenario %s\n", argv[1]);
    return 2;
}
