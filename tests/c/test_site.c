/*
 * A site from C; run by tests/c_api.rs under valgrind against the stand-in
 * cloud (HMX_BASE_URL, HMX_CA_FILE, HMX_PASSWORD) and stand-in thermostats
 * announcing on loopback at PORT. PATH is the site file. What a scenario
 * prints, Rust checks.
 *
 *   test_site sync PATH PORT EMAIL SN=HOST...   sync, then each SN's address set to HOST
 *   test_site use PORT PREFIX NAME CONTROL QUERY...
 *                     the site at $HMX_SITE (opened with NULL), no password: the state
 *                     of PREFIX, CONTROL written to NAME, a thermostat handle for NAME,
 *                     each QUERY's state from a thread of its own, all at once
 *   test_site rekey PATH PORT SN HOST CONTROL   SN now at HOST with a new key: CONTROL
 *                                               written, no password
 *   test_site many PATH PORT CONTROL QUERY...   CONTROL on every device, then on the
 *                                               QUERYs; every device's state
 *   test_site storage PATH TEXT                 opening PATH is HMX_STATUS_STORAGE
 *                                               naming PATH and saying TEXT
 *   test_site misuse PATH                       NULLs, bad text, handles hmx did not
 *                                               hand out, on the empty site at PATH
 */
#define _POSIX_C_SOURCE 200809L
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

/* The stand-in cloud's client, trusting its CA. */
static hmx_client *stand_in_client(void) {
    hmx_client_builder *b = NULL;
    hmx_client *client = NULL;
    char *pem = read_file(env("HMX_CA_FILE"));
    CHECK_STATUS(hmx_client_builder_new(&b), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_base_url(b, env("HMX_BASE_URL")), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_root_ca_pem(b, pem), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_timeout_ms(b, 30000), HMX_STATUS_OK);
    CHECK_STATUS(hmx_client_builder_build(b, &client, err, sizeof err), HMX_STATUS_OK);
    hmx_free(b);
    free(pem);
    return client;
}

/* The site at `path` (NULL: the default place) with the stand-in cloud,
 * discovery on `port` for 1.5 s, 3 s a request and 5 ms between requests. */
static hmx_site *open_site(const char *path, const char *port, int with_password) {
    hmx_site *site = NULL;
    CHECK_STATUS(hmx_site_open(path, &site, err, sizeof err), HMX_STATUS_OK);
    CHECK(site != NULL && err[0] == 0);
    hmx_client *client = stand_in_client();
    CHECK_STATUS(hmx_site_set_client(site, client), HMX_STATUS_OK);
    hmx_free(client); /* the site keeps its own */
    if (with_password) {
        CHECK_STATUS(hmx_site_set_password(site, env("HMX_PASSWORD")), HMX_STATUS_OK);
    }
    CHECK_STATUS(hmx_site_set_discovery(site, (uint16_t)strtoul(port, NULL, 10), 1500),
                 HMX_STATUS_OK);
    CHECK_STATUS(hmx_site_set_timeouts(site, 3000, 5), HMX_STATUS_OK);
    return site;
}

/* `LABEL TEXT`, then TEXT freed. */
static void print_json(const char *label, char *json) {
    CHECK(json != NULL);
    printf("%s %s\n", label, json);
    hmx_free(json);
}

static int scenario_sync(const char *path, const char *port, const char *email, int n,
                         char **addresses) {
    hmx_site *site = open_site(path, port, 1);
    char *json = NULL;
    CHECK_STATUS(hmx_site_sync(site, email, &json, err, sizeof err), HMX_STATUS_OK);
    print_json("report", json);
    for (int i = 0; i < n; i++) {
        char *sn = addresses[i], *host = strchr(sn, '=');
        CHECK(host != NULL);
        *host++ = '\0';
        CHECK_STATUS(hmx_site_set_address(site, sn, host, err, sizeof err), HMX_STATUS_OK);
        CHECK(err[0] == 0);
    }
    CHECK_STATUS(hmx_site_devices_json(site, &json, err, sizeof err), HMX_STATUS_OK);
    print_json("devices", json);
    CHECK_STATUS(hmx_site_path(site, &json, err, sizeof err), HMX_STATUS_OK);
    CHECK(strcmp(json, path) == 0);
    hmx_free(json);
    /* A second sync needs no email (the saved account) and no login (the saved token). */
    CHECK_STATUS(hmx_site_sync(site, NULL, &json, err, sizeof err), HMX_STATUS_OK);
    print_json("again", json);
    hmx_free(site);
    return 0;
}

/* One line per field the unit gave: `LABEL NAME=VALUE`. */
static void print_state(const char *label, const hmx_state *s) {
    if (s->has_floor_c) printf("%s floor_c=%.4f\n", label, s->floor_c);
    if (s->has_air_c) printf("%s air_c=%.4f\n", label, s->air_c);
    if (s->has_setpoint_c) printf("%s setpoint_c=%.4f\n", label, s->setpoint_c);
    if (s->has_powered) printf("%s powered=%d\n", label, s->powered);
    if (s->has_mode) printf("%s mode=%s\n", label, hmx_mode_name(s->mode));
    if (s->has_lan_lock) printf("%s lan_lock=%d\n", label, s->lan_lock);
    if (s->has_brightness) printf("%s brightness=%u\n", label, (unsigned)s->brightness);
}

struct state_call {
    hmx_site *site;
    const char *query;
    hmx_status status;
    hmx_state state;
    char message[256];
};

static void *read_state(void *arg) {
    struct state_call *call = arg;
    call->status =
        hmx_site_state(call->site, call->query, &call->state, call->message, sizeof call->message);
    return NULL;
}

static int scenario_use(const char *port, const char *prefix, const char *name,
                        const char *control, int n, char **queries) {
    hmx_site *site = open_site(NULL, port, 0);
    char *path = NULL;
    CHECK_STATUS(hmx_site_path(site, &path, err, sizeof err), HMX_STATUS_OK);
    CHECK(strcmp(path, env("HMX_SITE")) == 0);
    hmx_free(path);

    hmx_state state;
    CHECK_STATUS(hmx_site_state(site, prefix, &state, err, sizeof err), HMX_STATUS_OK);
    CHECK(err[0] == 0);
    print_state("state", &state);
    char *json = NULL;
    CHECK_STATUS(hmx_site_get_json(site, prefix, &json, err, sizeof err), HMX_STATUS_OK);
    print_json("device", json);

    CHECK_STATUS(hmx_site_control(site, name, control, err, sizeof err), HMX_STATUS_OK);
    puts("control HMX_STATUS_OK");
    /* Nothing the unit cannot take is sent. */
    CHECK_STATUS(hmx_site_control(site, name, "brightness=11", err, sizeof err),
                 HMX_STATUS_INVALID_ARGUMENT);
    printf("refused %s\n", err);

    /* A handle of its own, at the saved address with the key: it reads and writes. */
    hmx_thermostat *t = NULL;
    CHECK_STATUS(hmx_site_thermostat(site, name, &t, err, sizeof err), HMX_STATUS_OK);
    CHECK_STATUS(hmx_thermostat_state(t, &state, err, sizeof err), HMX_STATUS_OK);
    print_state("handle", &state);
    CHECK_STATUS(hmx_thermostat_control(t, control, err, sizeof err), HMX_STATUS_OK);
    hmx_free(t);

    /* Threads share the site; its calls run one at a time. */
    struct state_call calls[8];
    pthread_t threads[8];
    CHECK(n > 0 && n <= 8);
    for (int i = 0; i < n; i++) {
        calls[i] = (struct state_call){.site = site, .query = queries[i]};
        CHECK(pthread_create(&threads[i], NULL, read_state, &calls[i]) == 0);
    }
    for (int i = 0; i < n; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        if (calls[i].status != HMX_STATUS_OK) {
            fprintf(stderr, "%s: %s: %s\n", calls[i].query, hmx_status_name(calls[i].status),
                    calls[i].message);
        }
        CHECK(calls[i].status == HMX_STATUS_OK && calls[i].state.has_setpoint_c);
    }
    printf("threads %d\n", n);
    hmx_free(site);
    return 0;
}

static int scenario_rekey(const char *path, const char *port, const char *sn, const char *host,
                          const char *control) {
    hmx_site *site = open_site(path, port, 0);
    CHECK_STATUS(hmx_site_set_address(site, sn, host, err, sizeof err), HMX_STATUS_OK);
    hmx_status st = hmx_site_control(site, sn, control, err, sizeof err);
    printf("control %s %s\n", hmx_status_name(st), err);
    CHECK(st == HMX_STATUS_OK);
    hmx_free(site);
    return 0;
}

static int scenario_many(const char *path, const char *port, const char *control, int n,
                         char **queries) {
    hmx_site *site = open_site(path, port, 0);
    char *json = NULL;
    CHECK_STATUS(hmx_site_control_many(site, NULL, 0, control, &json, err, sizeof err),
                 HMX_STATUS_OK);
    print_json("all", json);
    CHECK_STATUS(hmx_site_control_many(site, (const char *const *)queries, (size_t)n, control,
                                       &json, err, sizeof err),
                 HMX_STATUS_OK);
    print_json("some", json);
    CHECK_STATUS(hmx_site_state_many(site, NULL, 0, &json, err, sizeof err), HMX_STATUS_OK);
    print_json("states", json);
    hmx_free(site);
    return 0;
}

/* One state call per query, in turn: `state QUERY STATUS MESSAGE` each
 * (a device that moved is found again; failures in a row are named). */
static int scenario_states(const char *path, const char *port, int n, char **queries) {
    hmx_site *site = open_site(path, port, 0);
    for (int i = 0; i < n; i++) {
        hmx_state s;
        err[0] = 0;
        hmx_status st = hmx_site_state(site, queries[i], &s, err, sizeof err);
        printf("state %s %s %s\n", queries[i], hmx_status_name(st), err);
    }
    hmx_free(site);
    return 0;
}

static int scenario_storage(const char *path, const char *text) {
    hmx_site *untouched = (hmx_site *)&err, *site = untouched;
    CHECK_STATUS(hmx_site_open(path, &site, err, sizeof err), HMX_STATUS_STORAGE);
    CHECK(site == untouched);
    printf("storage %s\n", err);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, text) != NULL);
    return 0;
}

static int scenario_misuse(const char *path) {
    const hmx_status bad = HMX_STATUS_INVALID_ARGUMENT;
    hmx_site *untouched = (hmx_site *)&err, *site = untouched;

    /* Opening. */
    CHECK_STATUS(hmx_site_open(path, NULL, err, sizeof err), bad);
    CHECK(strstr(err, "site_out is NULL") != NULL);
    CHECK_STATUS(hmx_site_open("\xff", &site, err, sizeof err), bad);
    CHECK(strstr(err, "path is not valid UTF-8") != NULL);
    CHECK_STATUS(hmx_site_open(NULL, NULL, NULL, 0), bad);
    CHECK(site == untouched);
    CHECK_STATUS(hmx_site_open(path, &site, err, sizeof err), HMX_STATUS_OK);
    CHECK(site != untouched && err[0] == 0);

    /* The settings. */
    hmx_client *client = NULL;
    CHECK_STATUS(hmx_client_new(NULL, 0, NULL, &client, NULL, 0), HMX_STATUS_OK);
    CHECK_STATUS(hmx_site_set_client(NULL, client), bad);
    CHECK_STATUS(hmx_site_set_client(site, NULL), bad);
    CHECK_STATUS(hmx_site_set_client(site, (const hmx_client *)site), bad);
    CHECK_STATUS(hmx_site_set_client(site, client), HMX_STATUS_OK);
    hmx_free(client);
    CHECK_STATUS(hmx_site_set_password(NULL, "secret"), bad);
    CHECK_STATUS(hmx_site_set_password(site, NULL), bad);
    CHECK_STATUS(hmx_site_set_password(site, "\xc3"), bad);
    CHECK_STATUS(hmx_site_set_discovery(NULL, 0, 0), bad);
    CHECK_STATUS(hmx_site_set_discovery(site, 0, 0), HMX_STATUS_OK);
    CHECK_STATUS(hmx_site_set_timeouts(NULL, 0, 0), bad);
    CHECK_STATUS(hmx_site_set_timeouts(site, 0, 0), HMX_STATUS_OK);

    /* Sync: an empty site has no account to sync from, and nothing is sent. */
    char *json = (char *)"untouched";
    char *const json_before = json;
    CHECK_STATUS(hmx_site_sync(NULL, NULL, &json, err, sizeof err), bad);
    CHECK(strstr(err, "site is NULL") != NULL);
    CHECK_STATUS(hmx_site_sync(site, NULL, NULL, err, sizeof err), bad);
    CHECK(strstr(err, "report_json_out is NULL") != NULL);
    CHECK_STATUS(hmx_site_sync(site, "\xff", &json, err, sizeof err), bad);
    CHECK(strstr(err, "email is not valid UTF-8") != NULL);
    CHECK_STATUS(hmx_site_sync(site, NULL, &json, err, sizeof err), bad);
    CHECK(strstr(err, "no account") != NULL);

    /* Reading it. */
    CHECK_STATUS(hmx_site_path(NULL, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_path(site, NULL, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_devices_json(NULL, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_devices_json(site, NULL, err, sizeof err), bad);
    CHECK(strstr(err, "json_out is NULL") != NULL);
    CHECK_STATUS(hmx_site_get_json(NULL, "kitchen", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_get_json(site, NULL, &json, err, sizeof err), bad);
    CHECK(strstr(err, "query is NULL") != NULL);
    CHECK_STATUS(hmx_site_get_json(site, "kitchen", NULL, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_get_json(site, "\xff", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_get_json(site, " ", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_get_json(site, "kitchen", &json, err, sizeof err),
                 HMX_STATUS_NOT_FOUND);
    CHECK(strstr(err, "empty") != NULL);
    CHECK(json == json_before);
    CHECK_STATUS(hmx_site_devices_json(site, &json, err, sizeof err), HMX_STATUS_OK);
    CHECK(strcmp(json, "[]") == 0);
    hmx_free(json);
    json = json_before;

    /* A thermostat handle. */
    hmx_thermostat *t_untouched = (hmx_thermostat *)&err, *t = t_untouched;
    CHECK_STATUS(hmx_site_thermostat(NULL, "kitchen", &t, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_thermostat(site, NULL, &t, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_thermostat(site, "kitchen", NULL, err, sizeof err), bad);
    CHECK(strstr(err, "thermostat_out is NULL") != NULL);
    CHECK_STATUS(hmx_site_thermostat(site, "kitchen", &t, err, sizeof err), HMX_STATUS_NOT_FOUND);
    CHECK(t == t_untouched);

    /* State and control. */
    hmx_state state, before;
    memset(&state, 0x5a, sizeof state);
    memcpy(&before, &state, sizeof state);
    CHECK_STATUS(hmx_site_state(NULL, "kitchen", &state, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_state(site, NULL, &state, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_state(site, "kitchen", NULL, err, sizeof err), bad);
    CHECK(strstr(err, "state_out is NULL") != NULL);
    CHECK_STATUS(hmx_site_state(site, "kitchen", &state, err, sizeof err), HMX_STATUS_NOT_FOUND);
    CHECK(memcmp(&state, &before, sizeof state) == 0);
    CHECK_STATUS(hmx_site_control(NULL, "kitchen", "power=on", err, sizeof err), bad);
    CHECK_STATUS(hmx_site_control(site, NULL, "power=on", err, sizeof err), bad);
    CHECK_STATUS(hmx_site_control(site, "kitchen", NULL, err, sizeof err), bad);
    CHECK(strstr(err, "controls is NULL") != NULL);
    CHECK_STATUS(hmx_site_control(site, "kitchen", "power=\xff", err, sizeof err), bad);
    /* Text that does not parse is refused before the device is looked for. */
    CHECK_STATUS(hmx_site_control(site, "kitchen", "colour=red", err, sizeof err), bad);
    CHECK_STATUS(hmx_site_control(site, "kitchen", "power=on", err, sizeof err),
                 HMX_STATUS_NOT_FOUND);

    /* Many at once. */
    const char *queries[] = {"kitchen", NULL};
    const char *not_utf8[] = {"kitchen", "\xff"};
    CHECK_STATUS(hmx_site_control_many(NULL, NULL, 0, "power=on", &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_control_many(site, NULL, 2, "power=on", &json, err, sizeof err), bad);
    CHECK(strstr(err, "queries is NULL") != NULL);
    CHECK_STATUS(hmx_site_control_many(site, queries, 2, "power=on", &json, err, sizeof err), bad);
    CHECK(strstr(err, "queries[1] is NULL") != NULL);
    CHECK_STATUS(hmx_site_control_many(site, not_utf8, 2, "power=on", &json, err, sizeof err),
                 bad);
    CHECK(strstr(err, "queries[1] is not valid UTF-8") != NULL);
    CHECK_STATUS(hmx_site_control_many(site, queries, 1, NULL, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_control_many(site, queries, 1, "colour=red", &json, err, sizeof err),
                 bad);
    CHECK_STATUS(hmx_site_control_many(site, queries, 1, "power=on", NULL, err, sizeof err), bad);
    CHECK(strstr(err, "results_json_out is NULL") != NULL);
    CHECK_STATUS(hmx_site_state_many(NULL, NULL, 0, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_state_many(site, NULL, 1, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_state_many(site, queries, 2, &json, err, sizeof err), bad);
    CHECK_STATUS(hmx_site_state_many(site, queries, 1, NULL, err, sizeof err), bad);
    CHECK(json == json_before);
    /* A device that is not there is its result, not the call's status. */
    CHECK_STATUS(hmx_site_control_many(site, queries, 1, "power=on", &json, err, sizeof err),
                 HMX_STATUS_OK);
    CHECK(strstr(json, "\"device\":\"kitchen\"") != NULL);
    CHECK(strstr(json, "\"status\":\"HMX_STATUS_NOT_FOUND\"") != NULL);
    hmx_free(json);
    CHECK_STATUS(hmx_site_state_many(site, NULL, 0, &json, err, sizeof err), HMX_STATUS_OK);
    CHECK(strcmp(json, "[]") == 0);
    hmx_free(json);
    json = json_before;

    /* Scheme and address. */
    CHECK_STATUS(hmx_site_set_scheme(NULL, "kitchen", "raw-unix", err, sizeof err), bad);
    CHECK_STATUS(hmx_site_set_scheme(site, NULL, "raw-unix", err, sizeof err), bad);
    CHECK_STATUS(hmx_site_set_scheme(site, "kitchen", NULL, err, sizeof err), bad);
    CHECK(strstr(err, "scheme is NULL") != NULL);
    CHECK_STATUS(hmx_site_set_scheme(site, "kitchen", "raw-3000", err, sizeof err), bad);
    CHECK(strstr(err, "unknown token scheme") != NULL);
    CHECK_STATUS(hmx_site_set_scheme(site, "kitchen", "raw-unix", err, sizeof err),
                 HMX_STATUS_NOT_FOUND);
    CHECK_STATUS(hmx_site_set_address(NULL, "kitchen", "127.0.0.1", err, sizeof err), bad);
    CHECK_STATUS(hmx_site_set_address(site, NULL, "127.0.0.1", err, sizeof err), bad);
    CHECK_STATUS(hmx_site_set_address(site, "kitchen", NULL, err, sizeof err), bad);
    CHECK(strstr(err, "address is NULL") != NULL);
    CHECK_STATUS(hmx_site_set_address(site, "kitchen", "127.0.0.1", err, sizeof err),
                 HMX_STATUS_NOT_FOUND);

    /* Another hmx object, or a site already freed, is not a site. */
    hmx_thermostat *other = NULL;
    CHECK_STATUS(hmx_thermostat_new("127.0.0.1:9", "058016000543464839373520000159", NULL, NULL,
                                    0, &other, NULL, 0),
                 HMX_STATUS_OK);
    CHECK_STATUS(hmx_site_devices_json((const hmx_site *)other, &json, err, sizeof err), bad);
    CHECK(strstr(err, "not a live hmx site") != NULL);
    CHECK_STATUS(hmx_site_set_password((hmx_site *)other, "secret"), bad);
    hmx_free(other);
    hmx_free(site);
    CHECK_STATUS(hmx_site_devices_json(site, &json, err, sizeof err), bad);
    CHECK(strstr(err, "not a live hmx site") != NULL);
    CHECK_STATUS(hmx_site_set_timeouts(site, 0, 0), bad);
    CHECK(json == json_before);
    hmx_free(site); /* ignored */
    puts("misuse handled");
    return 0;
}

int main(int argc, char **argv) {
    CHECK(argc >= 2);
    const char *scenario = argv[1];
    if (strcmp(scenario, "sync") == 0 && argc >= 5) {
        return scenario_sync(argv[2], argv[3], argv[4], argc - 5, argv + 5);
    }
    if (strcmp(scenario, "use") == 0 && argc >= 7) {
        return scenario_use(argv[2], argv[3], argv[4], argv[5], argc - 6, argv + 6);
    }
    if (strcmp(scenario, "rekey") == 0 && argc == 7) {
        return scenario_rekey(argv[2], argv[3], argv[4], argv[5], argv[6]);
    }
    if (strcmp(scenario, "many") == 0 && argc >= 5) {
        return scenario_many(argv[2], argv[3], argv[4], argc - 5, argv + 5);
    }
    if (strcmp(scenario, "states") == 0 && argc >= 5) {
        return scenario_states(argv[2], argv[3], argc - 4, argv + 4);
    }
    if (strcmp(scenario, "storage") == 0 && argc == 4) {
        return scenario_storage(argv[2], argv[3]);
    }
    if (strcmp(scenario, "misuse") == 0 && argc == 3) {
        return scenario_misuse(argv[2]);
    }
    fprintf(stderr, "unknown scenario %s\n", scenario);
    return 2;
}
