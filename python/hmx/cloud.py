"""The vendor cloud: :class:`Client` (log in, list the devices with their
TOTP keys), :class:`Device`, :func:`fetch_devices` and :func:`find_device`."""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _ffi
from .errors import InvalidArgumentError, NotFoundError

#: Terneo's cloud, the default base URL.
TERNEO_URL = "https://my.hmarex.com"
#: Welrok's cloud: the same server software and protocol.
WELROK_URL = "https://app.welrok.com"


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


class Client(_ffi.Owned):
    """A connection to one cloud; share it between threads freely.

    ``base_url`` defaults to :data:`TERNEO_URL` (https only, or http for
    loopback hosts); ``timeout`` (seconds, default 30) bounds each request,
    connecting included; ``connect_timeout`` (seconds, default 10) bounds
    connecting (TCP and TLS handshake); ``root_ca_pem`` (PEM text or bytes)
    replaces the public roots, and ``roots="system"`` trusts the operating
    system's store instead (``"bundled"``, the default, is the public roots
    built into libhmx); ``accept_language`` picks the language of the cloud's
    messages; ``proxy`` is an ``http://[user:password@]host[:port]`` proxy
    (used with CONNECT) or a ``socks5h://``, ``socks5://``, ``socks4a://`` or
    ``socks4://`` one (for https only; README, "Networks"), ``""`` for none, or None to follow
    the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``). Every
    setting is checked here, as the Rust ``ClientBuilder::build`` checks it.
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, base_url: Optional[str] = None, timeout: Optional[float] = 30,
                 connect_timeout: Optional[float] = 10,
                 root_ca_pem: Union[str, bytes, None] = None, accept_language: str = "en",
                 proxy: Optional[str] = None, roots: str = "bundled"):
        self._ptr: Optional[int] = None
        url = _ffi.text_or_none(base_url, "base_url")
        timeout_ms = None if timeout is None else _ffi.seconds_ms(timeout, "timeout")
        connect_ms = (None if connect_timeout is None
                      else _ffi.seconds_ms(connect_timeout, "connect_timeout"))
        if isinstance(root_ca_pem, str):
            pem = _ffi.text(root_ca_pem, "root_ca_pem")
        elif isinstance(root_ca_pem, (bytes, bytearray)):
            if b"\0" in root_ca_pem:
                raise InvalidArgumentError("root_ca_pem contains a NUL byte")
            pem = bytes(root_ca_pem)
        elif root_ca_pem is None:
            pem = None
        else:
            raise TypeError(f"root_ca_pem must be str, bytes or None, not {type(root_ca_pem).__name__}")
        lang = _ffi.text(accept_language, "accept_language")
        proxy_b = _ffi.text_or_none(proxy, "proxy")
        if not isinstance(roots, str):
            raise TypeError(f"roots must be str, not {type(roots).__name__}")
        if roots not in ("bundled", "system"):
            raise InvalidArgumentError(f"roots must be 'bundled' or 'system', not {roots!r}")
        if roots == "system" and pem is not None:
            raise InvalidArgumentError("give root_ca_pem or roots='system', not both")
        lib = _ffi.lib
        builder = ctypes.c_void_p()
        lib.hmx_client_builder_new(ctypes.byref(builder))
        try:
            if url is not None:
                lib.hmx_client_builder_base_url(builder, url)
            if timeout_ms is not None:
                lib.hmx_client_builder_timeout_ms(builder, timeout_ms)
            if connect_ms is not None:
                lib.hmx_client_builder_connect_timeout_ms(builder, connect_ms)
            if pem is not None:
                lib.hmx_client_builder_root_ca_pem(builder, pem)
            if roots == "system":
                lib.hmx_client_builder_system_roots(builder)
            if proxy_b is not None:
                # "" means no proxy: NULL to libhmx.
                lib.hmx_client_builder_proxy(builder, proxy_b or None)
            lib.hmx_client_builder_accept_language(builder, lang)
            handle = ctypes.c_void_p()
            lib.hmx_client_builder_build(builder, ctypes.byref(handle))
        finally:
            lib.hmx_free(builder)
        self._ptr = handle.value

    def _handle(self) -> int:
        if self._ptr is None:
            raise InvalidArgumentError("the client is closed")
        return self._ptr

    def login(self, email: str, password: str) -> str:
        """Logs in and returns the session token."""
        email_b, password_b = _ffi.text(email, "email"), _ffi.text(password, "password")
        return _ffi.string_out(_ffi.lib.hmx_login, self._handle(), email_b, password_b)

    def list_devices(self, token: str) -> List[Device]:
        """Every device on every page, in the cloud's order."""
        token_b = _ffi.text(token, "token")
        lib = _ffi.lib
        with _ffi.listing(_ffi.CDevice, lib.hmx_list_devices, self._handle(), token_b) as (handle, items):
            return [Device(id=d.id, sn=_ffi.static_string(d.sn), name=_ffi.static_string(d.name),
                           totp_key=_ffi.static_string(d.totp_key) if d.totp_key else None,
                           extra=json.loads(_ffi.string_out(lib.hmx_device_extra_json, handle, i)))
                    for i, d in enumerate(items)]



def fetch_devices(email: str, password: str, **client_kwargs: Any) -> List[Device]:
    """Logs in and lists the devices with a client made from ``client_kwargs``."""
    _ffi.text(email, "email"), _ffi.text(password, "password")
    with Client(**client_kwargs) as client:
        return client.list_devices(client.login(email, password))


# hmx_find_device searches a live list from hmx_list_devices; these devices
# are Python objects (list_devices has freed its list, a caller may build or
# filter them), so each is compared by libhmx's own rule, hmx_same_serial.
def find_device(devices: Iterable[Device], sn: str) -> Device:
    """The device whose serial is ``sn``, compared as libhmx does: trimmed,
    ASCII case-insensitive. Raises NotFoundError when there is none."""
    wanted = _ffi.text(sn, "sn")
    for device in devices:
        if _ffi.lib.hmx_same_serial(device.sn.encode("utf-8"), wanted):
            return device
    raise NotFoundError(f"no device with serial {sn.strip()!r}")
