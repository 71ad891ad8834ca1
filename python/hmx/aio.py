"""hmx for asyncio: the blocking calls of :mod:`hmx` as coroutines, for
bridges built on an event loop (Home Assistant integrations and the like).

Each coroutine runs the blocking call in a worker thread
(:func:`asyncio.to_thread`, so the loop's default executor), so the event
loop never waits on a device, the cloud or a discovery. The objects wrap
the blocking ones, one per libhmx handle, with the same method names:
:class:`Thermostat` wraps :class:`hmx.Thermostat`, :class:`Site` wraps
:class:`hmx.Site`, :class:`Client` wraps :class:`hmx.Client` (each keeps
it as ``.blocking``); use them with ``async with`` or call ``close()``.
Everything else (arguments, results, exceptions, pacing) is the blocking
call's.

Cancelling: cancelling the task that awaits a call raises
:class:`asyncio.CancelledError` in it at once. The blocking call itself
cannot be stopped: it goes on in its worker thread until it ends by itself,
within its own bound (``timeout`` per device request, with its retries; for
a site call, the rediscovery wait too; the client's timeouts for the cloud;
``seconds`` for a discovery), and its result or error is dropped. So:

- a write already sent may still be applied by the device, and a site call
  still saves what it learnt (a new address, a new key, the health);
- the object stays usable at once: the next call on it, or on any handle to
  the same device, waits for its turn behind the abandoned one (libhmx sends
  one request at a time to a device, with the quiet interval between
  requests), then runs as usual; a site runs its calls one at a time, so its
  next call also waits until the abandoned one has finished;
- the worker thread stays busy until then, so many calls abandoned at once
  can fill the executor.

Closing an object while an abandoned call still runs is safe: the call keeps
the handle alive until it ends.
"""

from __future__ import annotations

import asyncio
from typing import (Any, AsyncIterator, Callable, Dict, Iterable, List, Optional, TypeVar,
                    Union)

from . import cloud, local
from . import site as _site
from .cloud import Device
from .local import DISCOVERY_PORT, DISCOVERY_SECONDS, Found, Parameter, ProbeReport, State

__all__ = ["Client", "Thermostat", "Site", "discover", "fetch_devices"]

T = TypeVar("T")


async def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread; see the module on cancelling."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def discover(seconds: float = DISCOVERY_SECONDS, port: int = DISCOVERY_PORT) -> List[Found]:
    """:func:`hmx.discover` in a worker thread: listens ``seconds`` (35 by
    default: devices announce about every 30 s)."""
    return await _run(local.discover, seconds, port)


async def fetch_devices(email: str, password: str, **client_kwargs: Any) -> List[Device]:
    """:func:`hmx.fetch_devices` in a worker thread."""
    return await _run(cloud.fetch_devices, email, password, **client_kwargs)


class _Wrapper:
    """What the three classes share: the blocking object, ``close`` and the
    context managers."""

    blocking: Any

    @classmethod
    def wrap(cls, blocking: Any) -> Any:
        """This face of a blocking object you already have (not a copy: both
        use one handle, and closing either closes it)."""
        wanted = cls._wraps  # type: ignore[attr-defined]
        if not isinstance(blocking, wanted):
            raise TypeError(f"{cls.__name__}.wrap takes hmx.{wanted.__name__}, "
                            f"not {type(blocking).__name__}")
        self = cls.__new__(cls)
        self.blocking = blocking
        return self

    def __repr__(self) -> str:
        return f"<hmx.aio {self.blocking!r}>"

    def close(self) -> None:
        """Frees the handle (it never waits: a call still running keeps it
        alive until it ends). Safe to repeat."""
        self.blocking.close()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


class Client(_Wrapper):
    """:class:`hmx.Client` for asyncio: the same arguments."""

    _wraps = cloud.Client

    def __init__(self, *args: Any, **kwargs: Any):
        """The arguments of :class:`hmx.Client` (checked here; nothing is sent)."""
        self.blocking = cloud.Client(*args, **kwargs)

    async def login(self, email: str, password: str) -> str:
        return await _run(self.blocking.login, email, password)

    async def list_devices(self, token: str) -> List[Device]:
        return await _run(self.blocking.list_devices, token)


class Thermostat(_Wrapper):
    """:class:`hmx.Thermostat` for asyncio: the same arguments (making it
    sends nothing), the same methods as coroutines. Several calls to
    different devices run at once; calls to one device take their turn, as
    in the blocking face."""

    _wraps = local.Thermostat

    def __init__(self, host: str, sn: str, key: Optional[str] = None,
                 scheme: Optional[str] = None, timeout: float = 5):
        self.blocking = local.Thermostat(host, sn, key=key, scheme=scheme, timeout=timeout)

    @property
    def host(self) -> str:
        return self.blocking.host

    @property
    def sn(self) -> str:
        return self.blocking.sn

    async def request(self, request: Dict[str, Any]) -> Dict[str, Any]:
        return await _run(self.blocking.request, request)

    async def parameters(self) -> List[Parameter]:
        return await _run(self.blocking.parameters)

    async def telemetry(self) -> Dict[str, Any]:
        return await _run(self.blocking.telemetry)

    async def device_time(self) -> int:
        return await _run(self.blocking.device_time)

    async def set(self, values: Dict[int, Any]) -> Dict[str, Any]:
        return await _run(self.blocking.set, values)

    async def state(self) -> State:
        return await _run(self.blocking.state)

    async def set_setpoint(self, celsius: float) -> None:
        await _run(self.blocking.set_setpoint, celsius)

    async def set_power(self, on: bool) -> None:
        await _run(self.blocking.set_power, on)

    async def set_mode(self, mode: str) -> None:
        await _run(self.blocking.set_mode, mode)

    async def set_brightness(self, level: int) -> None:
        await _run(self.blocking.set_brightness, level)

    async def set_child_lock(self, on: bool) -> None:
        await _run(self.blocking.set_child_lock, on)

    async def control(self, *controls: str) -> None:
        await _run(self.blocking.control, *controls)

    async def probe(self) -> ProbeReport:
        return await _run(self.blocking.probe)


class Site(_Wrapper):
    """:class:`hmx.Site` for asyncio: the same arguments and methods, as
    coroutines. ``Site(...)`` reads the site file in the calling thread (a
    small file, but a read); ``await Site.open(...)`` reads it in a worker
    thread. A site runs its calls one at a time: to reach several devices
    at once, use :meth:`control_many` and :meth:`state_many`, or
    :meth:`thermostat` handles."""

    _wraps = _site.Site

    def __init__(self, path: Optional[_site.PathLike] = None, client: Optional[cloud.Client] = None,
                 password: Optional[str] = None, discovery_port: int = DISCOVERY_PORT,
                 discovery_seconds: float = DISCOVERY_SECONDS, timeout: float = 5,
                 min_interval: float = 1):
        self.blocking = _site.Site(path, client=client, password=password,
                                   discovery_port=discovery_port,
                                   discovery_seconds=discovery_seconds, timeout=timeout,
                                   min_interval=min_interval)

    @classmethod
    async def open(cls, path: Optional[_site.PathLike] = None, **settings: Any) -> "Site":
        """``hmx.aio.Site(path, **settings)``, the file read in a worker thread."""
        return cls.wrap(await _run(_site.Site, path, **settings))

    @property
    def path(self) -> str:
        return self.blocking.path

    async def sync(self, email: Optional[str] = None) -> _site.SyncReport:
        return await _run(self.blocking.sync, email)

    async def devices(self) -> List[_site.SiteDevice]:
        return await _run(self.blocking.devices)

    def __aiter__(self) -> AsyncIterator[_site.SiteDevice]:
        return self._each()

    async def _each(self) -> AsyncIterator[_site.SiteDevice]:
        for d in await self.devices():
            yield d

    async def get(self, query: str) -> _site.SiteDevice:
        return await _run(self.blocking.get, query)

    async def thermostat(self, query: str) -> Thermostat:
        """An :class:`hmx.aio.Thermostat` for the device (see :meth:`hmx.Site.thermostat`)."""
        return Thermostat.wrap(await _run(self.blocking.thermostat, query))

    async def state(self, query: str) -> State:
        return await _run(self.blocking.state, query)

    async def control(self, query: str, *controls: str) -> None:
        await _run(self.blocking.control, query, *controls)

    async def control_many(self, controls: Union[str, Iterable[str]],
                           names: Optional[Iterable[str]] = None) -> List[_site.Outcome]:
        return await _run(self.blocking.control_many, controls, names)

    async def state_many(self, names: Optional[Iterable[str]] = None) -> List[_site.Outcome]:
        return await _run(self.blocking.state_many, names)

    async def set_scheme(self, query: str, scheme: str) -> None:
        await _run(self.blocking.set_scheme, query, scheme)

    async def set_address(self, query: str, address: str) -> None:
        await _run(self.blocking.set_address, query, address)
