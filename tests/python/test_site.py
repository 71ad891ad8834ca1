"""hmx.Site and hmx.aio against libhmx, the stand-in cloud and stand-in thermostats, as processes.

Run by tests/python.rs (so by `cargo test --all-features`), with the
environment tests/python/test_hmx.py gets (HMX_LIB, HMX_MOCK_CLOUD,
HMX_MOCK_THERMOSTAT, ...). The scenario is tests/site.rs's, through Python:

- a stand-in cloud with three devices (`mock_cloud --devices 3`) and three
  stand-in thermostats with those serials (`mock_thermostat --fixture`, a
  copy of tests/fixtures/sx-standin.json carrying the serial), locked with
  the cloud's keys and announcing on loopback (`--announce PORT`, from
  127.0.0.1 where they serve, but on their own ports, not 80: the site gets
  the ports with set_address, as a unit on another port would need);
- the mock_cloud process cannot change a key while it runs, so "the unit
  was bound again" is a stale key planted in the site file (what the site
  holds after a rebinding), and a token the cloud refuses is a second cloud
  process that never issued it;
- a silent device is a socket here that accepts connections and never
  answers; a stalled one is a proxy here that holds its first connection
  without answering and forwards the later ones to a stand-in.
"""

import asyncio
import inspect
import json
import os
import socket
import stat
import tempfile
import threading
import time
import unittest
from pathlib import Path

from test_hmx import EMAIL, FIXTURES, PASSWORD, Cloud, Device, hmx  # sets up sys.path

STANDIN = FIXTURES / "sx-standin.json"
STANDIN_SN = "05801600XXXXXXXXXXXXXXXXXXXXXX"
STALE_KEY = "OLDKEYOLDKEY2345"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class Silent:
    """An address that takes connections and never answers: a wedged unit."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)  # never accepted: the kernel completes the handshakes
        self.host = "127.0.0.1:%d" % self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class Stalling:
    """A TCP proxy in front of `target` (host:port) that takes its first
    `stall` connections, reads them and never answers (until the client
    gives up), and relays every later one. Counts the connections open at
    once, to show that a client waited for its turn."""

    def __init__(self, target: str, stall: int = 1):
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.stall = stall
        self.lock = threading.Lock()
        self.connections = self.open = self.most_open = 0
        self.stalled = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.host = "127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _serve(self, conn):
        with self.lock:
            n = self.connections
            self.connections += 1
            self.open += 1
            self.most_open = max(self.most_open, self.open)
        try:
            if n < self.stall:
                self.stalled.set()
                while conn.recv(65536):  # read the request, answer nothing
                    pass
            else:
                with socket.create_connection(self.target) as up:
                    back = threading.Thread(target=self._pipe, args=(up, conn))
                    back.start()
                    self._pipe(conn, up)
                    back.join()
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1
            conn.close()

    def close(self):
        self.sock.close()


class Lan:
    """The stand-in cloud with 3 devices, and 3 stand-in thermostats with
    their serials and keys announcing on a port of their own; a site file
    in a fresh folder (hmx makes the folder, 0700)."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = Path(self.tmp.name) / "hmx" / "site.json"
        self.cloud, self.devices = None, []
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self):
        self.cloud = Cloud("--devices", "3")
        self.port = free_udp_port()
        # The serials and keys the stand-in cloud holds (as tests/site.rs reads demo_devices).
        self.listed = self.cloud.fetch()
        template = STANDIN.read_text()
        for d in self.listed:
            fixture = Path(self.tmp.name) / f"{d.sn}.json"
            fixture.write_text(template.replace(STANDIN_SN, d.sn))
            self.devices.append(Device("--fixture", str(fixture), "--locked", d.totp_key,
                                       "--announce", str(self.port)))
        for device, d in zip(self.devices, self.listed):
            assert device.sn == d.sn, (device.sn, d.sn)

    def close(self):
        for device in self.devices:
            device.__exit__()
        if self.cloud is not None:
            self.cloud.__exit__()
        self.tmp.cleanup()

    def client(self, cloud=None) -> hmx.Client:
        cloud = cloud or self.cloud
        return hmx.Client(base_url=cloud.base_url, root_ca_pem=cloud.pem)

    def site(self, cls=hmx.Site, **kwargs):
        """A site on the file with this LAN's cloud, discovery port and short waits."""
        settings = dict(client=self.client(), discovery_port=self.port, discovery_seconds=0.6,
                        timeout=2, min_interval=0.005)
        settings.update(kwargs)
        return cls(self.path, **settings)

    def synced(self) -> hmx.Site:
        """A synced site whose addresses carry the stand-ins' ports."""
        site = self.site(password=PASSWORD)
        report = site.sync(EMAIL)
        assert sorted(report.joined) == sorted(d.sn for d in self.listed), report
        for device in self.devices:
            site.set_address(device.sn, device.host)
        return site

    def key_in_file(self, sn: str):
        data = json.loads(self.path.read_text())
        return next(d["key"] for d in data["devices"] if d["sn"] == sn)

    def plant_key(self, sn: str, key: str):
        """Writes `key` as the device's in the site file (in place: the mode stays 0600)."""
        data = json.loads(self.path.read_text())
        for d in data["devices"]:
            if d["sn"] == sn:
                d["key"] = key
        with open(self.path, "w") as f:
            json.dump(data, f)
        assert mode(self.path) == 0o600


class WithLan(unittest.TestCase):
    def setUp(self):
        self.lan = Lan()
        self.addCleanup(self.lan.close)


class SiteScenario(WithLan):
    """tests/site.rs through hmx.Site."""

    def test_sync_joins_cloud_keys_and_the_lan_and_keeps_them_private(self):
        with self.lan.site(password=PASSWORD) as site:
            report = site.sync(EMAIL)
            self.assertIsInstance(report, hmx.SyncReport)
            self.assertEqual(sorted(report.joined), sorted(d.sn for d in self.lan.listed))
            self.assertEqual((report.cloud_only, report.lan_only, report.logged_in), ((), (), True))
            self.assertEqual(mode(self.lan.path), 0o600)
            self.assertEqual(mode(self.lan.path.parent), 0o700)
            self.assertEqual(site.path, str(self.lan.path))
            devices = site.devices()
            self.assertEqual([d.sn for d in site], [d.sn for d in devices])
            self.assertEqual(len(devices), 3)
        for d, listed in zip(devices, self.lan.listed):
            self.assertIsInstance(d, hmx.SiteDevice)
            self.assertEqual((d.sn, d.name, d.label), (listed.sn, listed.name, listed.name))
            self.assertTrue(d.has_key and d.in_cloud and d.on_lan, d)
            # Announcements give the address alone (port 80 on a real unit).
            self.assertEqual((d.address, d.hw, d.scheme), ("127.0.0.1", "sx", "raw-2000"))
            self.assertIsInstance(d.health, hmx.Health)
            self.assertGreater(d.last_seen, 1_700_000_000)
            # No key in Python: not in the dataclass, not in its text.
            self.assertNotIn(listed.totp_key, repr(d))
            self.assertFalse(hasattr(d, "key") or hasattr(d, "totp_key"))
        # The file keeps the keys (0600) and the token.
        self.assertEqual(self.lan.key_in_file(devices[0].sn), self.lan.listed[0].totp_key)

        # Again, by another Site with no password: the saved token is enough.
        with self.lan.site() as again:
            report = again.sync()
            self.assertFalse(report.logged_in)
            self.assertEqual(len(report.joined), 3)

        # A new site with neither token nor password cannot log in.
        with hmx.Site(Path(self.lan.tmp.name) / "other.json", client=self.lan.client(),
                      discovery_port=self.lan.port, discovery_seconds=0.3) as fresh:
            with self.assertRaises(hmx.AuthError) as caught:
                fresh.sync(EMAIL)
            self.assertIn("no password", caught.exception.message)
            with self.assertRaises(hmx.InvalidArgumentError):
                fresh.sync()  # no account yet: the email is needed

    def test_devices_by_name_prefix_serial_or_address_and_their_state(self):
        site = self.lan.synced()
        kitchen = self.lan.devices[1]
        for query in ("Kitchen", "kitch", "KITCH", kitchen.sn.lower(), kitchen.host):
            self.assertEqual(site.get(query).sn, kitchen.sn, query)
        self.assertRaises(hmx.NotFoundError, site.get, "nowhere")
        self.assertRaises(hmx.InvalidArgumentError, site.get, " ")
        self.assertEqual(site.get("b").name, "Bathroom floor")

        state = site.state("kitch")
        self.assertIsInstance(state, hmx.State)
        self.assertEqual((state.floor_c, state.setpoint_c, state.mode, state.control),
                         (27.0, 27.0, "schedule", "floor"))
        health = hmx.Site(self.lan.path).get("kitchen").health
        self.assertEqual(health.failures, 0)
        self.assertIsNotNone(health.last_success)
        self.assertIsNotNone(health.last_latency_ms)

        # set_scheme is saved; an unknown one is refused.
        site.set_scheme("kitchen", "raw-unix")
        self.assertEqual(hmx.Site(self.lan.path).get("kitchen").scheme, "raw-unix")
        self.assertRaises(hmx.InvalidArgumentError, site.set_scheme, "kitchen", "rot13")
        self.assertRaises(hmx.InvalidArgumentError, site.set_address, "kitchen", "http://x/")
        site.close()
        self.assertRaises(hmx.InvalidArgumentError, site.devices)
        site.close()

    def test_a_control_is_applied_and_the_handle_reads_it_back(self):
        with self.lan.synced() as site:
            site.control("living", "brightness=7")
            with site.thermostat("living") as t:
                self.assertIsInstance(t, hmx.Thermostat)
                self.assertEqual((t.host, t.sn), (self.lan.devices[0].host, self.lan.devices[0].sn))
                self.assertNotIn(self.lan.listed[0].totp_key, repr(t))
                self.assertEqual(next(p.value for p in t.parameters() if p.id == 23), "7")
                t.set_brightness(3)  # the handle signs with the site's key
                self.assertEqual(next(p.value for p in t.parameters() if p.id == 23), "3")
            site.control("Living room", "brightness=2", "child_lock=on")
            self.assertEqual(site.state("living").brightness, 2)
            # Checked against the unit's own list; nothing sent.
            self.assertRaises(hmx.InvalidArgumentError, site.control, "living", "brightness=99")
            self.assertRaises(hmx.InvalidArgumentError, site.control, "living", "loudness=3")
            self.assertRaises(TypeError, site.control, "living", 5)

    def test_a_key_changed_in_the_cloud_is_fetched_again(self):
        living = self.lan.listed[0]
        self.lan.synced().close()
        # The unit was bound again: the site holds its old key, the cloud the new one.
        self.lan.plant_key(living.sn, STALE_KEY)
        with self.lan.site() as site:  # no password: the saved token must do
            site.control("living", "brightness=4")
            self.assertEqual(site.state("living").brightness, 4)
        self.assertEqual(self.lan.key_in_file(living.sn), living.totp_key)

        # A cloud that refuses the saved token (another process: it never issued it).
        self.lan.plant_key(living.sn, STALE_KEY)
        with Cloud("--devices", "3") as other:
            with self.lan.site(client=self.lan.client(other)) as site:
                with self.assertRaises(hmx.BlockedError) as caught:
                    site.control("living", "brightness=5")
                self.assertIn("no password", caught.exception.message)
                self.assertNotIn(STALE_KEY, caught.exception.message)
            self.assertEqual(self.lan.key_in_file(living.sn), STALE_KEY)
            with self.lan.site(client=self.lan.client(other), password=PASSWORD) as site:
                site.control("living", "brightness=5")
                self.assertEqual(site.state("living").brightness, 5)
        self.assertEqual(self.lan.key_in_file(living.sn), living.totp_key)

    def test_a_device_that_moved_is_found_by_its_announcement(self):
        bathroom = self.lan.devices[2]
        port = bathroom.host.rsplit(":", 1)[1]
        with self.lan.synced() as site:
            # The saved address answers no more (nothing listens there now).
            site.set_address("bathroom", f"127.0.0.9:{port}")
            state = site.state("bathroom")
            self.assertIsNotNone(state.setpoint_c)
        self.assertEqual(hmx.Site(self.lan.path).get("bathroom").address, bathroom.host)

    def test_control_many_with_one_silent_device(self):
        self.lan.synced().close()
        silent = Silent()
        self.addCleanup(silent.close)
        # Listening for the moved on a quiet port: the silent one stays a timeout.
        with self.lan.site(discovery_port=free_udp_port(), discovery_seconds=0.3,
                           timeout=1) as site:
            site.set_address("kitchen", silent.host)
            sns = [d.sn for d in self.lan.listed]
            started = time.monotonic()
            results = site.control_many("brightness=6", names=sns + ["nowhere"])
            took = time.monotonic() - started
            self.assertEqual([r.device for r in results], sns + ["nowhere"])
            for r in results:
                self.assertIsInstance(r, hmx.Outcome)
            self.assertEqual([r.ok for r in results], [True, False, True, False])
            self.assertEqual([r.error for r in results[0::2]], [None, None])
            self.assertIs(type(results[1].error), hmx.HmxTimeoutError)
            self.assertEqual(results[1].error.status, 5)
            self.assertIn("no answer", results[1].error.message)
            self.assertIs(type(results[3].error), hmx.NotFoundError)
            self.assertLess(took, 3)
            for i in (0, 2):
                with site.thermostat(sns[i]) as t:
                    self.assertEqual(next(p.value for p in t.parameters() if p.id == 23), "6")
            self.assertEqual(site.get("kitchen").health.failures, 1)

            # Every device (names=None), one control as several strings; none for [].
            results = site.control_many(["brightness=1", "child_lock=off"])
            self.assertEqual([r.device for r in results], sns)
            self.assertEqual([r.ok for r in results], [True, False, True])
            self.assertEqual(site.control_many("brightness=1", names=[]), [])
            states = site.state_many(["living", "kitchen"])
            self.assertEqual(states[0].state.brightness, 1)
            self.assertIsNone(states[1].state)
            self.assertIsInstance(states[1].error, TimeoutError)
            # The third failure in a row names the unit as wedged.
            with self.assertRaises(hmx.HmxTimeoutError) as caught:
                site.state("kitchen")
            self.assertIn("looks wedged", caught.exception.message)
            self.assertEqual(site.get("kitchen").health.failures, 4)
            self.assertRaises(hmx.InvalidArgumentError, site.control_many, "volume=11")


class SiteFile(unittest.TestCase):
    def test_a_bad_site_file_is_a_storage_error_naming_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            cases = [("corrupt", b'{"hmx_site": 1, "devices": [', "not a readable site file"),
                     ("foreign", b'{"devices": []}', "not an hmx site file"),
                     ("newer", b'{"hmx_site": 2, "devices": []}', "newer hmx"),
                     ("empty", b"", "not a readable site file")]
            for name, content, says in cases:
                with self.subTest(name=name):
                    path = Path(tmp) / f"{name}.json"
                    path.write_bytes(content)
                    path.chmod(0o600)
                    with self.assertRaises(hmx.StorageError) as caught:
                        hmx.Site(path)
                    e = caught.exception
                    self.assertIsInstance(e, OSError)
                    self.assertEqual((e.status, e.name), (12, "HMX_STATUS_STORAGE"))
                    self.assertIn(str(path), e.message)
                    self.assertIn(says, e.message)
                    self.assertEqual(path.read_bytes(), content)  # left as it was
            shared = Path(tmp) / "shared.json"
            shared.write_bytes(b'{"hmx_site": 1, "devices": []}')
            shared.chmod(0o644)
            with self.assertRaises(hmx.StorageError) as caught:
                hmx.Site(str(shared))
            self.assertIn("readable or writable by others", caught.exception.message)
            # No file yet is an empty site, and reading it writes nothing.
            with hmx.Site(Path(tmp) / "none.json") as empty:
                self.assertEqual((empty.devices(), list(empty)), ([], []))
                self.assertRaises(hmx.NotFoundError, empty.get, "kitchen")
                self.assertFalse((Path(tmp) / "none.json").exists())
                with self.assertRaises(hmx.NotFoundError) as caught:
                    empty.state("kitchen")
                self.assertIn("is empty", caught.exception.message)

    def test_wrong_arguments(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "site.json"
            for kwargs in ({"client": "https://my.hmarex.com"}, {"password": b"pw"},
                           {"discovery_port": "23500"}, {"timeout": "5"}):
                with self.subTest(kwargs=kwargs), self.assertRaises(TypeError):
                    hmx.Site(path, **kwargs)
            self.assertRaises(TypeError, hmx.Site, 5)
            for kwargs in ({"discovery_port": 0}, {"discovery_seconds": 0}, {"timeout": -1},
                           {"min_interval": float("nan")}):
                with self.subTest(kwargs=kwargs), self.assertRaises(hmx.InvalidArgumentError):
                    hmx.Site(path, **kwargs)
            with hmx.Site(path) as site:
                self.assertRaises(TypeError, site.get, None)
                self.assertRaises(TypeError, site.control_many, "power=on", names=[1])
                self.assertRaises(hmx.InvalidArgumentError, site.get, "a\0b")


def run(coro):
    return asyncio.run(coro)


class Ticker:
    """Notes the longest the event loop went without running it: a loop that
    waited on a blocking call shows as a long gap."""

    def __init__(self):
        self.longest = 0.0

    async def run(self):
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.longest = max(self.longest, now - last)
            last = now


class Aio(unittest.TestCase):
    def test_the_same_methods_as_the_blocking_faces(self):
        for aio_cls, blocking in ((hmx.aio.Thermostat, hmx.Thermostat), (hmx.aio.Site, hmx.Site),
                                  (hmx.aio.Client, hmx.Client)):
            public = {n for n in dir(blocking) if not n.startswith("_")} - {"path"}
            for name in public:
                with self.subTest(cls=aio_cls.__name__, method=name):
                    theirs = getattr(blocking, name)
                    ours = getattr(aio_cls, name)
                    if name == "close" or not callable(theirs):
                        continue
                    self.assertTrue(inspect.iscoroutinefunction(ours), name)
        for name in ("discover", "fetch_devices"):
            self.assertTrue(inspect.iscoroutinefunction(getattr(hmx.aio, name)))
        self.assertIn("CancelledError", hmx.aio.__doc__)
        self.assertIn("may still be applied", hmx.aio.__doc__)
        self.assertRaises(TypeError, hmx.aio.Thermostat.wrap, hmx.Client())

    def test_a_cancelled_call_returns_at_once_and_the_handle_stays_usable(self):
        with Device() as device:
            proxy = Stalling(device.host, stall=1)
            self.addCleanup(proxy.close)

            async def scenario():
                ticker = Ticker()
                ticking = asyncio.ensure_future(ticker.run())
                async with hmx.aio.Thermostat(proxy.host, device.sn, timeout=3) as t:
                    started = time.monotonic()
                    call = asyncio.ensure_future(t.state())
                    while not proxy.stalled.is_set():  # the request is at the device
                        await asyncio.sleep(0.01)
                    cancelled_at = time.monotonic()
                    call.cancel()
                    with self.assertRaises(asyncio.CancelledError):
                        await call
                    cancel_took = time.monotonic() - cancelled_at
                    state = await t.state()  # the same object, once the abandoned call ends
                    later_done = time.monotonic() - started
                    again = await t.telemetry()
                ticking.cancel()
                return cancel_took, later_done, state, again, ticker.longest

            cancel_took, later_done, state, again, longest = run(scenario())
        self.assertLess(cancel_took, 0.2)
        self.assertIsInstance(state, hmx.State)
        self.assertIsNotNone(state.floor_c)
        self.assertIn("t.1", again)
        # Paced: the later call waited for the abandoned one's 3 s bound and
        # was never at the device at the same time as it.
        self.assertGreaterEqual(later_done, 2.9)
        self.assertEqual(proxy.most_open, 1)
        self.assertLess(longest, 0.5, "the event loop was blocked")

    def test_calls_to_different_devices_run_at_once(self):
        lan = Lan()
        self.addCleanup(lan.close)
        lan.synced().close()

        async def scenario():
            # A second between two requests to one device: a state (two requests) takes 1 s.
            async with await lan.site(hmx.aio.Site.open, min_interval=1) as site:
                names = [d.label async for d in site]
                thermostats = [await site.thermostat(n) for n in names]

                async def timed(t):
                    started = time.monotonic()
                    state = await t.state()
                    return state, time.monotonic() - started

                started = time.monotonic()
                results = await asyncio.gather(*(timed(t) for t in thermostats))
                total = time.monotonic() - started
                for t in thermostats:
                    t.close()
                many = await site.state_many()
                await site.control("kitchen", "brightness=8")
                kitchen = await site.get("kitchen")
                found = await hmx.aio.discover(seconds=0.6, port=lan.port)
                fetched = await hmx.aio.fetch_devices(EMAIL, PASSWORD, base_url=lan.cloud.base_url,
                                                      root_ca_pem=lan.cloud.pem)
                async with hmx.aio.Client(base_url=lan.cloud.base_url,
                                          root_ca_pem=lan.cloud.pem) as client:
                    listed = await client.list_devices(await client.login(EMAIL, PASSWORD))
                return names, results, total, many, kitchen, found, fetched, listed

        names, results, total, many, kitchen, found, fetched, listed = run(scenario())
        self.assertEqual(names, [d.name for d in lan.listed])
        each = [took for _, took in results]
        for state, took in results:
            self.assertIsInstance(state, hmx.State)
            self.assertGreaterEqual(took, 0.95)
        self.assertLess(total, 0.6 * sum(each), (total, each))
        self.assertEqual([r.ok for r in many], [True, True, True])
        self.assertEqual(kitchen.sn, lan.listed[1].sn)
        self.assertEqual(sorted(f.sn for f in found), sorted(d.sn for d in lan.listed))
        self.assertEqual([d.sn for d in fetched], [d.sn for d in listed])

    def test_a_cancelled_site_call_still_saves_what_it_learnt(self):
        lan = Lan()
        self.addCleanup(lan.close)
        lan.synced().close()
        silent = Silent()
        self.addCleanup(silent.close)

        async def scenario():
            site = hmx.aio.Site.wrap(lan.site(discovery_port=free_udp_port(),
                                              discovery_seconds=0.3, timeout=2))
            await site.set_address("kitchen", silent.host)
            call = asyncio.ensure_future(site.state("kitchen"))
            await asyncio.sleep(0.3)
            cancelled_at = time.monotonic()
            call.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await call
            cancel_took = time.monotonic() - cancelled_at
            # The site's next call waits for the abandoned one, which kept the health.
            kitchen = await site.get("kitchen")
            living = await site.state("living")
            site.close()
            site.close()
            return cancel_took, kitchen, living

        cancel_took, kitchen, living = run(scenario())
        self.assertLess(cancel_took, 0.2)
        self.assertEqual(kitchen.health.failures, 1)
        self.assertIsInstance(living, hmx.State)


if __name__ == "__main__":
    unittest.main(verbosity=2)
