// include/hmx.h must compile as C++ (extern "C" guard) and link against libhmx.
#include <cstdio>
#include <cstring>

#include "hmx.h"

int main() {
    static_assert(HMX_STATUS_PANIC == 10, "status values are part of the ABI");
    hmx_client *client = nullptr;
    char err[128];
    hmx_status st = hmx_client_new("http://example.com", 0, nullptr, &client, err, sizeof err);
    std::printf("%s %s %s\n", hmx_version(), hmx_status_name(st), err);
    hmx_free(client);
    return st == HMX_STATUS_INVALID_ARGUMENT && std::strlen(hmx_version()) > 0 ? 0 : 1;
}
