"""Thermostats on the LAN: :func:`discover` (their UDP announcements) and
:class:`Thermostat` (one device's local API, reads and signed writes)."""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

from . import _ffi
from .errors import InvalidArgumentError

#: The UDP port thermostats announce themselves on.
DISCOVERY_PORT = 23500
#: How long :func:`discover` listens by default, in seconds: what ``hmx
#: discover`` waits. Devices announce themselves about every 30 s, so a
#: shorter wait often hears nothing.
DISCOVERY_SECONDS = 35


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


def discover(seconds: float = DISCOVERY_SECONDS, port: int = DISCOVERY_PORT) -> List[Found]:
    """Listens ``seconds`` (default 35, as ``hmx discover``) for the UDP
    announcements thermostats broadcast and returns one entry per serial
    number, with the address of its newest announcement. Devices announce
    themselves about every 30 s, so a shorter wait often hears nothing. The
    socket shares ``port`` with other listeners, such as a home-automation hub."""
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


#: A mode or control type: the name libhmx gives its code, or the code (int)
#: when libhmx names none (a code the vendor docs do not name).
Named = Union[str, int]


def _named(name_of: Any, code: int) -> Named:
    """``name_of(code)`` (hmx_mode_name, hmx_control_type_name); the code
    itself when the library names none (NULL, empty or "other")."""
    name = _ffi.static_string(name_of(code))
    return name if name and name != "other" else code


def mode_name(code: int) -> Named:
    """The name libhmx gives a telemetry mode code (``m.1``): ``"schedule"``
    (0), ``"manual"`` (3), ...; the code itself when it names none."""
    return _named(_ffi.lib.hmx_mode_name, code)


def control_type_name(code: int) -> Named:
    """The name libhmx gives a control type code (``m.0``, parameter 3):
    ``"floor"``, ``"air"``, ``"extended"``; the code itself when it names none."""
    return _named(_ffi.lib.hmx_control_type_name, code)


@lru_cache(maxsize=None)
def _mode_codes() -> Dict[str, int]:
    """Each mode name libhmx gives, with its code (codes are one byte)."""
    codes: Dict[str, int] = {}
    for code in range(256):
        name = mode_name(code)
        if isinstance(name, str):
            codes.setdefault(name, code)
    return codes


@dataclass(frozen=True)
class State:
    """A unit's state, as ``Thermostat::state`` reads it (telemetry, then the
    parameter list). Every field is None when the unit leaves it out: units
    drop temperatures and the mode while off, relay units have no
    temperatures, Welrok D2W lists no parameters.

    Temperatures are °C (the telemetry's 1/16 °C, so 24.9375 is exact);
    ``mode`` (``m.1``) and ``control`` (``m.0``, else parameter 3) are the
    names libhmx gives (``"schedule"``, ``"manual"``, ...; ``"floor"``,
    ``"air"``, ``"extended"``), or the code as an int when it names none;
    ``load_power_w`` is the connected load in watts (parameter 17)."""
    floor_c: Optional[float] = None
    air_c: Optional[float] = None
    setpoint_c: Optional[float] = None
    relay_on: Optional[bool] = None
    powered: Optional[bool] = None
    mode: Optional[Named] = None
    control: Optional[Named] = None
    lan_lock: Optional[bool] = None
    cloud_lock: Optional[bool] = None
    child_lock: Optional[bool] = None
    brightness: Optional[int] = None
    wifi_dbm: Optional[int] = None
    load_power_w: Optional[int] = None


def _state(c: Any) -> State:
    """A State from an hmx_state."""
    values: Dict[str, Any] = {}
    for name, _ in _ffi.STATE_FIELDS:
        value = getattr(c, name) if getattr(c, f"has_{name}") else None
        if value is not None and name == "mode":
            value = mode_name(value)
        elif value is not None and name == "control":
            value = control_type_name(value)
        values[name] = value
    return State(**values)


@dataclass(frozen=True)
class ProbeReport:
    """What :meth:`Thermostat.probe` found (the JSON libhmx hands out): the
    parameter written back and its value; parameters 114 (LAN locking) and
    115 (cloud locking) as listed, None when not listed; the schemes the
    device refused and those not tried (the base32 ones, for a key that is
    not base32), by name in the order tried; the first scheme it accepted,
    None when all were refused or LAN locking is off (nothing is written then)."""
    parameter: int
    value: str
    lan_lock: Optional[bool]
    cloud_lock: Optional[bool]
    refused: Tuple[str, ...]
    skipped: Tuple[str, ...]
    accepted: Optional[str]


def _probe_report(report: Dict[str, Any]) -> ProbeReport:
    values = {f.name: report.get(f.name) for f in fields(ProbeReport)}
    values["refused"], values["skipped"] = tuple(values["refused"]), tuple(values["skipped"])
    return ProbeReport(**values)


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be bool, not {type(value).__name__}")
    return value


class Thermostat(_ffi.Owned):
    """One thermostat on the LAN, by address (IP or name, optional ``:port``)
    and serial number, held by one libhmx handle (``hmx_thermostat``): use it
    as a context manager or call :meth:`close`.

    ``key`` (its ``totp_key``) signs writes with the device's own clock, as a
    device with LAN locking on demands; ``scheme`` names the token scheme
    (``"raw-2000"``, the default, ``"raw-unix"``, ``"base32-2000"``,
    ``"base32-unix"``; :meth:`probe` tells which one a device accepts), an
    unknown name is :class:`InvalidArgumentError`; ``timeout`` bounds each
    request, in seconds (default 5). The address and serial are checked
    here; nothing is sent until a method is called.

    libhmx sends one request at a time to a device, with a quiet second
    between requests, across every Thermostat and thread in this process;
    reads are retried on busy, empty or cut-off answers, writes only after
    the device said busy. A refused write raises :class:`BlockedError`. The
    handle keeps the last parameter list read, which writes take their type
    codes and limits from (it is read first when there is none yet).
    """

    def __init__(self, host: str, sn: str, key: Optional[str] = None,
                 scheme: Optional[str] = None, timeout: float = 5):
        self._ptr: Optional[int] = None
        host_b, sn_b = _ffi.text(host, "host"), _ffi.text(sn, "sn")
        key_b = _ffi.text_or_none(key, "key")
        scheme_b = _ffi.text_or_none(scheme, "scheme")
        timeout_ms = _ffi.seconds_ms(timeout, "timeout")
        handle = ctypes.c_void_p()
        _ffi.lib.hmx_thermostat_new(host_b, sn_b, key_b, scheme_b, timeout_ms, ctypes.byref(handle))
        self._ptr = handle.value
        self.host, self.sn, self.scheme = host, sn, scheme
        self._keyed = key is not None

    @classmethod
    def _adopt(cls, ptr: int, host: str, sn: str, scheme: Optional[str],
               keyed: bool) -> "Thermostat":
        """A Thermostat over a handle libhmx already made (``hmx_site_thermostat``)."""
        t = cls.__new__(cls)
        t._ptr = ptr
        t.host, t.sn, t.scheme, t._keyed = host, sn, scheme, keyed
        return t

    def __repr__(self) -> str:
        return (f"Thermostat(host={self.host!r}, sn={self.sn!r}, "
                f"key={'<set>' if self._keyed else None}, scheme={self.scheme!r})")

    def _handle(self) -> int:
        if self._ptr is None:
            raise InvalidArgumentError("the thermostat is closed")
        return self._ptr

    def _json(self, fn: Any, *args: Any) -> Any:
        """``fn(handle, *args, &json)``'s answer, parsed."""
        return json.loads(_ffi.string_out(fn, self._handle(), *args))

    # ------------------------------------------------------------ reads and writes as sent

    def request(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """Sends any request without ``sn``, ``time`` and ``auth`` (hmx adds
        them) and returns the device's answer: ``{"cmd": 1..4}`` reads, anything
        else is a write, signed when a key is set."""
        if not isinstance(request, dict):
            raise TypeError(f"request must be dict, not {type(request).__name__}")
        body = _ffi.text(json.dumps(request, ensure_ascii=False), "request")
        return self._json(_ffi.lib.hmx_thermostat_request, body)

    def parameters(self) -> List[Parameter]:
        """Every parameter the device lists (``{"cmd":1}``). A unit that
        answers without an ``[id, type, value]`` list (Welrok D2W) raises
        :class:`ProtocolError`: hmx does not guess type codes."""
        return [Parameter(int(i), int(t), v)
                for i, t, v in self._json(_ffi.lib.hmx_thermostat_parameters)]

    def telemetry(self) -> Dict[str, Any]:
        """Telemetry (``{"cmd":4}``), as the device sent it, in its order
        (strings on most units; D2W nests its groups under ``telemetry``)."""
        return self._json(_ffi.lib.hmx_thermostat_telemetry)

    def device_time(self) -> int:
        """The device's clock, in seconds since 2000-01-01T00:00:00Z."""
        out = ctypes.c_uint32()
        _ffi.lib.hmx_thermostat_device_time(self._handle(), ctypes.byref(out))
        return int(out.value)

    def set(self, values: Dict[int, Any]) -> Dict[str, Any]:
        """Writes parameters, ``{id: value}``, each with the type code the
        device reports for that id; an id the device does not list raises
        InvalidArgumentError before anything is written. Returns the
        device's answer (``{"success": "true"}`` or ``{"par": [...]}``)."""
        if not isinstance(values, dict):
            raise TypeError(f"values must be dict, not {type(values).__name__}")
        for k, v in values.items():
            if isinstance(k, bool) or not isinstance(k, int):
                raise TypeError(f"parameter ids must be int, not {type(k).__name__}")
            if isinstance(v, bool) or not isinstance(v, (int, str)):
                raise TypeError(f"values must be int or str, not {type(v).__name__}")
        body = _ffi.text(json.dumps({str(k): str(v) for k, v in values.items()}), "values")
        return self._json(_ffi.lib.hmx_thermostat_set, body)

    # ------------------------------------------------------------ the typed state and named controls

    def state(self) -> State:
        """The unit's :class:`State`: reads the telemetry, then the parameter
        list (two requests). A unit without a list hmx reads (D2W) gets a
        state from its telemetry alone; absent fields are None, never an error."""
        out = _ffi.CState()
        _ffi.lib.hmx_thermostat_state(self._handle(), ctypes.byref(out))
        return _state(out)

    def set_setpoint(self, celsius: float) -> None:
        """Writes the current mode's setpoint (parameter 31) in °C, in the
        unit's own scale: a value the unit cannot take exactly (21.5 on a
        whole-degree unit) or outside its limits raises InvalidArgumentError
        and nothing is sent. The mode is not changed: see :meth:`control`."""
        if isinstance(celsius, bool) or not isinstance(celsius, (int, float)):
            raise TypeError(f"celsius must be a number, not {type(celsius).__name__}")
        _ffi.lib.hmx_thermostat_set_setpoint(self._handle(), float(celsius))

    def set_power(self, on: bool) -> None:
        """Switches the unit (a relay unit: its relay) on or off (parameter 125)."""
        on = _flag(on, "on")
        _ffi.lib.hmx_thermostat_set_power(self._handle(), on)

    def set_mode(self, mode: str) -> None:
        """Runs the unit by its schedule (``"schedule"``) or a fixed setpoint
        (``"manual"``). Other modes (``"away"``, ...) need their own times and
        raise InvalidArgumentError; so does a name libhmx does not give."""
        if not isinstance(mode, str):
            raise TypeError(f"mode must be str, not {type(mode).__name__}")
        codes = _mode_codes()
        if mode not in codes:
            raise InvalidArgumentError(f"mode {mode!r}: not one of {', '.join(codes)}")
        _ffi.lib.hmx_thermostat_set_mode(self._handle(), codes[mode])

    def set_brightness(self, level: int) -> None:
        """Display brightness (parameter 23): 0–9 on Terneo, 0–10 on Welrok."""
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError(f"level must be int, not {type(level).__name__}")
        if not 0 <= level <= 0xFF:
            raise InvalidArgumentError(f"brightness {level} is out of range (Welrok 0 to 10)")
        _ffi.lib.hmx_thermostat_set_brightness(self._handle(), level)

    def set_child_lock(self, on: bool) -> None:
        """Locks or unlocks the unit's buttons (parameter 124)."""
        on = _flag(on, "on")
        _ffi.lib.hmx_thermostat_set_child_lock(self._handle(), on)

    def control(self, *controls: str) -> None:
        """Writes named controls in one request, as libhmx parses them:
        ``control("mode=manual setpoint=21.5")`` or ``control("mode=manual",
        "setpoint=21.5")``; names ``setpoint`` (°C), ``power`` (on/off),
        ``mode`` (schedule/manual), ``brightness``, ``child_lock`` (on/off),
        separated by white space or commas. Each is checked against the
        unit's own list; the first that does not fit raises
        InvalidArgumentError and nothing is sent."""
        for c in controls:
            if not isinstance(c, str):
                raise TypeError(f"controls must be str, not {type(c).__name__}")
        text = _ffi.text(" ".join(controls), "controls")
        _ffi.lib.hmx_thermostat_control(self._handle(), text)

    def probe(self) -> ProbeReport:
        """Finds the token scheme the device accepts by writing one harmless
        value (brightness, else parameter 52 or 53) back unchanged with each
        scheme in turn; changes nothing. Needs a key (else InvalidArgumentError)."""
        return _probe_report(self._json(_ffi.lib.hmx_thermostat_probe))


