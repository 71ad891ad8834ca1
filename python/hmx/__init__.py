"""hmx for Python: TOTP keys of Terneo and Welrok thermostats, through libhmx.

One stdlib-only module (ctypes) over the hmx C library::

    import hmx
    with hmx.Client() as client:                      # https://my.hmarex.com
        token = client.login("you@example.com", "secret")
        for device in client.list_devices(token):
            print(device.sn, device.name, device.totp_key)
    print(hmx.totp(device.totp_key))                  # 9-digit local-API token

The library is looked for in this order: next to this module (where the
wheel, ``pip install .``, puts it); the path in ``HMX_LIB``; ``target/release``
then ``target/debug`` of the repository this file sits in;
``ctypes.util.find_library("hmx")``.

Ctrl-C: the calls that wait on the network run in a worker thread while the
calling thread waits in short slices, so Ctrl-C raises ``KeyboardInterrupt``
at once instead of after the request's timeout.

Secrets: libhmx wipes the token, the keys and every response buffer when it
frees them, but Python strings cannot be wiped. Tokens and keys handed to
Python (``str`` values returned here, ``Device.totp_key``) live in memory
until they are garbage-collected, and the password you pass in is yours to
handle. ``repr(Device)`` does not show the key.

Errors: every failing call raises a subclass of :class:`HmxError` carrying
the library's status code, status name and message. Wrong argument types
raise :class:`TypeError` before anything reaches the library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import math
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Union

__all__ = [
    "version", "Client", "Device", "fetch_devices", "find_device", "totp",
    "device_time_now", "sign_request", "HmxError", "InvalidArgumentError",
    "AuthError", "RateLimitedError", "NetworkError", "HmxTimeoutError",
    "TlsError", "HttpError", "ProtocolError", "NotFoundError", "PanicError",
    "TOTP_DIGITS", "TERNEO_URL", "WELROK_URL", "BlockedError", "Found", "discover",
    "Thermostat", "Parameter", "DISCOVERY_PORT",
]

TOTP_DIGITS = 9
#: Terneo's cloud, the default base URL.
TERNEO_URL = "https://my.hmarex.com"
#: Welrok's cloud: the same server software and protocol.
WELROK_URL = "https://app.welrok.com"
_ERR_LEN = 1024


# ---------------------------------------------------------------- errors

class HmxError(Exception):
    """A failure reported by libhmx: ``status`` (int), ``name`` and ``message``;
    ``http_status`` (int or None), the HTTP status of the answer behind it; and
    ``retry_after`` (seconds or None), the wait the cloud asked for."""

    status = -1
    name = "HMX_STATUS_UNKNOWN"

    def __init__(self, message: str, status: Optional[int] = None, name: Optional[str] = None,
                 http_status: Optional[int] = None, retry_after: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after
        if status is not None:
            self.status = status
        if name is not None:
            self.name = name

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


class InvalidArgumentError(HmxError, ValueError):
    """An unusable argument: bad URL or PEM, NUL in a string, value out of range."""
    status, name = 1, "HMX_STATUS_INVALID_ARGUMENT"


class AuthError(HmxError):
    """The cloud refused the credentials (login) or the token (device list)."""
    status, name = 2, "HMX_STATUS_AUTH"


class RateLimitedError(HmxError):
    """The cloud answered 429 Too Many Requests."""
    status, name = 3, "HMX_STATUS_RATE_LIMITED"


class NetworkError(HmxError):
    """DNS failure, connection refused, reset or dropped."""
    status, name = 4, "HMX_STATUS_NETWORK"


class HmxTimeoutError(HmxError, TimeoutError):
    """A connect or request timeout expired."""
    status, name = 5, "HMX_STATUS_TIMEOUT"


class TlsError(HmxError):
    """Certificate verification or the TLS handshake failed."""
    status, name = 6, "HMX_STATUS_TLS"


class HttpError(HmxError):
    """An unexpected HTTP status, including any redirect."""
    status, name = 7, "HMX_STATUS_HTTP"


class ProtocolError(HmxError):
    """The answer broke the protocol: not JSON, wrong shape, too large, foreign link."""
    status, name = 8, "HMX_STATUS_PROTOCOL"


class NotFoundError(HmxError, LookupError):
    """The device looked for is not in the list."""
    status, name = 9, "HMX_STATUS_NOT_FOUND"


class PanicError(HmxError):
    """libhmx caught an internal panic. Please report it."""
    status, name = 10, "HMX_STATUS_PANIC"


class BlockedError(HmxError):
    """The thermostat refused the request (``{"success":"block"}``): LAN locking
    is on and the token was missing or wrong."""
    status, name = 11, "HMX_STATUS_BLOCKED"


_ERRORS = {cls.status: cls for cls in (
    InvalidArgumentError, AuthError, RateLimitedError, NetworkError, HmxTimeoutError,
    TlsError, HttpError, ProtocolError, NotFoundError, PanicError, BlockedError)}


# ---------------------------------------------------------------- the library

class _Device(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int64), ("sn", ctypes.c_void_p),
                ("name", ctypes.c_void_p), ("totp_key", ctypes.c_void_p)]


class _DeviceList(ctypes.Structure):
    _fields_ = [("len", ctypes.c_size_t), ("items", ctypes.POINTER(_Device))]


class _Found(ctypes.Structure):
    _fields_ = [("sn", ctypes.c_void_p), ("ip", ctypes.c_void_p), ("hw", ctypes.c_void_p),
                ("connection", ctypes.c_void_p), ("wifi_dbm", ctypes.c_int32),
                ("cloud", ctypes.c_bool)]


class _FoundList(ctypes.Structure):
    _fields_ = [("len", ctypes.c_size_t), ("items", ctypes.POINTER(_Found))]


def _candidates() -> List[str]:
    here = Path(__file__).resolve().parent
    names = ["libhmx.so", "libhmx.so.0", "libhmx.dylib", "hmx.dll"]
    places = [str(here / n) for n in names]  # bundled by the wheel: first
    if os.environ.get("HMX_LIB"):
        places.append(os.environ["HMX_LIB"])
    repo = here.parent.parent  # python/hmx/ -> the repository
    for profile in ("release", "debug"):
        places += [str(repo / "target" / profile / n) for n in names]
    return places


def _load() -> ctypes.CDLL:
    tried = []
    for place in _candidates():
        tried.append(place)
        if os.path.exists(place):
            return ctypes.CDLL(place)
    found = ctypes.util.find_library("hmx")
    tried.append(f'ctypes.util.find_library("hmx") ({found or "nothing"})')
    if found:
        try:
            return ctypes.CDLL(found)
        except OSError as e:
            tried[-1] += f": {e}"
    raise ImportError("libhmx not found (build it with `cargo build --release`); tried: "
                      + ", ".join(tried))


_lib = _load()

# Calls that wait on the network: they run through _interruptible.
_BLOCKING = {"hmx_login", "hmx_list_devices", "hmx_discover", "hmx_local_request", "hmx_local_set",
             "hmx_local_parameters", "hmx_local_device_time"}
_SLICE_S = 0.1
# The HTTP details of a failed call that ran in a worker thread, handed to the caller's thread.
_worker_details = threading.local()


def _details_here() -> Any:
    """(HTTP status, Retry-After) of this thread's last failed libhmx call."""
    return int(_lib.hmx_last_http_status()), int(_lib.hmx_last_retry_after_s())


def _interruptible(fn: Any) -> Any:
    """Wraps a blocking foreign call so that Ctrl-C interrupts the caller.

    Python runs signal handlers only between bytecodes of the main thread, so
    a main thread blocked inside C would see Ctrl-C only when the call returns
    (after the request timeout, 30 s by default). Here the call runs in a
    worker thread (ctypes releases the GIL) and the caller waits in short
    slices, so KeyboardInterrupt is raised within one slice. The abandoned
    call finishes in the background; whatever it then hands out through an
    out-pointer is freed (and wiped) with hmx_free, since nobody will.
    """
    def free_outputs(args: Any) -> None:
        for arg in args:
            out = getattr(arg, "_obj", None)  # what ctypes.byref() points at
            if isinstance(out, ctypes.c_void_p) and out.value:
                _lib.hmx_free(out)

    def call(*args: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return fn(*args)  # signals reach the main thread only
        outcome: List[Any] = []
        lock = threading.Lock()
        abandoned = []
        done = threading.Event()

        def work() -> None:
            try:
                status = fn(*args)
                # libhmx keeps them per thread: read them on this one.
                result = (True, status, _details_here() if status else None)
            except BaseException as e:  # re-raised in the caller
                result = (False, e)
            with lock:
                outcome.append(result)
                if abandoned and result[:2] == (True, 0):
                    free_outputs(args)
            done.set()

        threading.Thread(target=work, name=f"hmx:{fn.__name__}", daemon=True).start()
        try:
            while not done.wait(_SLICE_S):
                pass
        except BaseException:
            with lock:
                if outcome and outcome[0][:2] == (True, 0):
                    free_outputs(args)  # finished meanwhile, but nobody takes it
                abandoned.append(True)
            raise
        ok, result, *details = outcome[0]
        if not ok:
            raise result
        _worker_details.value = details[0]
        return result

    call.__name__ = fn.__name__
    return call


_c = ctypes
_status = _c.c_int
for _name, _args, _res in [
    ("hmx_version", [], _c.c_void_p),
    ("hmx_status_name", [_c.c_int], _c.c_void_p),
    ("hmx_client_new", [_c.c_char_p, _c.c_uint32, _c.c_char_p, _c.POINTER(_c.c_void_p),
                        _c.c_char_p, _c.c_size_t], _status),
    ("hmx_login", [_c.c_void_p, _c.c_char_p, _c.c_char_p, _c.POINTER(_c.c_void_p),
                   _c.c_char_p, _c.c_size_t], _status),
    ("hmx_list_devices", [_c.c_void_p, _c.c_char_p, _c.POINTER(_c.c_void_p),
                          _c.c_char_p, _c.c_size_t], _status),
    ("hmx_find_device", [_c.c_void_p, _c.c_char_p, _c.POINTER(_c.c_void_p)], _status),
    ("hmx_device_extra_json", [_c.c_void_p, _c.c_size_t, _c.POINTER(_c.c_void_p)], _status),
    ("hmx_client_builder_new", [_c.POINTER(_c.c_void_p)], _status),
    ("hmx_client_builder_base_url", [_c.c_void_p, _c.c_char_p], _status),
    ("hmx_client_builder_timeout_ms", [_c.c_void_p, _c.c_uint32], _status),
    ("hmx_client_builder_connect_timeout_ms", [_c.c_void_p, _c.c_uint32], _status),
    ("hmx_client_builder_root_ca_pem", [_c.c_void_p, _c.c_char_p], _status),
    ("hmx_client_builder_accept_language", [_c.c_void_p, _c.c_char_p], _status),
    ("hmx_client_builder_proxy", [_c.c_void_p, _c.c_char_p], _status),
    ("hmx_client_builder_system_roots", [_c.c_void_p], _status),
    ("hmx_client_builder_build", [_c.c_void_p, _c.POINTER(_c.c_void_p), _c.c_char_p, _c.c_size_t],
     _status),
    ("hmx_last_http_status", [], _c.c_int32),
    ("hmx_last_retry_after_s", [], _c.c_int64),
    ("hmx_discover", [_c.c_uint16, _c.c_uint32, _c.POINTER(_c.c_void_p), _c.c_char_p, _c.c_size_t],
     _status),
    ("hmx_local_request", [_c.c_char_p, _c.c_char_p, _c.c_char_p, _c.c_char_p, _c.c_uint32,
                           _c.POINTER(_c.c_void_p), _c.c_char_p, _c.c_size_t], _status),
    ("hmx_local_set", [_c.c_char_p, _c.c_char_p, _c.c_char_p, _c.c_char_p, _c.c_uint32,
                       _c.POINTER(_c.c_void_p), _c.c_char_p, _c.c_size_t], _status),
    ("hmx_local_parameters", [_c.c_char_p, _c.c_char_p, _c.c_uint32, _c.POINTER(_c.c_void_p),
                              _c.c_char_p, _c.c_size_t], _status),
    ("hmx_local_device_time", [_c.c_char_p, _c.c_char_p, _c.c_uint32, _c.POINTER(_c.c_uint32),
                               _c.c_char_p, _c.c_size_t], _status),
    ("hmx_free", [_c.c_void_p], None),
    ("hmx_totp", [_c.c_char_p, _c.c_uint32, _c.c_char_p, _c.c_size_t], _status),
    ("hmx_device_time_now", [], _c.c_uint32),
    ("hmx_sign_request", [_c.c_char_p, _c.c_char_p, _c.c_uint32, _c.c_char_p,
                          _c.POINTER(_c.c_void_p), _c.c_char_p, _c.c_size_t], _status),
]:
    try:
        _fn = getattr(_lib, _name)
    except AttributeError:
        raise ImportError(f"{_lib._name} lacks {_name}: it is older than this module; "
                          "rebuild it with `cargo build --release`") from None
    _fn.argtypes = _args
    _fn.restype = _res
    if _name in _BLOCKING:
        setattr(_lib, _name, _interruptible(_fn))


def _static_string(ptr: Optional[int]) -> str:
    return ctypes.string_at(ptr).decode("utf-8") if ptr else ""


def _take_string(ptr: ctypes.c_void_p) -> str:
    """Copies a string hmx allocated, then frees (and so wipes) hmx's copy."""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        _lib.hmx_free(ptr)


def _call(fn: Any, *args: Any, err: Optional[ctypes.Array] = None) -> None:
    """Calls a fallible libhmx function; raises the HmxError subclass for a
    status other than 0, with the failure's HTTP details. They are per thread
    in libhmx: read here, on the thread that made the call, or handed over by
    _interruptible from the worker thread that made it."""
    _worker_details.value = None
    status = fn(*args)
    if status == 0:
        return
    http_status, retry_after = _worker_details.value or _details_here()
    http_status = http_status or None
    message = err.value.decode("utf-8", "replace") if err is not None else ""
    cls = _ERRORS.get(status, HmxError)
    raise cls(message or "failed", status, _static_string(_lib.hmx_status_name(status)),
              http_status=http_status, retry_after=None if retry_after < 0 else retry_after)


def _text(value: Any, what: str, optional: bool = False) -> Optional[bytes]:
    """A str argument as NUL-terminated UTF-8; TypeError for other types."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str{' or None' if optional else ''}, "
                        f"not {type(value).__name__}")
    if "\0" in value:
        raise InvalidArgumentError(f"{what} contains a NUL character")
    return value.encode("utf-8", "surrogatepass")


def _device_time(value: Optional[int]) -> int:
    if value is None:
        return device_time_now()
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"device_time must be int or None, not {type(value).__name__}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgumentError("device_time must be 0 to 4294967295")
    return value


# ---------------------------------------------------------------- API

def version() -> str:
    """The libhmx version, e.g. ``"0.1.0"``."""
    return _static_string(_lib.hmx_version())


# The crate's version: the module and the library it ships with are one release.
__version__ = version()


@dataclass(frozen=True)
class Device:
    """One thermostat of the account. ``totp_key`` is None when the cloud has none."""
    id: int
    sn: str
    name: str
    totp_key: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class Device:
    """One thermostat of the account. ``totp_key`` is None when the cloud has
    none; ``extra`` holds every other field the cloud sent (``type``,
    ``version_name``, ``data``, ...), in its order."""
    id: int
    sn: str
    name: str
    totp_key: Optional[str] = field(default=None, repr=False)
    extra: Dict[str, Any] = field(default_factory=dict, repr=False, hash=False)


def _seconds_ms(value: Any, what: str) -> int:
    """A positive number of seconds as whole milliseconds for libhmx."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    if not (value > 0 and math.isfinite(value) and value * 1000 <= 0xFFFFFFFF):
        raise InvalidArgumentError(f"{what} must be more than 0 and at most 4294967 seconds")
    return max(1, math.ceil(value * 1000))


class Client:
    """A connection to one cloud; share it between threads freely.

    ``base_url`` defaults to :data:`TERNEO_URL` (https only, or http for
    loopback hosts); ``timeout`` (seconds, default 30) bounds each request,
    connecting included; ``connect_timeout`` (seconds, default 10) bounds
    connecting (TCP and TLS handshake); ``root_ca_pem`` (PEM text or bytes)
    replaces the public roots, and ``roots="system"`` trusts the operating
    system's store instead (``"bundled"``, the default, is the public roots
    built into libhmx); ``accept_language`` picks the language of the cloud's
    messages; ``proxy`` is an ``http://[user:password@]host[:port]`` proxy
    (used with CONNECT, for https only), ``""`` for none, or None to follow
    the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``). Every
    setting is checked here, as the Rust ``ClientBuilder::build`` checks it.
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, base_url: Optional[str] = None, timeout: Optional[float] = 30,
                 connect_timeout: Optional[float] = 10,
                 root_ca_pem: Union[str, bytes, None] = None, accept_language: str = "en",
                 proxy: Optional[str] = None, roots: str = "bundled"):
        self._ptr: Optional[int] = None
        url = _text(base_url, "base_url", optional=True)
        timeout_ms = None if timeout is None else _seconds_ms(timeout, "timeout")
        connect_ms = None if connect_timeout is None else _seconds_ms(connect_timeout, "connect_timeout")
        if isinstance(root_ca_pem, str):
            pem = _text(root_ca_pem, "root_ca_pem")
        elif isinstance(root_ca_pem, (bytes, bytearray)):
            if b"\0" in root_ca_pem:
                raise InvalidArgumentError("root_ca_pem contains a NUL byte")
            pem = bytes(root_ca_pem)
        elif root_ca_pem is None:
            pem = None
        else:
            raise TypeError(f"root_ca_pem must be str, bytes or None, not {type(root_ca_pem).__name__}")
        lang = _text(accept_language, "accept_language")
        proxy_b = _text(proxy, "proxy", optional=True)
        if not isinstance(roots, str):
            raise TypeError(f"roots must be str, not {type(roots).__name__}")
        if roots not in ("bundled", "system"):
            raise InvalidArgumentError(f"roots must be 'bundled' or 'system', not {roots!r}")
        if roots == "system" and pem is not None:
            raise InvalidArgumentError("give root_ca_pem or roots='system', not both")
        builder = ctypes.c_void_p()
        _call(_lib.hmx_client_builder_new, ctypes.byref(builder))
        try:
            if url is not None:
                _call(_lib.hmx_client_builder_base_url, builder, url)
            if timeout_ms is not None:
                _call(_lib.hmx_client_builder_timeout_ms, builder, timeout_ms)
            if connect_ms is not None:
                _call(_lib.hmx_client_builder_connect_timeout_ms, builder, connect_ms)
            if pem is not None:
                _call(_lib.hmx_client_builder_root_ca_pem, builder, pem)
            if roots == "system":
                _call(_lib.hmx_client_builder_system_roots, builder)
            if proxy_b is not None:
                # "" means no proxy: NULL to libhmx.
                _call(_lib.hmx_client_builder_proxy, builder, proxy_b or None)
            _call(_lib.hmx_client_builder_accept_language, builder, lang)
            handle = ctypes.c_void_p()
            err = ctypes.create_string_buffer(_ERR_LEN)
            _call(_lib.hmx_client_builder_build, builder, ctypes.byref(handle), err, _ERR_LEN, err=err)
        finally:
            _lib.hmx_free(builder)
        self._ptr = handle.value

    def _handle(self) -> int:
        if self._ptr is None:
            raise InvalidArgumentError("the client is closed")
        return self._ptr

    def login(self, email: str, password: str) -> str:
        """Logs in and returns the session token."""
        email_b, password_b = _text(email, "email"), _text(password, "password")
        token = ctypes.c_void_p()
        err = ctypes.create_string_buffer(_ERR_LEN)
        _call(_lib.hmx_login, self._handle(), email_b, password_b, ctypes.byref(token), err, _ERR_LEN,
              err=err)
        return _take_string(token)

    def list_devices(self, token: str) -> List[Device]:
        """Every device on every page, in the cloud's order."""
        token_b = _text(token, "token")
        handle = ctypes.c_void_p()
        err = ctypes.create_string_buffer(_ERR_LEN)
        _call(_lib.hmx_list_devices, self._handle(), token_b, ctypes.byref(handle), err, _ERR_LEN,
              err=err)
        try:
            listing = ctypes.cast(handle, ctypes.POINTER(_DeviceList)).contents
            devices = []
            for i in range(listing.len):
                d = listing.items[i]
                extra = ctypes.c_void_p()
                _call(_lib.hmx_device_extra_json, handle, i, ctypes.byref(extra))
                devices.append(Device(id=d.id, sn=_static_string(d.sn), name=_static_string(d.name),
                                      totp_key=_static_string(d.totp_key) if d.totp_key else None,
                                      extra=json.loads(_take_string(extra))))
            return devices
        finally:
            _lib.hmx_free(handle)

    def close(self) -> None:
        """Frees the client; later calls raise InvalidArgumentError. Safe to repeat."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            _lib.hmx_free(ptr)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_ptr", None) is not None:
            self.close()


def fetch_devices(email: str, password: str, **client_kwargs: Any) -> List[Device]:
    """Logs in and lists the devices with a client made from ``client_kwargs``."""
    _text(email, "email"), _text(password, "password")
    with Client(**client_kwargs) as client:
        return client.list_devices(client.login(email, password))


def _fold(s: str) -> str:
    return s.strip().translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def find_device(devices: Iterable[Device], sn: str) -> Device:
    """The device whose serial is ``sn``, compared as libhmx does: trimmed,
    ASCII case-insensitive. Raises NotFoundError when there is none."""
    wanted = _fold(_text(sn, "sn").decode("utf-8"))
    for device in devices:
        if _fold(device.sn) == wanted:
            return device
    raise NotFoundError(f"no device with serial {sn.strip()!r}")


def device_time_now() -> int:
    """Seconds since 2000-01-01T00:00:00Z by this machine's clock."""
    return int(_lib.hmx_device_time_now())


def totp(totp_key: str, device_time: Optional[int] = None) -> str:
    """The 9-digit local-API token for ``device_time`` (default: now)."""
    key = _text(totp_key, "totp_key")
    when = _device_time(device_time)
    buf = ctypes.create_string_buffer(TOTP_DIGITS + 1)
    _call(_lib.hmx_totp, key, when, buf, len(buf))
    return buf.value.decode("ascii")


def sign_request(totp_key: str, sn: str, data: Union[Dict[str, Any], str],
                 device_time: Optional[int] = None) -> str:
    """The signed local-API body: sn, time and auth first, then ``data``'s
    members in order. ``data`` is a dict or a JSON object text without
    ``sn``, ``time`` or ``auth``."""
    key, sn_b = _text(totp_key, "totp_key"), _text(sn, "sn")
    if isinstance(data, dict):
        data = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    data_b = _text(data, "data")
    when = _device_time(device_time)
    body = ctypes.c_void_p()
    err = ctypes.create_string_buffer(_ERR_LEN)
    _call(_lib.hmx_sign_request, key, sn_b, when, data_b, ctypes.byref(body), err, _ERR_LEN, err=err)
    return _take_string(body)


# ---------------------------------------------------------------- the thermostat on the LAN

#: The UDP port thermostats announce themselves on.
DISCOVERY_PORT = 23500


@dataclass(frozen=True)
class Found:
    """A thermostat heard on the LAN: its serial, the address of its newest
    announcement, hardware family and connection state (None when the packet
    had none), Wi-Fi signal in dBm (0 when none) and whether it uses the cloud."""
    sn: str
    ip: str
    hw: Optional[str]
    connection: Optional[str]
    wifi_dbm: int
    cloud: bool


def discover(seconds: float = 3, port: int = DISCOVERY_PORT) -> List[Found]:
    """Listens ``seconds`` for the UDP announcements thermostats broadcast
    (about every 30 s) and returns one entry per serial number. The socket
    shares ``port`` with other listeners, such as a home-automation hub."""
    duration_ms = _seconds_ms(seconds, "seconds")
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be int, not {type(port).__name__}")
    if not 0 < port <= 0xFFFF:
        raise InvalidArgumentError("port must be 1 to 65535")
    handle = ctypes.c_void_p()
    err = ctypes.create_string_buffer(_ERR_LEN)
    _call(_lib.hmx_discover, port, duration_ms, ctypes.byref(handle), err, _ERR_LEN, err=err)
    try:
        listing = ctypes.cast(handle, ctypes.POINTER(_FoundList)).contents
        text = lambda p: _static_string(p) if p else None  # noqa: E731
        return [Found(sn=_static_string(f.sn), ip=_static_string(f.ip), hw=text(f.hw),
                      connection=text(f.connection), wifi_dbm=int(f.wifi_dbm), cloud=bool(f.cloud))
                for f in (listing.items[i] for i in range(listing.len))]
    finally:
        _lib.hmx_free(handle)


class Parameter(NamedTuple):
    """One parameter as the device lists it: id, type code (0 string, 1 int8,
    2 uint8, 3 int16, 4 uint16, 5 int32, 6 uint32, 7 bool) and value as sent."""
    id: int
    type: int
    value: str


class Thermostat:
    """One thermostat on the LAN, by address (IP or name, optional ``:port``)
    and serial number. ``key`` (its ``totp_key``) signs writes with the
    device's own clock, as a device with LAN locking on demands; ``timeout``
    bounds each request, in seconds (default 5).

    libhmx sends one request at a time to a device, with a quiet second
    between requests, across every Thermostat and thread in this process;
    reads are retried on busy, empty or cut-off answers, writes only after
    the device said busy. A refused write raises :class:`BlockedError`.
    """

    def __init__(self, host: str, sn: str, key: Optional[str] = None, timeout: float = 5):
        self._host, self._sn = _text(host, "host"), _text(sn, "sn")
        self._key = _text(key, "key", optional=True)
        self._timeout_ms = _seconds_ms(timeout, "timeout")
        self.host, self.sn = host, sn

    def __repr__(self) -> str:
        return f"Thermostat(host={self.host!r}, sn={self.sn!r}, key={'<set>' if self._key else None})"

    def _json(self, fn: Any, *args: Any) -> Any:
        out = ctypes.c_void_p()
        err = ctypes.create_string_buffer(_ERR_LEN)
        _call(fn, *args, self._timeout_ms, ctypes.byref(out), err, _ERR_LEN, err=err)
        return json.loads(_take_string(out))

    def request(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """Sends any request without ``sn``, ``time`` and ``auth`` (hmx adds
        them) and returns the device's answer: ``{"cmd": 1..4}`` reads, anything
        else is a write, signed when a key is set."""
        if not isinstance(request, dict):
            raise TypeError(f"request must be dict, not {type(request).__name__}")
        body = _text(json.dumps(request, ensure_ascii=False), "request")
        return self._json(_lib.hmx_local_request, self._host, self._sn, self._key, body)

    def parameters(self) -> List[Parameter]:
        """Every parameter the device lists (``{"cmd":1}``)."""
        listed = self._json(_lib.hmx_local_parameters, self._host, self._sn)
        return [Parameter(int(i), int(t), v) for i, t, v in listed]

    def telemetry(self) -> Dict[str, str]:
        """Telemetry (``{"cmd":4}``), every field as the device sent it."""
        return self.request({"cmd": 4})

    def device_time(self) -> int:
        """The device's clock, in seconds since 2000-01-01T00:00:00Z."""
        out = ctypes.c_uint32()
        err = ctypes.create_string_buffer(_ERR_LEN)
        _call(_lib.hmx_local_device_time, self._host, self._sn, self._timeout_ms, ctypes.byref(out),
              err, _ERR_LEN, err=err)
        return int(out.value)

    def set(self, values: Dict[int, Any]) -> Dict[str, Any]:
        """Writes parameters, ``{id: value}``, each with the type code the
        device reports for that id; an id the device does not list raises
        InvalidArgumentError before anything is written."""
        if not isinstance(values, dict):
            raise TypeError(f"values must be dict, not {type(values).__name__}")
        for k, v in values.items():
            if isinstance(k, bool) or not isinstance(k, int):
                raise TypeError(f"parameter ids must be int, not {type(k).__name__}")
            if isinstance(v, bool) or not isinstance(v, (int, str)):
                raise TypeError(f"values must be int or str, not {type(v).__name__}")
        body = _text(json.dumps({str(k): str(v) for k, v in values.items()}), "values")
        return self._json(_lib.hmx_local_set, self._host, self._sn, self._key, body)



if __name__ == "__main__":
    print(version())
    sys.exit(0)
