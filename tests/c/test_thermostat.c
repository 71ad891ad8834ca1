/*
 * The thermostat handle from C; run by tests/c_api.rs under valgrind against
 * the stand-in thermostat at HMX_DEVICE_HOST (serial HMX_DEVICE_SN). KEY and
 * SCHEME are "-" for NULL. What a scenario prints, Rust checks.
 *
 *   test_thermostat fixture KEY brightness N   state, telemetry, parameters,
 *   test_thermostat fixture KEY set ID VALUE   then a value written back
 *   test_thermostat control KEY SCHEME TEXT STATUS  hmx_thermostat_control ends in STATUS
 *   test_thermostat probe KEY                  prints the probe's report
 *   test_thermostat controls                   every named control, refused and applied
 *   test_thermostat threads N                  N threads share one handle
 *   test_thermostat misuse                     NULLs, bad text, handles hmx did not hand out
 */
#include <pthread.h>
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

static const char *arg_or_null(const char *arg) {
    return strcmp(arg, "-") == 0 ? NULL : arg;
}

static hmx_thermostat *open_device(const char *key, const char *scheme) {
    hmx_thermostat *t = NULL;
    CHECK_STATUS(hmx_thermostat_new(env("HMX_DEVICE_HOST"), env("HMX_DEVICE_SN"), key, scheme,
                                    10000, &t, err, sizeof err),
                 HMX_STATUS_OK);
    CHECK(t != NULL && err[0] == 0);
    return t;
}

/* One line per field the unit gave: `state NAME=VALUE`. */
static void print_state(const hmx_state *s) {
    if (s->has_floor_c) printf("state floor_c=%.4f\n", s->floor_c);
    if (s->has_air_c) printf("state air_c=%.4f\n", s->air_c);
    if (s->has_setpoint_c) printf("state setpoint_c=%.4f\n", s->setpoint_c);
    if (s->has_relay_on) printf("state relay_on=%d\n", s->relay_on);
    if (s->has_powered) printf("state powered=%d\n", s->powered);
    if (s->has_mode) printf("state mode=%d (%s)\n", (int)s->mode, hmx_mode_name(s->mode));
    if (s->has_control)
        printf("state control=%d (%s)\n", (int)s->control, hmx_control_type_name(s->control));
    if (s->has_lan_lock) printf("state lan_lock=%d\n", s->lan_lock);
    if (s->has_cloud_lock) printf("state cloud_lock=%d\n", s->cloud_lock);
    if (s->has_child_lock) printf("state child_lock=%d\n", s->child_lock);
    if (s->has_brightness) printf("state brightness=%u\n", (unsigned)s->brightness);
    if (s->has_wifi_dbm) printf("state wifi_dbm=%d\n", (int)s->wifi_dbm);
    if (s->has_load_power_w) printf("state load_power_w=%u\n", (unsigned)s->load_power_w);
}

/* `NAME OK` or `NAME STATUS: message`. */
static void print_status(const char *what, hmx_status st) {
    if (st == HMX_STATUS_OK) {
        printf("%s HMX_STATUS_OK\n", what);
    } else {
        CHECK(err[0] != 0);
        printf("%s %s: %s\n", what, hmx_status_name(st), err);
    }
}

static int scenario_fixture(const char *key, const char *how, const char *id, const char *value) {
    hmx_thermostat *t = open_device(key, NULL);
    hmx_state state;
    CHECK_STATUS(hmx_thermostat_state(t, &state, err, sizeof err), HMX_STATUS_OK);
    print_state(&state);

    char *json = NULL;
    CHECK_STATUS(hmx_thermostat_telemetry(t, &json, err, sizeof err), HMX_STATUS_OK);
    printf("telemetry %s\n", json);
    hmx_free(json);

    json = NULL;
    hmx_status st = hmx_thermostat_parameters(t, &json, err, sizeof err);
    if (st == HMX_STATUS_OK) {
        printf("parameters %s\n", json);
        hmx_free(json);
    } else {
        CHECK(json == NULL);
        print_status("parameters", st);
    }

    if (strcmp(how, "brightness") == 0) {
        st = hmx_thermostat_set_brightness(t, (uint8_t)strtoul(value, NULL, 10), err, sizeof err);
        print_status("write", st);
    } else {
        char values[96];
        snprintf(values, sizeof values, "{\"%s\":\"%s\"}", id, value);
        char *reply = NULL;
        st = hmx_thermostat_set(t, values, &reply, err, sizeof err);
        print_status("write", st);
        if (st == HMX_STATUS_OK) {
            CHECK(reply != NULL && reply[0] == '{');
            printf("reply %s\n", reply);
            hmx_free(reply);
        } else {
            CHECK(reply == NULL);
        }
    }
    hmx_free(t);
    return 0;
}

static int scenario_control(const char *key, const char *scheme, const char *text,
                            const char *want) {
    hmx_thermostat *t = open_device(key, scheme);
    hmx_status st = hmx_thermostat_control(t, text, err, sizeof err);
    print_status("control", st);
    CHECK(strcmp(hmx_status_name(st), want) == 0);
    if (key != NULL) {
        CHECK(strstr(err, key) == NULL);
    }
    hmx_free(t);
    return 0;
}

static int scenario_probe(const char *key) {
    hmx_thermostat *t = open_device(key, NULL);
    char *report = NULL;
    CHECK_STATUS(hmx_thermostat_probe(t, &report, err, sizeof err), HMX_STATUS_OK);
    printf("probe %s\n", report);
    CHECK(strstr(report, key) == NULL);
    hmx_free(report);
    hmx_free(t);
    return 0;
}

/* On a whole-degree unit: what cannot be written is refused before anything
 * is sent; then one of each named control, through the list read once. */
static int scenario_controls(void) {
    hmx_thermostat *t = open_device(NULL, NULL);
    CHECK_STATUS(hmx_thermostat_set_setpoint(t, 21.5, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err, "whole degrees") != NULL);
    printf("setpoint 21.5: %s\n", err);
    CHECK_STATUS(hmx_thermostat_control(t, "mode=manual setpoint=21.5", err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_thermostat_control(t, "setpoint=warm", err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(hmx_thermostat_set_setpoint(t, 80.0, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err, "limits") != NULL);
    CHECK_STATUS(hmx_thermostat_set_mode(t, HMX_MODE_AWAY, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err, "away") != NULL);
    CHECK_STATUS(hmx_thermostat_set_mode(t, 1000, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err, "HMX_MODE_MANUAL") != NULL);
    CHECK_STATUS(hmx_thermostat_set_brightness(t, 11, err, sizeof err), HMX_STATUS_INVALID_ARGUMENT);
    puts("refused: setpoint 21.5, 80, mode away, mode 1000, brightness 11");

    CHECK_STATUS(hmx_thermostat_set_setpoint(t, 22.0, err, sizeof err), HMX_STATUS_OK);
    CHECK(err[0] == 0);
    CHECK_STATUS(hmx_thermostat_set_mode(t, HMX_MODE_MANUAL, err, sizeof err), HMX_STATUS_OK);
    CHECK_STATUS(hmx_thermostat_set_power(t, true, err, sizeof err), HMX_STATUS_OK);
    CHECK_STATUS(hmx_thermostat_set_child_lock(t, true, err, sizeof err), HMX_STATUS_OK);
    CHECK_STATUS(hmx_thermostat_control(t, "brightness=3, child-lock=off", NULL, 0), HMX_STATUS_OK);
    puts("applied: setpoint 22, mode manual, power on, child lock on, brightness 3 + child lock off");

    char *reply = NULL;
    CHECK_STATUS(hmx_thermostat_request(t, "{\"cmd\":4}", &reply, err, sizeof err), HMX_STATUS_OK);
    CHECK(strstr(reply, "\"t.1\"") != NULL);
    hmx_free(reply);
    uint32_t now = 0;
    CHECK_STATUS(hmx_thermostat_device_time(t, &now, err, sizeof err), HMX_STATUS_OK);
    CHECK(now > 600000000u);
    printf("device time %u\n", now);
    hmx_free(t);
    return 0;
}

static void *read_telemetry(void *arg) {
    const hmx_thermostat *t = arg;
    char *json = NULL;
    char message[256];
    hmx_status st = hmx_thermostat_telemetry(t, &json, message, sizeof message);
    if (st != HMX_STATUS_OK) {
        fprintf(stderr, "thread: %s: %s\n", hmx_status_name(st), message);
        return (void *)1;
    }
    hmx_free(json);
    return NULL;
}

static int scenario_threads(size_t n) {
    hmx_thermostat *t = open_device(NULL, NULL);
    pthread_t threads[16];
    CHECK(n > 0 && n <= 16);
    for (size_t i = 0; i < n; i++) {
        CHECK(pthread_create(&threads[i], NULL, read_telemetry, t) == 0);
    }
    for (size_t i = 0; i < n; i++) {
        void *failed = NULL;
        CHECK(pthread_join(threads[i], &failed) == 0 && failed == NULL);
    }
    hmx_free(t);
    printf("%zu threads read the telemetry\n", n);
    return 0;
}

static int scenario_misuse(void) {
    const char *host = "127.0.0.1:9", *sn = "058016000543464839373520000159";
    hmx_thermostat *untouched = (hmx_thermostat *)&err, *t = untouched;
    const hmx_status bad = HMX_STATUS_INVALID_ARGUMENT;

    /* hmx_thermostat_new: every pointer, text that is not UTF-8, unknown names. */
    CHECK_STATUS(hmx_thermostat_new(NULL, sn, NULL, NULL, 0, &t, err, sizeof err), bad);
    CHECK(strstr(err, "host is NULL") != NULL);
    CHECK_STATUS(hmx_thermostat_new(host, NULL, NULL, NULL, 0, &t, err, sizeof err), bad);
    CHECK(strstr(err, "sn is NULL") != NULL);
    CHECK_STATUS(hmx_thermostat_new(host, sn, NULL, NULL, 0, NULL, err, sizeof err), bad);
    CHECK(strstr(err, "thermostat_out is NULL") != NULL);
    CHECK_STATUS(hmx_thermostat_new("\xff", sn, NULL, NULL, 0, &t, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_new(host, "\xc3", NULL, NULL, 0, &t, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_new(host, sn, "BW4E\xffXAJ", NULL, 0, &t, err, sizeof err), bad);
    CHECK(strstr(err, "totp_key is not valid UTF-8") != NULL);
    CHECK_STATUS(hmx_thermostat_new(host, sn, NULL, "raw-\xff", 0, &t, err, sizeof err), bad);
    CHECK(strstr(err, "scheme is not valid UTF-8") != NULL);
    CHECK_STATUS(hmx_thermostat_new(host, sn, NULL, "raw-3000", 0, &t, err, sizeof err), bad);
    CHECK(strstr(err, "unknown token scheme") != NULL);
    CHECK_STATUS(hmx_thermostat_new("http://x/", sn, NULL, NULL, 0, &t, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_new(host, "", NULL, NULL, 0, &t, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_new(NULL, NULL, NULL, NULL, 0, NULL, NULL, 0), bad);
    CHECK(t == untouched);
    CHECK_STATUS(hmx_thermostat_new(host, sn, NULL, "RAW-UNIX", 500, &t, err, sizeof err),
                 HMX_STATUS_OK);
    CHECK(t != untouched && err[0] == 0);

    /* Out-parameters NULL, and left alone on failure. */
    hmx_state state, before;
    memset(&state, 0x5a, sizeof state);
    memcpy(&before, &state, sizeof state);
    CHECK_STATUS(hmx_thermostat_state(NULL, &state, err, sizeof err), bad);
    CHECK(strstr(err, "thermostat is NULL") != NULL);
    CHECK_STATUS(hmx_thermostat_state(t, NULL, err, sizeof err), bad);
    CHECK(strstr(err, "state_out is NULL") != NULL);
    CHECK(memcmp(&state, &before, sizeof state) == 0);
    char *json = (char *)"untouched";
    char *const json_before = json;
    uint32_t now = 7;
    CHECK_STATUS(hmx_thermostat_telemetry(NULL, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_telemetry(t, NULL, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_parameters(NULL, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_parameters(t, NULL, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_device_time(NULL, &now, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_device_time(t, NULL, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_probe(NULL, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_probe(t, NULL, err, sizeof err), bad);
    /* No key: nothing to probe with, and nothing is sent. */
    CHECK_STATUS(hmx_thermostat_probe(t, &json, err, sizeof err), bad);
    CHECK(strstr(err, "key") != NULL);

    /* The named controls. */
    CHECK_STATUS(hmx_thermostat_set_setpoint(NULL, 21.0, err, sizeof err), bad);
    CHECK(strstr(err, "thermostat is NULL") != NULL);
    CHECK_STATUS(hmx_thermostat_set_power(NULL, true, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_set_mode(NULL, HMX_MODE_MANUAL, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_set_brightness(NULL, 5, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_set_child_lock(NULL, false, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_control(NULL, "power=on", err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_control(t, NULL, err, sizeof err), bad);
    CHECK(strstr(err, "controls is NULL") != NULL);
    CHECK_STATUS(hmx_thermostat_control(t, "power=\xff", err, sizeof err), bad);
    CHECK(strstr(err, "controls is not valid UTF-8") != NULL);
    CHECK_STATUS(hmx_thermostat_control(t, " , ", err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_control(t, "colour=red", err, sizeof err), bad);

    /* Parameters by id, and any request. */
    CHECK_STATUS(hmx_thermostat_set(NULL, "{\"23\":5}", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_set(t, NULL, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_set(t, "{\"23\":5}", NULL, err, sizeof err), bad);
    CHECK(strstr(err, "reply_json_out is NULL") != NULL);
    CHECK_STATUS(hmx_thermostat_set(t, "{\"23\":\"\xff\"}", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_set(t, "[1]", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_set(t, "{\"x\":1}", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_request(NULL, "{\"cmd\":4}", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_request(t, NULL, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_request(t, "{\"cmd\":4}", NULL, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_request(t, "\xff", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_request(t, "{}", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_request(t, "{\"time\":\"1\"}", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_thermostat_request(t, "{\"cmd\":", &json, err, sizeof err), bad);
    CHECK(json == json_before && now == 7);

    /* Another hmx object, or a handle already freed, is not a thermostat. */
    hmx_client_builder *builder = NULL;
    CHECK_STATUS(hmx_client_builder_new(&builder), HMX_STATUS_OK);
    CHECK_STATUS(hmx_thermostat_state((const hmx_thermostat *)builder, &state, err, sizeof err), bad);
    CHECK(strstr(err, "not a live hmx thermostat") != NULL);
    hmx_free(builder);
    hmx_thermostat *other = NULL;
    CHECK_STATUS(hmx_thermostat_new(host, sn, "BW4ERXAJXXXXXXXX", NULL, 0, &other, NULL, 0),
                 HMX_STATUS_OK);
    hmx_free(other);
    CHECK_STATUS(hmx_thermostat_set_brightness(other, 5, err, sizeof err), bad);
    CHECK(strstr(err, "not a live hmx thermostat") != NULL);

    /* Nothing listens there: the device does not answer (the first read). */
    hmx_status st = hmx_thermostat_telemetry(t, &json, err, sizeof err);
    CHECK(st == HMX_STATUS_NETWORK || st == HMX_STATUS_TIMEOUT);
    CHECK(json == json_before);

    /* The names C prints are Rust's. */
    CHECK(strcmp(hmx_mode_name(HMX_MODE_SCHEDULE), "schedule") == 0);
    CHECK(strcmp(hmx_mode_name(HMX_MODE_STANDBY), "standby") == 0);
    CHECK(strcmp(hmx_mode_name(HMX_MODE_MANUAL), "manual") == 0);
    CHECK(strcmp(hmx_mode_name(HMX_MODE_AWAY), "away") == 0);
    CHECK(strcmp(hmx_mode_name(HMX_MODE_TEMPORARY), "temporary") == 0);
    CHECK(strcmp(hmx_mode_name(HMX_MODE_TIMER), "timer") == 0);
    CHECK(strcmp(hmx_mode_name(2), "other") == 0 && strcmp(hmx_mode_name(-1), "other") == 0);
    CHECK(strcmp(hmx_control_type_name(HMX_CONTROL_FLOOR), "floor") == 0);
    CHECK(strcmp(hmx_control_type_name(HMX_CONTROL_AIR), "air") == 0);
    CHECK(strcmp(hmx_control_type_name(HMX_CONTROL_EXTENDED), "extended") == 0);
    CHECK(strcmp(hmx_control_type_name(300), "other") == 0);

    hmx_free(t);
    hmx_free(NULL);
    puts("misuse handled");
    return 0;
}

int main(int argc, char **argv) {
    CHECK(argc >= 2);
    const char *scenario = argv[1];
    if (strcmp(scenario, "fixture") == 0 && argc == 5 && strcmp(argv[3], "brightness") == 0) {
        return scenario_fixture(arg_or_null(argv[2]), argv[3], NULL, argv[4]);
    }
    if (strcmp(scenario, "fixture") == 0 && argc == 6 && strcmp(argv[3], "set") == 0) {
        return scenario_fixture(arg_or_null(argv[2]), argv[3], argv[4], argv[5]);
    }
    if (strcmp(scenario, "control") == 0 && argc == 6) {
        return scenario_control(arg_or_null(argv[2]), arg_or_null(argv[3]), argv[4], argv[5]);
    }
    if (strcmp(scenario, "probe") == 0 && argc == 3) {
        return scenario_probe(argv[2]);
    }
    if (strcmp(scenario, "controls") == 0) {
        return scenario_controls();
    }
    if (strcmp(scenario, "threads") == 0 && argc == 3) {
        return scenario_threads(strtoul(argv[2], NULL, 10));
    }
    if (strcmp(scenario, "misuse") == 0) {
        return scenario_misuse();
    }
    fprintf(stderr, "unknown scenario %s\n", scenario);
    return 2;
}
