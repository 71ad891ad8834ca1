"""A site: the thermostats of one account by name, with their keys and last
addresses, kept in one file between runs (:class:`Site`, over libhmx's
``hmx_site``: the Rust ``Site`` and its rules, nothing added here)."""

from __future__ import annotations

import ctypes
import json
import os
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from . import _ffi
from .cloud import Client
from .errors import STATUS_CLASSES, HmxError, InvalidArgumentError
from .local import DISCOVERY_PORT, DISCOVERY_SECONDS, State, Thermostat, _state

#: What a site path may be given as.
PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Health:
    """How a device has been answering: ``failures`` in a row (requests that
    got no answer; a success resets it), when the first of them came
    (``failing_since``), when it last answered (``last_success``; times in
    seconds since 1970, None when never) and how long that call took
    (``last_latency_ms``). Three failures in a row within 10 minutes make
    the error say the unit looks wedged."""
    failures: int = 0
    failing_since: Optional[int] = None
    last_success: Optional[int] = None
    last_latency_ms: Optional[int] = None


@dataclass(frozen=True)
class SiteDevice:
    """One thermostat of the site, as ``hmx_site_devices_json`` gives it: no
    key, only whether the site has one (``has_key``). ``name`` is the name in
    the vendor's app (None for a device only heard on the LAN); ``scheme`` the
    token scheme its writes are signed with; ``address`` where it answered
    last (``ip`` or ``ip:port``; None when never heard); ``hw`` its hardware
    family from its announcement; ``last_seen`` when it was last heard or
    answered (seconds since 1970); ``in_cloud`` and ``on_lan`` whether the
    last sync found it in the account and on the LAN."""
    sn: str
    name: Optional[str]
    has_key: bool
    scheme: str
    address: Optional[str]
    hw: Optional[str]
    last_seen: Optional[int]
    in_cloud: bool
    on_lan: bool
    health: Health = field(default_factory=Health)

    @property
    def label(self) -> str:
        """What to call it: its name, else its serial."""
        return self.name if self.name is not None else self.sn


def _device(d: Dict[str, Any]) -> SiteDevice:
    values = {f.name: d.get(f.name) for f in fields(SiteDevice) if f.name != "health"}
    health = d.get("health") or {}
    return SiteDevice(**values, health=Health(**{f.name: health[f.name] for f in fields(Health)
                                                 if f.name in health}))


@dataclass(frozen=True)
class SyncReport:
    """What :meth:`Site.sync` found, by serial number: ``joined`` (in the
    cloud and heard on the LAN: ready), ``cloud_only`` (not heard: off,
    elsewhere or silent for now), ``lan_only`` (heard, not in the account: no
    key), and ``logged_in``: whether the saved token was missing or refused
    and a login with the password made a new one."""
    joined: Tuple[str, ...]
    cloud_only: Tuple[str, ...]
    lan_only: Tuple[str, ...]
    logged_in: bool


@dataclass(frozen=True)
class Outcome:
    """One device's result from :meth:`Site.control_many` or
    :meth:`Site.state_many`: ``device`` is its serial (or the query itself
    when it named no device); ``ok`` whether the call succeeded; ``error``
    the :class:`HmxError` subclass instance it failed with (None when ok);
    ``state`` the :class:`State` read (:meth:`Site.state_many` only)."""
    device: str
    ok: bool
    error: Optional[HmxError] = None
    state: Optional[State] = None


def _error_named(name: str, message: str) -> HmxError:
    """The exception libhmx's status ``name`` stands for, with ``message``."""
    for cls in STATUS_CLASSES.values():
        if cls.name == name:
            return cls(message, cls.status, name)
    return HmxError(message, None, name)


def _state_of(values: Dict[str, Any]) -> State:
    return State(**{f.name: values.get(f.name) for f in fields(State)})


def _outcome(r: Dict[str, Any]) -> Outcome:
    if r.get("ok"):
        state = r.get("state")
        return Outcome(device=r["device"], ok=True,
                       state=None if state is None else _state_of(state))
    return Outcome(device=r["device"], ok=False,
                   error=_error_named(r.get("status", ""), r.get("message", "")))


def _query(value: Any) -> bytes:
    return _ffi.text(value, "query")


class Site(_ffi.Owned):
    """The thermostats of one account, kept in the file at ``path`` (a str
    or path; None: ``$HMX_SITE``, else ``$XDG_CONFIG_HOME/hmx/site.json``,
    else ``~/.config/hmx/site.json``), over one ``hmx_site`` handle: use it as
    a context manager or call :meth:`close`.

    A missing file is an empty site (nothing is written until a change). A
    file that is corrupt, not a site file, of a newer format, or readable or
    writable by others (it holds keys and a token: mode 0600) raises
    :class:`StorageError` naming the file, and is left as it was. Every
    change is saved at once (mode 0600; a folder made for it 0700), under a
    lock, so several processes may share the file.

    The settings are for this run and never saved: ``client`` (an
    :class:`hmx.Client`: the cloud the keys come from; default Terneo's,
    with the environment's proxy), ``password`` (for a login when there is
    no saved token or the cloud refuses it), ``discovery_port`` and
    ``discovery_seconds`` (where and how long to listen for announcements:
    by :meth:`sync` and for a device that stopped answering at its saved
    address; devices announce about every 30 s), ``timeout`` (seconds per
    device request) and ``min_interval`` (seconds between requests to one
    device).

    A query names a device by name (case ignored; the start of a name will
    do when only one name starts so), serial number or saved address:
    :class:`NotFoundError` when none matches, :class:`InvalidArgumentError`
    listing them when a start fits several. The site may be used from many
    threads; its calls run one at a time.
    """

    def __init__(self, path: Optional[PathLike] = None, client: Optional[Client] = None,
                 password: Optional[str] = None, discovery_port: int = DISCOVERY_PORT,
                 discovery_seconds: float = DISCOVERY_SECONDS, timeout: float = 5,
                 min_interval: float = 1):
        self._ptr: Optional[int] = None
        path_b = None if path is None else _ffi.text(os.fspath(path), "path")
        if client is not None and not isinstance(client, Client):
            raise TypeError(f"client must be hmx.Client or None, not {type(client).__name__}")
        password_b = _ffi.text_or_none(password, "password")
        if isinstance(discovery_port, bool) or not isinstance(discovery_port, int):
            raise TypeError(f"discovery_port must be int, not {type(discovery_port).__name__}")
        if not 0 < discovery_port <= 0xFFFF:
            raise InvalidArgumentError("discovery_port must be 1 to 65535")
        wait_ms = _ffi.seconds_ms(discovery_seconds, "discovery_seconds")
        timeout_ms = _ffi.seconds_ms(timeout, "timeout")
        interval_ms = _ffi.seconds_ms(min_interval, "min_interval")
        client_ptr = None if client is None else client._handle()
        lib = _ffi.lib
        handle = ctypes.c_void_p()
        lib.hmx_site_open(path_b, ctypes.byref(handle))
        try:
            if client_ptr is not None:
                lib.hmx_site_set_client(handle, client_ptr)  # the site keeps its own reference
            if password_b is not None:
                lib.hmx_site_set_password(handle, password_b)
            lib.hmx_site_set_discovery(handle, discovery_port, wait_ms)
            lib.hmx_site_set_timeouts(handle, timeout_ms, interval_ms)
            self.path = _ffi.string_out(lib.hmx_site_path, handle)
        except BaseException:
            lib.hmx_free(handle)
            raise
        self._ptr = handle.value

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else "open"
        return f"<hmx.Site {getattr(self, 'path', '?')!r} ({state})>"

    def _handle(self) -> int:
        if self._ptr is None:
            raise InvalidArgumentError("the site is closed")
        return self._ptr

    def _json(self, fn: Any, *args: Any) -> Any:
        return json.loads(_ffi.string_out(fn, self._handle(), *args))

    # ------------------------------------------------------------ the account and the LAN

    def sync(self, email: Optional[str] = None) -> SyncReport:
        """Reads every page of the account's keys (the saved token first; a
        login with the password only when there is none or the cloud refuses
        it), listens for announcements for ``discovery_seconds``, joins them
        by serial number and saves. ``email`` may be left out once the site
        has an account. Announcements carry only an address: a device
        answering on another port than 80 needs :meth:`set_address`."""
        email_b = _ffi.text_or_none(email, "email")
        r = self._json(_ffi.lib.hmx_site_sync, email_b)
        return SyncReport(joined=tuple(r["joined"]), cloud_only=tuple(r["cloud_only"]),
                          lan_only=tuple(r["lan_only"]), logged_in=bool(r["logged_in"]))

    # ------------------------------------------------------------ the devices

    def devices(self) -> List[SiteDevice]:
        """Every device, in the order first synced."""
        return [_device(d) for d in self._json(_ffi.lib.hmx_site_devices_json)]

    def __iter__(self) -> Iterator[SiteDevice]:
        """``for d in site``: the devices as :meth:`devices` lists them now."""
        return iter(self.devices())

    def get(self, query: str) -> SiteDevice:
        """The device ``query`` names (see the class)."""
        return _device(self._json(_ffi.lib.hmx_site_get_json, _query(query)))

    def thermostat(self, query: str) -> Thermostat:
        """An :class:`hmx.Thermostat` for the device ``query`` names, at its
        saved address, with its key, scheme and the site's timeouts. It is on
        its own: it does not look for a device that moved, fetch a changed
        key or keep the device's health (:meth:`state` and :meth:`control`
        do). A device never heard on the LAN raises :class:`NotFoundError`."""
        q = _query(query)
        device = self.get(query)
        out = ctypes.c_void_p()
        _ffi.lib.hmx_site_thermostat(self._handle(), q, ctypes.byref(out))
        return Thermostat._adopt(out.value, device.address or "", device.sn, device.scheme,
                                 device.has_key)

    # ------------------------------------------------------------ calls that find their way back

    def state(self, query: str) -> State:
        """The :class:`State` of the device ``query`` names, finding its way
        back: a device that does not answer at its saved address is listened
        for (at most ``discovery_seconds``) and asked again where it is heard;
        one that refuses its key gets the keys fetched again (saved token
        first) and is asked again if its key changed. Its health is kept:
        three unanswered requests in a row within 10 minutes make the error
        (of the failure's class) say that the unit looks wedged and needs a
        power cycle. What changed is saved before returning."""
        out = _ffi.CState()
        _ffi.lib.hmx_site_state(self._handle(), _query(query), ctypes.byref(out))
        return _state(out)

    def control(self, query: str, *controls: str) -> None:
        """Writes named controls to the device ``query`` names in one signed
        request, as :meth:`hmx.Thermostat.control` takes them
        (``control("kitchen", "mode=manual setpoint=21.5")``), finding its way
        back as :meth:`state` does, except that a write that may have reached
        the device is never sent again elsewhere."""
        _ffi.lib.hmx_site_control(self._handle(), _query(query), _controls(controls))

    def control_many(self, controls: Union[str, Iterable[str]],
                     names: Optional[Iterable[str]] = None) -> List[Outcome]:
        """Writes ``controls`` (a str, or several str, as for :meth:`control`)
        to the devices ``names`` queries name (None: every device of the
        site), each in its own thread, and returns one :class:`Outcome` per
        query, in their order: a device's failure is its outcome and never
        hides the others'. Devices that moved are listened for together; the
        keys are fetched at most once. Raises only for what stops the whole
        call: controls that do not parse, or a site that cannot be saved."""
        text = _controls((controls,) if isinstance(controls, str) else tuple(controls))
        queries = _queries(names)
        if queries == []:
            return []
        array, count = _query_array(queries)
        r = self._json(_ffi.lib.hmx_site_control_many, array, count, text)
        return [_outcome(x) for x in r]

    def state_many(self, names: Optional[Iterable[str]] = None) -> List[Outcome]:
        """:meth:`state` of several devices at once, as :meth:`control_many`
        calls them; each ok :class:`Outcome` carries its ``state``."""
        queries = _queries(names)
        if queries == []:
            return []
        array, count = _query_array(queries)
        return [_outcome(x) for x in self._json(_ffi.lib.hmx_site_state_many, array, count)]

    # ------------------------------------------------------------ what the site cannot learn itself

    def set_scheme(self, query: str, scheme: str) -> None:
        """Sets the token scheme the device accepts (``"raw-2000"``,
        ``"raw-unix"``, ``"base32-2000"``, ``"base32-unix"``; as
        :meth:`hmx.Thermostat.probe` found) and saves."""
        _ffi.lib.hmx_site_set_scheme(self._handle(), _query(query), _ffi.text(scheme, "scheme"))

    def set_address(self, query: str, address: str) -> None:
        """Sets the address the device is reached at (``ip`` or ``ip:port``:
        a unit with a fixed address, or one answering on another port than
        80, which announcements do not tell) and saves."""
        _ffi.lib.hmx_site_set_address(self._handle(), _query(query), _ffi.text(address, "address"))



def _controls(controls: Tuple[Any, ...]) -> bytes:
    for c in controls:
        if not isinstance(c, str):
            raise TypeError(f"controls must be str, not {type(c).__name__}")
    return _ffi.text(" ".join(controls), "controls")


def _queries(names: Optional[Iterable[str]]) -> Optional[List[bytes]]:
    """The queries as C strings; None for every device. A str is one query."""
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    return [_query(n) for n in names]


def _query_array(queries: Optional[List[bytes]]) -> Tuple[Any, int]:
    """``const char *const *`` and its count; (NULL, 0) for every device."""
    if queries is None:
        return None, 0
    return (ctypes.c_char_p * len(queries))(*queries), len(queries)
