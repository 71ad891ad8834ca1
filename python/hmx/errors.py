"""The exceptions: :class:`HmxError` and one subclass per libhmx status.

The class statements below are the one table of statuses: each names its
class, its extra standard base (``ValueError``, ``TimeoutError``,
``LookupError``) if any, and, as class keywords, the status number and the
library's name for it. :data:`STATUS_CLASSES` is built from them; the tests
check it against ``hmx_status_name`` for every status the library names.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional, Type

_BY_STATUS: Dict[int, Type["HmxError"]] = {}


class HmxError(Exception):
    """A failure reported by libhmx: ``status`` (int), ``name`` and ``message``;
    ``http_status`` (int or None), the HTTP status of the answer behind it; and
    ``retry_after`` (seconds or None), the wait the cloud asked for."""

    status = -1
    name = "HMX_STATUS_UNKNOWN"

    def __init_subclass__(cls, status: Optional[int] = None, name: Optional[str] = None,
                          **kwargs: Any) -> None:
        """``class X(HmxError, status=N, name="HMX_STATUS_..."):`` makes X the
        class of status N; a subclass without them keeps its base's."""
        super().__init_subclass__(**kwargs)
        if status is None:
            return
        if status in _BY_STATUS or name is None:
            raise TypeError(f"{cls.__name__}: status {status} needs a name and one class")
        cls.status, cls.name = status, name
        _BY_STATUS[status] = cls

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


class InvalidArgumentError(HmxError, ValueError, status=1, name="HMX_STATUS_INVALID_ARGUMENT"):
    """An unusable argument: bad URL or PEM, NUL in a string, value out of range."""


class AuthError(HmxError, status=2, name="HMX_STATUS_AUTH"):
    """The cloud refused the credentials (login) or the token (device list)."""


class RateLimitedError(HmxError, status=3, name="HMX_STATUS_RATE_LIMITED"):
    """The cloud answered 429 Too Many Requests."""


class NetworkError(HmxError, status=4, name="HMX_STATUS_NETWORK"):
    """DNS failure, connection refused, reset or dropped."""


class HmxTimeoutError(HmxError, TimeoutError, status=5, name="HMX_STATUS_TIMEOUT"):
    """A connect or request timeout expired."""


class TlsError(HmxError, status=6, name="HMX_STATUS_TLS"):
    """Certificate verification or the TLS handshake failed."""


class HttpError(HmxError, status=7, name="HMX_STATUS_HTTP"):
    """An unexpected HTTP status, including any redirect."""


class ProtocolError(HmxError, status=8, name="HMX_STATUS_PROTOCOL"):
    """The answer broke the protocol: not JSON, wrong shape, too large, foreign link."""


class NotFoundError(HmxError, LookupError, status=9, name="HMX_STATUS_NOT_FOUND"):
    """The device looked for is not in the list."""


class PanicError(HmxError, status=10, name="HMX_STATUS_PANIC"):
    """libhmx caught an internal panic. Please report it."""


class BlockedError(HmxError, status=11, name="HMX_STATUS_BLOCKED"):
    """The thermostat refused the request (``{"success":"block"}``): LAN locking
    is on and the token was missing or wrong."""


class StorageError(HmxError, OSError, status=12, name="HMX_STATUS_STORAGE"):
    """The site file cannot be read or written: corrupt, of a newer format,
    readable by others, or refused by the disk."""


#: Each status number's class, from the class statements above.
STATUS_CLASSES: Mapping[int, Type[HmxError]] = MappingProxyType(_BY_STATUS)
