/*
 * hmx.hpp: a header-only C++17 layer over hmx.h.
 *
 *   hmx::client cloud;                                  // https://my.hmarex.com
 *   hmx::device_list devices = cloud.fetch_devices(email, password);
 *   for (hmx::device d : devices)
 *       std::cout << d.sn() << ' ' << d.name() << ' ' << d.totp_key().value_or("-") << '\n';
 *
 * Every object that owns memory from hmx frees it with hmx_free (which wipes
 * tokens and keys) when it goes out of scope; they move, never copy. Every
 * failure throws hmx::error, carrying the status, the library's message, and
 * the HTTP status and Retry-After seconds when the cloud answered with them.
 * String views returned here point into the owning object and live as long as
 * it does. Copies you make (std::string) are not wiped.
 */

#ifndef HMX_HPP
#define HMX_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "hmx.h"

namespace hmx {

namespace detail {

/*
 * The HTTP details of this thread's last failed call (0 when there was no
 * answer; -1 when the cloud named no wait): the one place this header asks
 * for them, right after the failure, on the thread that made the call.
 */
inline std::int32_t last_http_status() noexcept { return hmx_last_http_status(); }
inline std::int64_t last_retry_after_s() noexcept { return hmx_last_retry_after_s(); }

constexpr std::size_t err_len = 1024;

/* Owns one pointer that hmx handed out. */
template <typename T>
class owned {
public:
    owned() noexcept = default;
    explicit owned(T *ptr) noexcept : ptr_(ptr) {}
    owned(const owned &) = delete;
    owned &operator=(const owned &) = delete;
    owned(owned &&other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
    owned &operator=(owned &&other) noexcept {
        if (this != &other) {
            reset();
            ptr_ = std::exchange(other.ptr_, nullptr);
        }
        return *this;
    }
    ~owned() { reset(); }

    T *get() const noexcept { return ptr_; }
    void reset() noexcept {
        if (ptr_ != nullptr) {
            hmx_free(const_cast<void *>(static_cast<const void *>(ptr_)));
            ptr_ = nullptr;
        }
    }

private:
    T *ptr_ = nullptr;
};

}  // namespace detail

/* A failure reported by hmx. what() is "HMX_STATUS_NAME: message". */
class error : public std::runtime_error {
public:
    error(hmx_status status, const std::string &message, std::int32_t http_status = 0,
          std::int64_t retry_after_s = -1)
        : std::runtime_error(std::string(hmx_status_name(static_cast<int>(status))) + ": " +
                             message),
          status_(status),
          message_(message),
          http_status_(http_status),
          retry_after_s_(retry_after_s) {}

    hmx_status status() const noexcept { return status_; }
    /* e.g. "HMX_STATUS_AUTH"; a static string. */
    std::string_view status_name() const noexcept {
        return hmx_status_name(static_cast<int>(status_));
    }
    /* The library's message alone. It never holds the password, token or a key. */
    std::string_view message() const noexcept { return message_; }
    /* The HTTP status of the answer that failed, when there was one. */
    std::optional<int> http_status() const noexcept {
        return http_status_ > 0 ? std::optional<int>(http_status_) : std::nullopt;
    }
    /* How long the cloud asked to wait (429 with Retry-After in seconds). */
    std::optional<std::chrono::seconds> retry_after() const noexcept {
        return retry_after_s_ >= 0 ? std::optional<std::chrono::seconds>(retry_after_s_)
                                   : std::nullopt;
    }

private:
    hmx_status status_;
    std::string message_;
    std::int32_t http_status_;
    std::int64_t retry_after_s_;
};

namespace detail {

/* Throws hmx::error for a failed status, with this thread's HTTP details. */
inline void check(hmx_status status, const char *err = "") {
    if (status != HMX_STATUS_OK) {
        throw error(status, err, last_http_status(), last_retry_after_s());
    }
}

}  // namespace detail

/* The library's version, e.g. "0.1.0". */
inline std::string_view version() noexcept { return hmx_version(); }

/* Seconds since 2000-01-01T00:00:00Z by this machine's clock. */
inline std::uint32_t device_time_now() noexcept { return hmx_device_time_now(); }

/* A session token; hmx_free wipes it when this goes out of scope. */
class token {
public:
    token() noexcept = default;
    explicit token(char *owned_by_hmx) noexcept : ptr_(owned_by_hmx) {}

    std::string_view str() const noexcept {
        return ptr_.get() != nullptr ? std::string_view(ptr_.get()) : std::string_view();
    }
    const char *c_str() const noexcept { return ptr_.get(); }
    explicit operator bool() const noexcept { return ptr_.get() != nullptr; }

private:
    detail::owned<char> ptr_;
};

/* One device of a list; a view that lives as long as its device_list. */
class device {
public:
    explicit device(const hmx_device *d) noexcept : d_(d) {}

    std::int64_t id() const noexcept { return d_->id; }
    std::string_view sn() const noexcept { return d_->sn; }
    std::string_view name() const noexcept { return d_->name; }
    /* No value when the cloud has no key for this device. */
    std::optional<std::string_view> totp_key() const noexcept {
        return d_->totp_key != nullptr ? std::optional<std::string_view>(d_->totp_key)
                                       : std::nullopt;
    }
    const hmx_device *c_device() const noexcept { return d_; }

private:
    const hmx_device *d_;
};

/* Every device of an account; the keys are wiped when this goes out of scope. */
class device_list {
public:
    class iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = device;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = device;

        explicit iterator(const hmx_device *at) noexcept : at_(at) {}
        device operator*() const noexcept { return device(at_); }
        device operator[](difference_type n) const noexcept { return device(at_ + n); }
        iterator &operator++() noexcept { ++at_; return *this; }
        iterator operator++(int) noexcept { iterator was = *this; ++at_; return was; }
        iterator &operator--() noexcept { --at_; return *this; }
        iterator operator--(int) noexcept { iterator was = *this; --at_; return was; }
        iterator &operator+=(difference_type n) noexcept { at_ += n; return *this; }
        iterator &operator-=(difference_type n) noexcept { at_ -= n; return *this; }
        friend iterator operator+(iterator it, difference_type n) noexcept { return it += n; }
        friend iterator operator+(difference_type n, iterator it) noexcept { return it += n; }
        friend iterator operator-(iterator it, difference_type n) noexcept { return it -= n; }
        friend difference_type operator-(iterator a, iterator b) noexcept { return a.at_ - b.at_; }
        friend bool operator==(iterator a, iterator b) noexcept { return a.at_ == b.at_; }
        friend bool operator!=(iterator a, iterator b) noexcept { return a.at_ != b.at_; }
        friend bool operator<(iterator a, iterator b) noexcept { return a.at_ < b.at_; }
        friend bool operator>(iterator a, iterator b) noexcept { return a.at_ > b.at_; }
        friend bool operator<=(iterator a, iterator b) noexcept { return a.at_ <= b.at_; }
        friend bool operator>=(iterator a, iterator b) noexcept { return a.at_ >= b.at_; }

    private:
        const hmx_device *at_;
    };

    device_list() noexcept = default;
    explicit device_list(hmx_device_list *owned_by_hmx) noexcept : list_(owned_by_hmx) {}

    std::size_t size() const noexcept { return list_.get() != nullptr ? list_.get()->len : 0; }
    bool empty() const noexcept { return size() == 0; }
    /* Unchecked, like std::vector's. */
    device operator[](std::size_t i) const noexcept { return device(&list_.get()->items[i]); }
    device at(std::size_t i) const {
        if (i >= size()) {
            throw std::out_of_range("hmx::device_list::at: no device " + std::to_string(i));
        }
        return (*this)[i];
    }
    iterator begin() const noexcept { return iterator(size() != 0 ? list_.get()->items : nullptr); }
    iterator end() const noexcept { return begin() + static_cast<std::ptrdiff_t>(size()); }

    /* The device whose serial is sn (trimmed, ASCII case-insensitive);
       hmx::error with HMX_STATUS_NOT_FOUND when there is none. */
    device find(const std::string &sn) const {
        const hmx_device *found = nullptr;
        hmx_status status = hmx_find_device(list_.get(), sn.c_str(), &found);
        if (status == HMX_STATUS_NOT_FOUND) {
            throw error(status, "no device with serial \"" + sn + "\"");
        }
        detail::check(status, "hmx_find_device failed");
        return device(found);
    }

    const hmx_device_list *c_list() const noexcept { return list_.get(); }

private:
    detail::owned<hmx_device_list> list_;
};

/* Settings for a client; every field is optional. */
struct client_options {
    /* Default https://my.hmarex.com; https only, or http for loopback hosts. */
    std::optional<std::string> base_url;
    /* Bounds each request, connecting included; default 10 s to connect, 30 s a request. */
    std::optional<std::chrono::milliseconds> timeout;
    /* PEM text to trust instead of the public roots. */
    std::optional<std::string> root_ca_pem;
};

/* A connection to one cloud. It may be shared by threads once made. */
class client {
public:
    client() : client(client_options{}) {}

    explicit client(const client_options &options) {
        std::uint32_t timeout_ms = 0;
        if (options.timeout) {
            auto ms = options.timeout->count();
            if (ms <= 0 || ms > static_cast<decltype(ms)>(UINT32_MAX)) {
                throw error(HMX_STATUS_INVALID_ARGUMENT,
                            "timeout must be 1 ms to 4294967295 ms");
            }
            timeout_ms = static_cast<std::uint32_t>(ms);
        }
        char err[detail::err_len] = "";
        hmx_client *made = nullptr;
        hmx_status status = hmx_client_new(
            options.base_url ? options.base_url->c_str() : nullptr, timeout_ms,
            options.root_ca_pem ? options.root_ca_pem->c_str() : nullptr, &made, err, sizeof err);
        detail::check(status, err);
        client_ = detail::owned<hmx_client>(made);
    }

    /* POST /api/login/: the session token. */
    hmx::token login(const std::string &email, const std::string &password) const {
        char err[detail::err_len] = "";
        char *out = nullptr;
        hmx_status status =
            hmx_login(client_.get(), email.c_str(), password.c_str(), &out, err, sizeof err);
        detail::check(status, err);
        return hmx::token(out);
    }

    /* GET /api/device/ and every following page. */
    device_list list_devices(const hmx::token &token) const {
        char err[detail::err_len] = "";
        hmx_device_list *out = nullptr;
        hmx_status status = hmx_list_devices(client_.get(), token.c_str(), &out, err, sizeof err);
        detail::check(status, err);
        return device_list(out);
    }

    /* Both steps; the token is wiped before this returns. */
    device_list fetch_devices(const std::string &email, const std::string &password) const {
        return list_devices(login(email, password));
    }

    const hmx_client *c_client() const noexcept { return client_.get(); }

private:
    detail::owned<hmx_client> client_;
};

/* The 9-digit local-API token of a device at device_time (default: now). */
inline std::string totp(const device &d, std::uint32_t device_time = device_time_now()) {
    if (d.c_device()->totp_key == nullptr) {
        throw error(HMX_STATUS_INVALID_ARGUMENT, "the device has no TOTP key");
    }
    char code[HMX_TOTP_DIGITS + 1] = "";
    detail::check(hmx_totp(d.c_device()->totp_key, device_time, code, sizeof code),
                  "hmx_totp failed");
    return code;
}

/* The 9-digit local-API token for a key you hold, at device_time (default: now). */
inline std::string totp(const std::string &totp_key,
                        std::uint32_t device_time = device_time_now()) {
    char code[HMX_TOTP_DIGITS + 1] = "";
    detail::check(hmx_totp(totp_key.c_str(), device_time, code, sizeof code),
                  "totp_key holds a NUL or is not UTF-8");
    return code;
}

/* The signed local-API body for a device: sn, time and auth first, then
   data_json's members. data_json is a JSON object without sn, time or auth. */
inline std::string sign_request(const device &d, const std::string &data_json,
                                std::uint32_t device_time = device_time_now()) {
    if (d.c_device()->totp_key == nullptr) {
        throw error(HMX_STATUS_INVALID_ARGUMENT, "the device has no TOTP key");
    }
    char err[detail::err_len] = "";
    char *body = nullptr;
    hmx_status status = hmx_sign_request(d.c_device()->totp_key, d.c_device()->sn, device_time,
                                         data_json.c_str(), &body, err, sizeof err);
    detail::check(status, err);
    detail::owned<char> owned(body);
    return std::string(owned.get());
}

}  // namespace hmx

#endif /* HMX_HPP */
