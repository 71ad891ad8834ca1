// include/hmx.h must compile as C++ (extern "C" guard) and link against libhmx.
#include <cstdio>
#include <cstring>

#include "hmx.h"

// Names a C++ program may well use: the header must declare none of them.
enum class Field { SERIAL, PERIOD };
constexpr int DIGITS = 6;
enum unit { SECOND, PERIOD };
constexpr long long DEVICE_EPOCH_UNIX = 0;

int main() {
    static_assert(HMX_STATUS_PANIC == 10, "status values are part of the ABI");
    static_assert(PERIOD == 1 && DIGITS == 6 && DEVICE_EPOCH_UNIX == 0, "no hmx macro took these names");
    static_assert(HMX_TOTP_PERIOD == 30 && HMX_TOTP_DIGITS == 9, "hmx's own names");
    (void)Field::PERIOD;
    hmx_client_builder *builder = nullptr;
    if (hmx_client_builder_new(&builder) != HMX_STATUS_OK ||
        hmx_client_builder_base_url(builder, HMX_WELROK_URL) != HMX_STATUS_OK ||
        hmx_client_builder_timeout_ms(builder, 1000) != HMX_STATUS_OK) {
        return 1;
    }
    hmx_client *built = nullptr;
    char build_err[128];
    if (hmx_client_builder_build(builder, &built, build_err, sizeof build_err) != HMX_STATUS_OK) {
        return 1;
    }
    hmx_free(built);
    hmx_free(builder);
    if (hmx_last_http_status() != 0 || hmx_last_retry_after_s() != -1) {
        return 1;
    }
    static_assert(HMX_MODE_MANUAL == 3 && HMX_CONTROL_EXTENDED == 2, "mode and control codes");
    hmx_state state{};
    hmx_thermostat *thermostat = nullptr;
    char thermostat_err[128];
    if (hmx_thermostat_new("127.0.0.1:9", "058016000543464839373520000159", nullptr, "raw-unix",
                           500, &thermostat, thermostat_err, sizeof thermostat_err) != HMX_STATUS_OK ||
        hmx_thermostat_state(thermostat, nullptr, thermostat_err, sizeof thermostat_err) !=
            HMX_STATUS_INVALID_ARGUMENT ||
        state.has_floor_c || std::strcmp(hmx_mode_name(state.mode), "schedule") != 0 ||
        std::strcmp(hmx_control_type_name(HMX_CONTROL_AIR), "air") != 0) {
        return 1;
    }
    hmx_free(thermostat);
    // A site file that is not there is an empty site; nothing is written here.
    hmx_site *site = nullptr;
    char *json = nullptr;
    const char *queries[] = {"kitchen"};
    if (hmx_site_open("/nonexistent/hmx/site.json", &site, thermostat_err,
                      sizeof thermostat_err) != HMX_STATUS_OK ||
        hmx_site_set_timeouts(site, 500, 5) != HMX_STATUS_OK ||
        hmx_site_devices_json(site, &json, nullptr, 0) != HMX_STATUS_OK ||
        std::strcmp(json, "[]") != 0 ||
        hmx_site_state_many(site, queries, 1, nullptr, nullptr, 0) != HMX_STATUS_INVALID_ARGUMENT ||
        hmx_site_state(site, "kitchen", nullptr, nullptr, 0) != HMX_STATUS_INVALID_ARGUMENT) {
        return 1;
    }
    hmx_free(json);
    hmx_free(site);
    hmx_client *client = nullptr;
    char err[128];
    hmx_status st = hmx_client_new("http://example.com", 0, nullptr, &client, err, sizeof err);
    std::printf("%s %s %s\n", hmx_version(), hmx_status_name(st), err);
    hmx_free(client);
    return st == HMX_STATUS_INVALID_ARGUMENT && std::strlen(hmx_version()) > 0 ? 0 : 1;
}
