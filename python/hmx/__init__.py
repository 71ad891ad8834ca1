"""hmx for Python: TOTP keys of Terneo and Welrok thermostats, through libhmx.

A stdlib-only package (ctypes) over the hmx C library::

    import hmx
    with hmx.Client() as client:                      # https://my.hmarex.com
        token = client.login("you@example.com", "secret")
        for device in client.list_devices(token):
            print(device.sn, device.name, device.totp_key)
    print(hmx.totp(device.totp_key))                  # 9-digit local-API token

The library is looked for in this order: in this package's folder (where the
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

Everything is imported from ``hmx`` itself; it lives in ``hmx.cloud`` (the
cloud client), ``hmx.local`` (thermostats on the LAN), ``hmx.site`` (an
account's thermostats by name, kept in a file), ``hmx.tokens`` (tokens and
signed requests) and ``hmx.errors``, over ``hmx._ffi`` (libhmx itself);
``hmx.aio`` has the blocking calls as coroutines for asyncio.
"""

from ._ffi import version
from .cloud import TERNEO_URL, WELROK_URL, Client, Device, fetch_devices, find_device
from .errors import (AuthError, BlockedError, HmxError, HmxTimeoutError, HttpError,
                     InvalidArgumentError, NetworkError, NotFoundError, PanicError, ProtocolError,
                     RateLimitedError, StorageError, TlsError)
from .local import (DISCOVERY_PORT, DISCOVERY_SECONDS, Found, Parameter, ProbeReport, State,
                    Thermostat, discover)
from .site import Health, Outcome, Site, SiteDevice, SyncReport
from .tokens import TOTP_DIGITS, device_time_now, sign_request, totp
from . import aio  # noqa: E402 - after the blocking faces it wraps

__all__ = [
    "version", "Client", "Device", "fetch_devices", "find_device", "totp",
    "device_time_now", "sign_request", "HmxError", "InvalidArgumentError",
    "AuthError", "RateLimitedError", "NetworkError", "HmxTimeoutError",
    "TlsError", "HttpError", "ProtocolError", "NotFoundError", "PanicError",
    "TOTP_DIGITS", "TERNEO_URL", "WELROK_URL", "BlockedError", "StorageError", "Found", "discover",
    "Thermostat", "Parameter", "DISCOVERY_PORT", "DISCOVERY_SECONDS", "State", "ProbeReport",
    "Site", "SiteDevice", "SyncReport", "Outcome", "Health", "aio",
]

# Shown (in tracebacks, reprs, help) and pickled as hmx.X, as before the split.
for _name in __all__:
    if callable(globals()[_name]):  # the classes and functions
        globals()[_name].__module__ = __name__
del _name

# The crate's version: the module and the library it ships with are one release.
__version__ = version()
