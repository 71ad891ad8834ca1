"""Tokens for the thermostat's local API: the 9-digit TOTP code, the device
clock, and signed request bodies."""

from __future__ import annotations

import ctypes
import json
from typing import Any, Dict, Optional, Union

from . import _ffi
from .errors import InvalidArgumentError

TOTP_DIGITS = 9


def device_time_now() -> int:
    """Seconds since 2000-01-01T00:00:00Z by this machine's clock."""
    return int(_ffi.lib.hmx_device_time_now())


def _device_time(value: Optional[int]) -> int:
    if value is None:
        return device_time_now()
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"device_time must be int or None, not {type(value).__name__}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgumentError("device_time must be 0 to 4294967295")
    return value


def totp(totp_key: str, device_time: Optional[int] = None) -> str:
    """The 9-digit local-API token for ``device_time`` (default: now)."""
    key = _ffi.text(totp_key, "totp_key")
    when = _device_time(device_time)
    buf = ctypes.create_string_buffer(TOTP_DIGITS + 1)
    _ffi.lib.hmx_totp(key, when, buf, len(buf))
    return buf.value.decode("ascii")


def sign_request(totp_key: str, sn: str, data: Union[Dict[str, Any], str],
                 device_time: Optional[int] = None) -> str:
    """The signed local-API body: sn, time and auth first, then ``data``'s
    members in order. ``data`` is a dict or a JSON object text without
    ``sn``, ``time`` or ``auth``."""
    key, sn_b = _ffi.text(totp_key, "totp_key"), _ffi.text(sn, "sn")
    if isinstance(data, dict):
        data = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    data_b = _ffi.text(data, "data")
    when = _device_time(device_time)
    return _ffi.string_out(_ffi.lib.hmx_sign_request, key, sn_b, when, data_b)
