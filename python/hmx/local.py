"""Thermostats on the LAN: :func:`discover` (their UDP announcements) and
:class:`Thermostat` (one device's local API, reads and signed writes)."""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from typing import Any, Dict, List, NamedTuple, Optional

from . import _ffi
from .errors import InvalidArgumentError

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


def _maybe(ptr: Optional[int]) -> Optional[str]:
    return _ffi.static_string(ptr) if ptr else None


def discover(seconds: float = 3, port: int = DISCOVERY_PORT) -> List[Found]:
    """Listens ``seconds`` for the UDP announcements thermostats broadcast
    (about every 30 s) and returns one entry per serial number. The socket
    shares ``port`` with other listeners, such as a home-automation hub."""
    duration_ms = _ffi.seconds_ms(seconds, "seconds")
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be int, not {type(port).__name__}")
    if not 0 < port <= 0xFFFF:
        raise InvalidArgumentError("port must be 1 to 65535")
    with _ffi.listing(_ffi.CFound, _ffi.lib.hmx_discover, port, duration_ms) as (_, items):
        return [Found(sn=_ffi.static_string(f.sn), ip=_ffi.static_string(f.ip), hw=_maybe(f.hw),
                      connection=_maybe(f.connection), wifi_dbm=int(f.wifi_dbm), cloud=bool(f.cloud))
                for f in items]


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
        self._host, self._sn = _ffi.text(host, "host"), _ffi.text(sn, "sn")
        self._key = _ffi.text_or_none(key, "key")
        self._timeout_ms = _ffi.seconds_ms(timeout, "timeout")
        self.host, self.sn = host, sn

    def __repr__(self) -> str:
        return f"Thermostat(host={self.host!r}, sn={self.sn!r}, key={'<set>' if self._key else None})"

    def _json(self, fn: Any, *args: Any) -> Any:
        """``fn(host, sn, *args, timeout, &json)``'s answer, parsed."""
        return json.loads(_ffi.string_out(fn, self._host, self._sn, *args, self._timeout_ms))

    def request(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """Sends any request without ``sn``, ``time`` and ``auth`` (hmx adds
        them) and returns the device's answer: ``{"cmd": 1..4}`` reads, anything
        else is a write, signed when a key is set."""
        if not isinstance(request, dict):
            raise TypeError(f"request must be dict, not {type(request).__name__}")
        body = _ffi.text(json.dumps(request, ensure_ascii=False), "request")
        return self._json(_ffi.lib.hmx_local_request, self._key, body)

    def parameters(self) -> List[Parameter]:
        """Every parameter the device lists (``{"cmd":1}``)."""
        return [Parameter(int(i), int(t), v) for i, t, v in self._json(_ffi.lib.hmx_local_parameters)]

    def telemetry(self) -> Dict[str, str]:
        """Telemetry (``{"cmd":4}``), every field as the device sent it."""
        return self.request({"cmd": 4})

    def device_time(self) -> int:
        """The device's clock, in seconds since 2000-01-01T00:00:00Z."""
        out = ctypes.c_uint32()
        _ffi.lib.hmx_local_device_time(self._host, self._sn, self._timeout_ms, ctypes.byref(out))
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
        body = _ffi.text(json.dumps({str(k): str(v) for k, v in values.items()}), "values")
        return self._json(_ffi.lib.hmx_local_set, self._key, body)
