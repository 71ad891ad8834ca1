// include/hmx.hpp from an installed hmx: RAII owners, hmx::error, string views.
// Built by tests/install.rs with g++ -std=c++17 -Wall -Wextra -Wpedantic -Werror
// and run under valgrind against the stand-in cloud (HMX_BASE_URL, HMX_CA_FILE).
//
//   hmx_cpp fetch EMAIL PASSWORD   sn<TAB>name<TAB>key<TAB>code-at-634929122 per device
//   hmx_cpp fail EMAIL PASSWORD    the hmx::error a failed fetch throws, one line
//   hmx_cpp local                  the checks that need no cloud
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#include "hmx.hpp"

static_assert(!std::is_copy_constructible_v<hmx::client>, "owners do not copy");
static_assert(!std::is_copy_constructible_v<hmx::token>, "owners do not copy");
static_assert(!std::is_copy_constructible_v<hmx::device_list>, "owners do not copy");
static_assert(std::is_nothrow_move_constructible_v<hmx::device_list>, "owners move");
static_assert(std::is_base_of_v<std::runtime_error, hmx::error>, "a std::exception");

namespace {

int failures = 0;

void expect(bool ok, const char *what) {
    if (!ok) {
        std::cerr << "FAILED: " << what << '\n';
        ++failures;
    }
}

hmx::client cloud_client() {
    hmx::client_options options;
    if (const char *url = std::getenv("HMX_BASE_URL")) {
        options.base_url = url;
    }
    if (const char *ca = std::getenv("HMX_CA_FILE")) {
        std::ifstream file(ca);
        std::stringstream pem;
        pem << file.rdbuf();
        options.root_ca_pem = pem.str();
    }
    options.timeout = std::chrono::seconds(20);
    return hmx::client(options);
}

int fetch(const std::string &email, const std::string &password) {
    const hmx::client client = cloud_client();
    hmx::token token = client.login(email, password);
    expect(token.str().size() == 40, "a 40-character token");
    hmx::device_list devices = client.list_devices(token);

    // Moving hands the list over; the moved-from list is empty and frees nothing.
    hmx::device_list list = std::move(devices);
    expect(devices.empty() && devices.begin() == devices.end(), "moved-from list is empty");
    expect(std::distance(list.begin(), list.end()) == static_cast<std::ptrdiff_t>(list.size()),
           "iterators span the list");
    for (hmx::device d : list) {
        std::cout << d.sn() << '\t' << d.name() << '\t' << d.totp_key().value_or("-") << '\t'
                  << (d.totp_key() ? hmx::totp(d, 634929122u) : "-") << '\n';
    }
    if (list.size() > 1) {
        std::string sn(list[1].sn());
        std::transform(sn.begin(), sn.end(), sn.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        expect(list.find("  " + sn + " ").id() == list[1].id(), "find: trimmed, any case");
        std::string body = hmx::sign_request(list[1], R"({"par":[[125,7,"0"]]})", 634929122u);
        expect(body.rfind(R"({"sn":")" + std::string(list[1].sn()), 0) == 0, "signed body");
    }
    try {
        list.find("no such serial");
        expect(false, "find throws for an unknown serial");
    } catch (const hmx::error &e) {
        expect(e.status() == HMX_STATUS_NOT_FOUND, "NOT_FOUND");
        expect(e.status_name() == "HMX_STATUS_NOT_FOUND", "status_name");
    }
    try {
        (void)list.at(list.size());
        expect(false, "at() checks the index");
    } catch (const std::out_of_range &) {
    }
    // Tokens move too; the token is wiped and freed once, by its last owner.
    hmx::token kept = std::move(token);
    expect(!token && static_cast<bool>(kept), "moved token");
    return failures == 0 ? 0 : 1;
}

int fail(const std::string &email, const std::string &password) {
    try {
        const hmx::client client = cloud_client();
        hmx::device_list list = client.fetch_devices(email, password);
        std::cout << "no error: " << list.size() << " devices\n";
        return 1;
    } catch (const hmx::error &e) {
        std::cout << e.status_name() << " http=";
        if (e.http_status()) {
            std::cout << *e.http_status();
        } else {
            std::cout << "none";
        }
        std::cout << " retry_after=";
        if (e.retry_after()) {
            std::cout << e.retry_after()->count();
        } else {
            std::cout << "none";
        }
        std::cout << " what=" << e.what() << '\n';
        expect(std::string(e.what()) ==
                   std::string(e.status_name()) + ": " + std::string(e.message()),
               "what() is NAME: message");
        expect(std::string(e.what()).find(password) == std::string::npos, "no password");
        return failures == 0 ? 0 : 1;
    }
}

int local() {
    expect(hmx::version() == hmx_version(), "version");
    expect(hmx::totp(std::string("BW4ERXAJXXXXXXXX"), 0).size() == HMX_TOTP_DIGITS, "9 digits");
    try {
        hmx::client_options options;
        options.base_url = "http://example.com";
        hmx::client client(options);
        expect(false, "http:// to a remote host is refused");
    } catch (const hmx::error &e) {
        expect(e.status() == HMX_STATUS_INVALID_ARGUMENT, "INVALID_ARGUMENT");
        expect(!e.http_status() && !e.retry_after(), "no HTTP details without an answer");
        expect(!e.message().empty(), "a message");
    }
    try {
        hmx::client_options options;
        options.timeout = std::chrono::milliseconds(0);
        hmx::client client(options);
        expect(false, "a zero timeout is refused");
    } catch (const hmx::error &e) {
        expect(e.status() == HMX_STATUS_INVALID_ARGUMENT, "zero timeout");
    }
    return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "fetch" && argc == 4) {
        return fetch(argv[2], argv[3]);
    }
    if (mode == "fail" && argc == 4) {
        return fail(argv[2], argv[3]);
    }
    if (mode == "local" && argc == 2) {
        return local();
    }
    std::cerr << "usage: hmx_cpp fetch|fail EMAIL PASSWORD, or hmx_cpp local\n";
    return 2;
}
