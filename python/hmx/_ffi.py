"""libhmx through ctypes: finding and loading it, its structures, the
declaration of every function the package calls, the status check, the
Ctrl-C wrapper, and turning Python arguments and results into C ones and back.

The rest of the package calls ``_ffi.lib.hmx_...`` (looked up at call time,
so that a test can stand in for ``lib``) and never checks a status itself:
a failing call raises the :class:`HmxError` subclass for its status.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import math
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Type

from .errors import STATUS_CLASSES, HmxError, InvalidArgumentError

ERR_LEN = 1024

# ---------------------------------------------------------------- loading


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


lib = _load()

# ---------------------------------------------------------------- structures


class CDevice(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int64), ("sn", ctypes.c_void_p),
                ("name", ctypes.c_void_p), ("totp_key", ctypes.c_void_p)]


class CFound(ctypes.Structure):
    _fields_ = [("sn", ctypes.c_void_p), ("ip", ctypes.c_void_p), ("hw", ctypes.c_void_p),
                ("connection", ctypes.c_void_p), ("wifi_dbm", ctypes.c_int32),
                ("cloud", ctypes.c_bool)]


def _list_of(item: Type[ctypes.Structure]) -> Type[ctypes.Structure]:
    """``struct { size_t len; const item *items; }``: hmx_device_list, hmx_found_list."""
    return type(f"{item.__name__}List", (ctypes.Structure,),
                {"_fields_": [("len", ctypes.c_size_t), ("items", ctypes.POINTER(item))]})


_LISTS = {item: _list_of(item) for item in (CDevice, CFound)}

#: hmx_state's values, in the header's order; each follows its ``bool has_<name>``.
STATE_FIELDS = [("floor_c", ctypes.c_double), ("air_c", ctypes.c_double),
                ("setpoint_c", ctypes.c_double), ("relay_on", ctypes.c_bool),
                ("powered", ctypes.c_bool), ("mode", ctypes.c_int32), ("control", ctypes.c_int32),
                ("lan_lock", ctypes.c_bool), ("cloud_lock", ctypes.c_bool),
                ("child_lock", ctypes.c_bool), ("brightness", ctypes.c_uint8),
                ("wifi_dbm", ctypes.c_int32), ("load_power_w", ctypes.c_uint32)]


class CState(ctypes.Structure):
    """hmx_state: ``bool has_X; T X;`` for each of :data:`STATE_FIELDS`."""
    _fields_ = [pair for name, ctype in STATE_FIELDS
                for pair in ((f"has_{name}", ctypes.c_bool), (name, ctype))]


@contextlib.contextmanager
def listing(item: Type[ctypes.Structure], fn: Callable[..., Any],
            *args: Any) -> Iterator[Tuple[ctypes.c_void_p, List[Any]]]:
    """Calls ``fn(*args, &list)`` and yields the list's handle and its items
    (of type ``item``); frees the list on leaving, so read the items inside."""
    handle = ctypes.c_void_p()
    fn(*args, ctypes.byref(handle))
    try:
        listed = ctypes.cast(handle, ctypes.POINTER(_LISTS[item])).contents
        yield handle, [listed.items[i] for i in range(listed.len)]
    finally:
        lib.hmx_free(handle)


# ---------------------------------------------------------------- the status check


def _error(status: int, message: str) -> HmxError:
    """The exception for a failed call, with this thread's HTTP details (libhmx
    keeps them per thread, and errcheck runs on the thread that made the call)."""
    http_status = int(lib.hmx_last_http_status())
    retry_after = int(lib.hmx_last_retry_after_s())
    cls = STATUS_CLASSES.get(status, HmxError)
    return cls(message or "failed", status, static_string(lib.hmx_status_name(status)),
               http_status=http_status or None, retry_after=None if retry_after < 0 else retry_after)


def _check(status: int, fn: Any, args: Tuple[Any, ...]) -> int:
    """errcheck of a function without an error buffer."""
    if status != 0:
        raise _error(status, "")
    return status


def _check_err(status: int, fn: Any, args: Tuple[Any, ...]) -> int:
    """errcheck of a function whose last two arguments are err_buf and err_len."""
    if status != 0:
        raise _error(status, args[-2].value.decode("utf-8", "replace"))
    return status


def _with_err_buf(fn: Any) -> Any:
    """Passes a fresh err_buf and err_len after the caller's arguments."""
    def call(*args: Any) -> int:
        return fn(*args, ctypes.create_string_buffer(ERR_LEN), ERR_LEN)

    call.__name__ = fn.__name__
    return call


# ---------------------------------------------------------------- Ctrl-C

_SLICE_S = 0.1


def _interruptible(fn: Any) -> Any:
    """Wraps a blocking foreign call so that Ctrl-C interrupts the caller.

    Python runs signal handlers only between bytecodes of the main thread, so
    a main thread blocked inside C would see Ctrl-C only when the call returns
    (after the request timeout, 30 s by default). Here the call runs in a
    worker thread (ctypes releases the GIL) and the caller waits in short
    slices, so KeyboardInterrupt is raised within one slice. The abandoned
    call finishes in the background; whatever it then hands out through an
    out-pointer is freed (and wiped) with hmx_free, since nobody will.
    A failure (status check included) is raised in the caller.
    """
    def free_outputs(args: Any) -> None:
        for arg in args:
            out = getattr(arg, "_obj", None)  # what ctypes.byref() points at
            if isinstance(out, ctypes.c_void_p) and out.value:
                lib.hmx_free(out)

    def call(*args: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return fn(*args)  # signals reach the main thread only
        outcome: List[Tuple[bool, Any]] = []
        lock = threading.Lock()
        abandoned = []
        done = threading.Event()

        def work() -> None:
            try:
                result = (True, fn(*args))
            except BaseException as e:  # re-raised in the caller
                result = (False, e)
            with lock:
                outcome.append(result)
                if abandoned and result[0]:
                    free_outputs(args)
            done.set()

        threading.Thread(target=work, name=f"hmx:{fn.__name__}", daemon=True).start()
        try:
            while not done.wait(_SLICE_S):
                pass
        except BaseException:
            with lock:
                if outcome and outcome[0][0]:
                    free_outputs(args)  # finished meanwhile, but nobody takes it
                abandoned.append(True)
            raise
        ok, result = outcome[0]
        if not ok:
            raise result
        return result

    call.__name__ = fn.__name__
    return call


# ---------------------------------------------------------------- declarations

# The result kinds besides a plain ctypes type. STATUS: an hmx_status, checked
# (a failure raises). ERR: the same, for a function whose last two parameters
# are err_buf and err_len; they are left out of the table and of every call:
# each call gets a fresh buffer, and its message goes into the exception.
# WAITS: an ERR function that waits on the network, so it runs through
# _interruptible.
STATUS, ERR, WAITS = "status", "status, err_buf", "status, err_buf, waits"
_CHECKS = {STATUS: _check, ERR: _check_err, WAITS: _check_err}


def declare(name: str, argtypes: Sequence[Any], result: Any) -> Any:
    """Sets up ``lib.<name>``: its argument types, its result (a ctypes type
    or a kind above) and the wrappers the kind calls for; returns it."""
    try:
        fn = getattr(lib, name)
    except AttributeError:
        raise ImportError(f"{lib._name} lacks {name}: it is older than this module; "
                          "rebuild it with `cargo build --release`") from None
    fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_int if result in _CHECKS else result
    if result in _CHECKS:
        fn.errcheck = _CHECKS[result]
    if result in (ERR, WAITS):
        fn.argtypes += [ctypes.c_char_p, ctypes.c_size_t]
        fn = _with_err_buf(fn)
    if result == WAITS:
        fn = _interruptible(fn)
    setattr(lib, name, fn)
    return fn


_c = ctypes
_p, _s = _c.c_void_p, _c.c_char_p  # a handle, a string
_OUT = _c.POINTER(_c.c_void_p)  # where hmx puts what it hands out
for _name, _args, _result in [
    ("hmx_version", [], _p),
    ("hmx_status_name", [_c.c_int], _p),
    ("hmx_same_serial", [_s, _s], _c.c_bool),
    ("hmx_last_http_status", [], _c.c_int32),
    ("hmx_last_retry_after_s", [], _c.c_int64),
    ("hmx_free", [_p], None),
    ("hmx_client_builder_new", [_OUT], STATUS),
    ("hmx_client_builder_base_url", [_p, _s], STATUS),
    ("hmx_client_builder_timeout_ms", [_p, _c.c_uint32], STATUS),
    ("hmx_client_builder_connect_timeout_ms", [_p, _c.c_uint32], STATUS),
    ("hmx_client_builder_root_ca_pem", [_p, _s], STATUS),
    ("hmx_client_builder_accept_language", [_p, _s], STATUS),
    ("hmx_client_builder_proxy", [_p, _s], STATUS),
    ("hmx_client_builder_system_roots", [_p], STATUS),
    ("hmx_client_builder_build", [_p, _OUT], ERR),
    ("hmx_login", [_p, _s, _s, _OUT], WAITS),
    ("hmx_list_devices", [_p, _s, _OUT], WAITS),
    ("hmx_device_extra_json", [_p, _c.c_size_t, _OUT], STATUS),
    ("hmx_discover", [_c.c_uint16, _c.c_uint32, _OUT], WAITS),
    ("hmx_thermostat_new", [_s, _s, _s, _s, _c.c_uint32, _OUT], ERR),  # sends nothing
    ("hmx_thermostat_request", [_p, _s, _OUT], WAITS),
    ("hmx_thermostat_set", [_p, _s, _OUT], WAITS),
    ("hmx_thermostat_parameters", [_p, _OUT], WAITS),
    ("hmx_thermostat_telemetry", [_p, _OUT], WAITS),
    ("hmx_thermostat_device_time", [_p, _c.POINTER(_c.c_uint32)], WAITS),
    ("hmx_thermostat_state", [_p, _c.POINTER(CState)], WAITS),
    ("hmx_thermostat_set_setpoint", [_p, _c.c_double], WAITS),
    ("hmx_thermostat_set_power", [_p, _c.c_bool], WAITS),
    ("hmx_thermostat_set_mode", [_p, _c.c_int32], WAITS),
    ("hmx_thermostat_set_brightness", [_p, _c.c_uint8], WAITS),
    ("hmx_thermostat_set_child_lock", [_p, _c.c_bool], WAITS),
    ("hmx_thermostat_control", [_p, _s], WAITS),
    ("hmx_thermostat_probe", [_p, _OUT], WAITS),
    # The site: every call but the settings takes the site's lock, so it may
    # wait for another thread's sync or control on it: each is WAITS.
    ("hmx_site_open", [_s, _OUT], ERR),  # reads the file, sends nothing
    ("hmx_site_path", [_p, _OUT], WAITS),
    ("hmx_site_set_client", [_p, _p], STATUS),
    ("hmx_site_set_password", [_p, _s], STATUS),
    ("hmx_site_set_discovery", [_p, _c.c_uint16, _c.c_uint32], STATUS),
    ("hmx_site_set_timeouts", [_p, _c.c_uint32, _c.c_uint32], STATUS),
    ("hmx_site_sync", [_p, _s, _OUT], WAITS),
    ("hmx_site_devices_json", [_p, _OUT], WAITS),
    ("hmx_site_get_json", [_p, _s, _OUT], WAITS),
    ("hmx_site_thermostat", [_p, _s, _OUT], WAITS),
    ("hmx_site_state", [_p, _s, _c.POINTER(CState)], WAITS),
    ("hmx_site_control", [_p, _s, _s], WAITS),
    ("hmx_site_control_many", [_p, _c.POINTER(_s), _c.c_size_t, _s, _OUT], WAITS),
    ("hmx_site_state_many", [_p, _c.POINTER(_s), _c.c_size_t, _OUT], WAITS),
    ("hmx_site_set_scheme", [_p, _s, _s], WAITS),
    ("hmx_site_set_address", [_p, _s, _s], WAITS),
    ("hmx_mode_name", [_c.c_int32], _p),
    ("hmx_control_type_name", [_c.c_int32], _p),
    ("hmx_totp", [_s, _c.c_uint32, _s, _c.c_size_t], STATUS),  # the code's buffer, not err_buf
    ("hmx_device_time_now", [], _c.c_uint32),
    ("hmx_sign_request", [_s, _s, _c.c_uint32, _s, _OUT], ERR),
]:
    declare(_name, _args, _result)

# ---------------------------------------------------------------- values in and out


class Owned:
    """What every class over one libhmx handle shares: ``close()`` frees it
    with ``hmx_free`` (which wipes what it holds) and is safe to repeat; the
    object is a context manager, and a forgotten one is freed when
    collected."""

    _ptr: Optional[int] = None

    def close(self) -> None:
        """Frees the handle; later calls raise InvalidArgumentError. Safe to repeat."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            lib.hmx_free(ptr)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_ptr", None) is not None:
            self.close()


def static_string(ptr: Optional[int]) -> str:
    """A string libhmx keeps (a name, a field of a list it owns)."""
    return ctypes.string_at(ptr).decode("utf-8") if ptr else ""


def take_string(ptr: ctypes.c_void_p) -> str:
    """Copies a string hmx allocated, then frees (and so wipes) hmx's copy."""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        lib.hmx_free(ptr)


def string_out(fn: Callable[..., Any], *args: Any) -> str:
    """Calls ``fn(*args, &out)`` and takes the string hmx put in ``out``."""
    out = ctypes.c_void_p()
    fn(*args, ctypes.byref(out))
    return take_string(out)


def text(value: Any, what: str) -> bytes:
    """A str argument as NUL-terminated UTF-8; TypeError for other types."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    if "\0" in value:
        raise InvalidArgumentError(f"{what} contains a NUL character")
    return value.encode("utf-8", "surrogatepass")


def text_or_none(value: Any, what: str) -> Optional[bytes]:
    """As :func:`text`, but None stays None (NULL)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str or None, not {type(value).__name__}")
    return text(value, what)


def seconds_ms(value: Any, what: str) -> int:
    """A positive number of seconds as whole milliseconds for libhmx."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    if not (value > 0 and math.isfinite(value) and value * 1000 <= 0xFFFFFFFF):
        raise InvalidArgumentError(f"{what} must be more than 0 and at most 4294967 seconds")
    return max(1, math.ceil(value * 1000))


def version() -> str:
    """The libhmx version, e.g. ``"0.1.0"``."""
    return static_string(lib.hmx_version())
