"""The Python module over libhmx, against the stand-in cloud process.

Run by tests/python.rs (so by `cargo test --all-features`), which sets
HMX_LIB, HMX_MOCK_CLOUD, HMX_EXPECT_VERSION and HMX_EXPECT_TOTP, and by
tests/install.rs with HMX_TEST_INSTALLED=1: then this file is a copy outside
the source tree, run by a fresh venv's Python with the wheel installed, and it
tests the installed package instead of the repository's python/ folder.
"""

import concurrent.futures
import ctypes
import dataclasses
import inspect
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

INSTALLED = os.environ.get("HMX_TEST_INSTALLED") == "1"
REPO = Path(__file__).resolve().parents[2]
if not INSTALLED:
    sys.path.insert(0, str(REPO / "python"))
import hmx  # noqa: E402

PACKAGE = Path(hmx.__file__).resolve().parent
# The source tree (cargo sets CARGO_MANIFEST_DIR, also for the installed-wheel run).
SOURCE = Path(os.environ.get("CARGO_MANIFEST_DIR", REPO))
FIXTURES = SOURCE / "tests" / "fixtures"

EMAIL, PASSWORD = "demo@hmx.invalid", "demo-password"


class StandIn:
    """A stand-in example process: it prints `lines` NAME=VALUE lines, then
    serves until its stdin closes."""

    def __init__(self, program: str, args: tuple, lines: int):
        self.proc = subprocess.Popen([program, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.env = dict(self.proc.stdout.readline().strip().split("=", 1) for _ in range(lines))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        # What it prints as it stops (the stand-in thermostat: its request counts).
        self.env.update(line.strip().split("=", 1) for line in self.proc.stdout if "=" in line)
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


class Cloud(StandIn):
    """The `mock_cloud` example as a process."""

    def __init__(self, *args: str):
        super().__init__(os.environ["HMX_MOCK_CLOUD"], args, 4 if "--proxy" in args else 2)
        env = self.env
        self.base_url, self.ca_file = env["HMX_BASE_URL"], env["HMX_CA_FILE"]
        self.proxy, self.proxy_base_url = env.get("HMX_PROXY"), env.get("HMX_PROXY_BASE_URL")
        self.pem = Path(self.ca_file).read_text()

    def client(self, **kwargs) -> hmx.Client:
        return hmx.Client(base_url=self.base_url, root_ca_pem=self.pem, **kwargs)

    def fetch(self, **kwargs):
        return hmx.fetch_devices(EMAIL, PASSWORD, base_url=self.base_url, root_ca_pem=self.pem, **kwargs)


class Fetching(unittest.TestCase):
    def test_version(self):
        self.assertEqual(hmx.version(), os.environ["HMX_EXPECT_VERSION"])
        self.assertEqual(hmx.__version__, os.environ["HMX_EXPECT_VERSION"])

    def test_loads_the_expected_library(self):
        loaded = Path(hmx._ffi.lib._name).resolve()
        if INSTALLED:
            # The wheel's own library, whatever HMX_LIB says.
            self.assertEqual(loaded, PACKAGE / "libhmx.so")
            # From the venv's site-packages, not from a source tree.
            self.assertNotEqual(sys.prefix, sys.base_prefix)
            self.assertIn(Path(sys.prefix).resolve(), PACKAGE.parents)
            from importlib.metadata import version
            self.assertEqual(version("hmx"), os.environ["HMX_EXPECT_VERSION"])
        else:
            self.assertFalse((PACKAGE / "libhmx.so").exists(),
                             "a bundled libhmx.so in python/hmx/ would shadow HMX_LIB: delete it")
            self.assertEqual(loaded, Path(os.environ["HMX_LIB"]).resolve())
        self.assertTrue((PACKAGE / "py.typed").is_file())

    def test_fetch_every_page(self):
        with Cloud("--devices", "7", "--page-size", "3") as cloud:
            devices = cloud.fetch()
        self.assertEqual(len(devices), 7)
        self.assertEqual([d.id for d in devices], list(range(18801, 18808)))
        self.assertEqual(devices[3].name, "Детская")
        for d in devices:
            self.assertIsInstance(d, hmx.Device)
            self.assertEqual((len(d.sn), len(d.totp_key)), (30, 16))
            self.assertNotIn(d.totp_key, repr(d))
        with self.assertRaises(dataclasses.FrozenInstanceError):
            devices[0].name = "x"

    def test_every_client_setting_and_extra_fields(self):
        with Cloud() as cloud:
            with hmx.Client(base_url=cloud.base_url, timeout=20, connect_timeout=5,
                            root_ca_pem=cloud.pem.encode(), accept_language="uk") as client:
                devices = client.list_devices(client.login(EMAIL, PASSWORD))
        self.assertEqual(devices[0].extra, {"type": 4, "version_name": "2.4", "readonly": False,
                                            "data": {"device_type": 4, "online": True}})
        self.assertEqual(list(devices[0].extra), ["type", "version_name", "readonly", "data"])
        self.assertEqual(len({d for d in devices}), 5)  # still hashable
        self.assertEqual((hmx.TERNEO_URL, hmx.WELROK_URL),
                         ("https://my.hmarex.com", "https://app.welrok.com"))
        for url in (hmx.TERNEO_URL, hmx.WELROK_URL):
            hmx.Client(base_url=url).close()

    def test_find_device(self):
        with Cloud() as cloud:
            devices = cloud.fetch()
        wanted = devices[2]
        self.assertIs(hmx.find_device(devices, f"  {wanted.sn.lower()}\n"), wanted)
        with self.assertRaises(hmx.NotFoundError) as caught:
            hmx.find_device(devices, "nope")
        self.assertIsInstance(caught.exception, LookupError)
        self.assertEqual(caught.exception.name, "HMX_STATUS_NOT_FOUND")
        # ASCII-only case folding, as libhmx compares.
        self.assertRaises(hmx.NotFoundError, hmx.find_device, [hmx.Device(1, "ä", "")], "Ä")

    def test_client_lifecycle(self):
        with Cloud() as cloud:
            with cloud.client(timeout=5) as client:
                token = client.login(EMAIL, PASSWORD)
                self.assertEqual(len(token), 40)
                self.assertEqual(len(client.list_devices(token)), 5)
            client.close()
            with self.assertRaises(hmx.InvalidArgumentError):
                client.login(EMAIL, PASSWORD)

    def test_eight_threads_share_one_client(self):
        with Cloud("--devices", "12", "--page-size", "5") as cloud, cloud.client() as client:
            expected = client.list_devices(client.login(EMAIL, PASSWORD))
            results, errors = [], []

            def work():
                try:
                    for _ in range(3):
                        results.append(client.list_devices(client.login(EMAIL, PASSWORD)))
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)

            threads = [threading.Thread(target=work) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 24)
        self.assertTrue(all(r == expected for r in results))


def pieces(secret: str, text: str):
    """Every run of 4 or more characters of `secret` found in `text`."""
    return [secret[i:i + 4] for i in range(len(secret) - 3) if secret[i:i + 4] in text]


class FieldFaults(unittest.TestCase):
    """What real deployments do: proxied next links, lists changing while read, echoed secrets."""

    def test_proxied_next_links(self):
        for style in ("plain-http", "no-port"):
            with Cloud("--next", style, "--devices", "7", "--page-size", "3") as cloud:
                self.assertEqual(len(cloud.fetch()), 7)

    def test_a_list_that_changes_while_read(self):
        with Cloud("--devices", "7", "--page-size", "3", "--change", "1=remove:3") as cloud:
            devices = cloud.fetch()
        self.assertEqual([d.id for d in devices], list(range(18804, 18808)))
        with Cloud("--change", "1=add:100") as cloud:
            with self.assertRaises(hmx.ProtocolError) as caught:
                cloud.fetch()
        self.assertIn("changed while it was being read", caught.exception.message)

    def test_echoed_secrets_leave_no_piece(self):
        with Cloud("--fault", "login=echo") as cloud:
            with self.assertRaises(hmx.AuthError) as caught:
                cloud.fetch()
        self.assertEqual(pieces(PASSWORD, str(caught.exception)), [])
        with Cloud("--fault", "page2=echo") as cloud, cloud.client() as client:
            token = client.login(EMAIL, PASSWORD)
            with self.assertRaises(hmx.AuthError) as caught:
                client.list_devices(token)
        self.assertEqual(pieces(token, str(caught.exception)), [])
        self.assertEqual(pieces(token, repr(caught.exception)), [])


class Networks(unittest.TestCase):
    """A CONNECT proxy and the system trust store."""

    def setUp(self):
        self.saved = {k: os.environ.pop(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                                                      "all_proxy", "NO_PROXY", "no_proxy",
                                                      "SSL_CERT_FILE") if k in os.environ}

    def tearDown(self):
        for k in ("HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE"):
            os.environ.pop(k, None)
        os.environ.update(self.saved)

    @unittest.skipUnless(os.environ.get("HMX_SOCKS_PROXY"),
                         "tests/python.rs starts a SOCKS server and sets HMX_SOCKS_PROXY")
    def test_a_socks_proxy_given_or_from_the_environment(self):
        socks = os.environ["HMX_SOCKS_PROXY"]
        with Cloud("--proxy") as cloud:
            fetch = lambda **kw: hmx.fetch_devices(EMAIL, PASSWORD, base_url=cloud.proxy_base_url,  # noqa: E731
                                                   root_ca_pem=cloud.pem, timeout=10, **kw)
            self.assertEqual(len(fetch(proxy=socks)), 5)
            os.environ["ALL_PROXY"] = socks
            try:
                self.assertEqual(len(fetch()), 5)
            finally:
                del os.environ["ALL_PROXY"]

    def test_proxy_given_from_the_environment_or_none(self):
        with Cloud("--proxy") as cloud:
            # cloud.hmx.test resolves nowhere: only the proxy can reach it.
            fetch = lambda **kw: hmx.fetch_devices(EMAIL, PASSWORD, base_url=cloud.proxy_base_url,  # noqa: E731
                                                   root_ca_pem=cloud.pem, timeout=10, **kw)
            self.assertEqual(len(fetch(proxy=cloud.proxy)), 5)
            os.environ["HTTPS_PROXY"] = cloud.proxy
            self.assertEqual(len(fetch()), 5)
            self.assertRaises((hmx.NetworkError, hmx.HmxTimeoutError), fetch, proxy="")
            os.environ["NO_PROXY"] = "hmx.test"
            self.assertRaises((hmx.NetworkError, hmx.HmxTimeoutError), fetch)
            with self.assertRaises(hmx.InvalidArgumentError) as caught:
                fetch(proxy="ftp://user:pw-secret@127.0.0.1:1")
            self.assertNotIn("pw-secret", str(caught.exception))
            closed = socket.socket()
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            closed.close()
            with self.assertRaises(hmx.NetworkError) as caught:
                fetch(proxy=f"http://user:pw-secret@127.0.0.1:{port}")
            self.assertIn(f"proxy 127.0.0.1:{port}", caught.exception.message)
            self.assertNotIn("pw-secret", str(caught.exception))

    def test_system_roots(self):
        with Cloud() as cloud:
            os.environ["SSL_CERT_FILE"] = cloud.ca_file
            devices = hmx.fetch_devices(EMAIL, PASSWORD, base_url=cloud.base_url, roots="system")
            self.assertEqual(len(devices), 5)
            self.assertRaises(hmx.TlsError, hmx.fetch_devices, EMAIL, PASSWORD, base_url=cloud.base_url)
        self.assertRaises(hmx.InvalidArgumentError, hmx.Client, roots="mozilla")
        self.assertRaises(hmx.InvalidArgumentError, hmx.Client, roots="system", root_ca_pem=cloud.pem)
        self.assertRaises(TypeError, hmx.Client, roots=None)
        self.assertRaises(TypeError, hmx.Client, proxy=5)


class Device(StandIn):
    """The `mock_thermostat` example as a process."""

    def __init__(self, *args: str):
        super().__init__(os.environ["HMX_MOCK_THERMOSTAT"], args, 2)
        self.host, self.sn = self.env["HMX_DEVICE_HOST"], self.env["HMX_DEVICE_SN"]


class LocalClient(unittest.TestCase):
    """The thermostat on the LAN: discovery, reads, signed and blocked writes, a busy device."""

    key = os.environ.get("HMX_DEMO_KEY", "")

    def test_reads_and_a_signed_write(self):
        with Device("--locked", self.key) as device:
            t = hmx.Thermostat(device.host, device.sn, key=self.key)
            self.assertNotIn(self.key, repr(t))
            self.assertIn("t.1", t.telemetry())
            params = t.parameters()
            self.assertIsInstance(params[0], hmx.Parameter)
            brightness = next(p for p in params if p.id == 23)
            self.assertEqual(brightness.type, 2)
            self.assertGreater(t.device_time(), 600_000_000)
            new = "3" if brightness.value != "3" else "4"
            t.set({23: int(new)})
            self.assertEqual(next(p for p in t.parameters() if p.id == 23).value, new)
            reply = t.request({"par": [[23, 2, "5"]]})
            self.assertIsInstance(reply, dict)
            self.assertEqual(next(p for p in t.parameters() if p.id == 23).value, "5")

    def test_a_blocked_write(self):
        with Device("--locked", self.key) as device:
            for key in (None, "AAAAAAAAAAAAAAAA"):
                t = hmx.Thermostat(device.host, device.sn, key=key)
                with self.assertRaises(hmx.BlockedError) as caught:
                    t.set({23: 1})
                self.assertEqual((caught.exception.status, caught.exception.name),
                                 (11, "HMX_STATUS_BLOCKED"))
                self.assertIn("LAN locking", caught.exception.message)
            with self.assertRaises(hmx.InvalidArgumentError):
                hmx.Thermostat(device.host, device.sn, key=self.key).set({999: 1})

    def test_a_busy_device(self):
        with Device("--busy", "2") as device:
            self.assertIn("t.1", hmx.Thermostat(device.host, device.sn).telemetry())
        with Device("--busy", "3") as device:
            self.assertRaises(hmx.HmxTimeoutError, hmx.Thermostat(device.host, device.sn).telemetry)

    def test_calls_in_a_row_are_paced(self):
        # One handle's calls, and a second handle's: the pause belongs to the address.
        with Device() as device:
            t = hmx.Thermostat(device.host, device.sn)
            t.telemetry()
            t.device_time()
            t.parameters()
            hmx.Thermostat(device.host, device.sn).telemetry()
        self.assertGreaterEqual(int(device.env["HMX_DEVICE_REQUESTS"]), 4)
        self.assertGreaterEqual(int(device.env["HMX_DEVICE_MIN_GAP_MS"]), 990)

    def test_answers_as_sent(self):
        with Device() as device:
            t = hmx.Thermostat(device.host, device.sn)
            telemetry = t.telemetry()
            answer = t.request({"cmd": 4})
        self.assertEqual(list(telemetry)[0], "sn")
        self.assertEqual(list(telemetry), list(answer))

    def test_framings_small_stacks_send(self):
        for fault in ("trailing-nul", "padded", "no-content-length", "lf-chunked"):
            with Device("--fault", fault) as device:
                self.assertIn("t.1", hmx.Thermostat(device.host, device.sn).telemetry(), fault)
        for fault, shows in (("trailing-garbage", "GARBAGE"), ("no-status-line", "status line")):
            with Device("--fault", fault) as device:
                with self.assertRaises(hmx.ProtocolError) as caught:
                    hmx.Thermostat(device.host, device.sn).telemetry()
                self.assertIn(shows, caught.exception.message, fault)

    def test_an_unusable_proxy_in_the_environment(self):
        saved = {k: os.environ.pop(k) for k in list(os.environ) if k.lower().endswith("_proxy")}
        os.environ["HTTPS_PROXY"] = "ftp://proxy.invalid:21"
        try:
            with self.assertRaises(hmx.InvalidArgumentError) as caught:
                hmx.Client()
            self.assertIn("HTTPS_PROXY", caught.exception.message)
        finally:
            del os.environ["HTTPS_PROXY"]
            os.environ.update(saved)

    def test_discovery(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with Device("--announce", str(port)) as device:
            found = hmx.discover(seconds=1.5, port=port)
        self.assertEqual([f.sn for f in found], [device.sn])
        self.assertEqual((found[0].ip, found[0].hw, found[0].cloud, found[0].wifi_dbm),
                         ("127.0.0.1", "sx", True, -61))

    def test_discovery_waits_as_long_as_the_command(self):
        """Devices announce about every 30 s: the default wait is the command's
        35 s (read from the signature, not waited for)."""
        default = inspect.signature(hmx.discover).parameters["seconds"].default
        self.assertEqual(default, hmx.DISCOVERY_SECONDS)
        self.assertEqual(default, 35)
        self.assertIn("about every 30 s", hmx.discover.__doc__)
        cli = os.environ.get("HMX_CLI")
        if cli:  # `hmx discover --help` shows its own default
            shown = subprocess.run([cli, "discover", "--help"], capture_output=True, text=True,
                                   timeout=60).stdout
            self.assertRegex(shown, r"--seconds <N>[^\[]*\[default: %s\]" % default)

    def test_wrong_types(self):
        self.assertRaises(TypeError, hmx.Thermostat, 5, "sn")
        self.assertRaises(TypeError, hmx.Thermostat("127.0.0.1:9", "sn").set, [1])
        self.assertRaises(TypeError, hmx.Thermostat("127.0.0.1:9", "sn").set, {"23": 1})
        self.assertRaises(TypeError, hmx.Thermostat("127.0.0.1:9", "sn").request, "{}")
        self.assertRaises(TypeError, hmx.discover, port="1")
        self.assertRaises(hmx.InvalidArgumentError, hmx.Thermostat("127.0.0.1:9", "sn").request, {})


def listed(fixture: dict):
    """The fixture's recorded [id, type, value] list, or None (D2W: no list)."""
    try:
        par = json.loads(fixture["answers"]["cmd1"])["par"]
    except (KeyError, ValueError, TypeError):
        return None
    return par if isinstance(par, list) else None


def flat(telemetry: dict) -> dict:
    """Telemetry with D2W's nested groups ({"telemetry": {"t": {"1": ...}}}) as "t.1"."""
    groups = telemetry.get("telemetry")
    if not isinstance(groups, dict):
        return telemetry
    return {f"{g}.{n}": v for g, members in groups.items() if isinstance(members, dict)
            for n, v in members.items()}


# Parameters a harmless write leaves alone: read-only (28, 109), the locks and power.
NOT_FOR_A_HARMLESS_WRITE = {28, 109, 114, 115, 125}


@unittest.skipUnless(FIXTURES.is_dir(), "needs the source tree's tests/fixtures")
class Units(unittest.TestCase):
    """hmx.Thermostat against the stand-in answering as each recorded unit
    (tests/fixtures/*.json, found at run time: a new file is a new case), and
    the typed state and named controls."""

    key = os.environ.get("HMX_DEMO_KEY", "")

    def test_every_fixture(self):
        files = sorted(FIXTURES.glob("*.json"))
        self.assertGreaterEqual(len(files), 8)
        # Each unit is its own address, so its own pacing: all of them at once.
        with concurrent.futures.ThreadPoolExecutor(len(files)) as pool:
            runs = {path.name: pool.submit(self.one_unit, path) for path in files}
        for name, run in runs.items():
            with self.subTest(fixture=name):
                print(f"\n    {name}: {run.result()}", end="", file=sys.stderr)
        print(file=sys.stderr)

    def one_unit(self, path: Path) -> str:
        fixture = json.loads(path.read_text())
        recorded = listed(fixture)
        # A unit that lists LAN locking on (the AX example) needs the key.
        locked = recorded is not None and any(p[0] == 114 and p[2] == "1" for p in recorded)
        key = self.key if locked else None
        args = ["--fixture", str(path)] + (["--locked", self.key] if locked else [])
        telemetry_text = fixture["answers"].get("cmd4")
        telemetry = json.loads(telemetry_text) if telemetry_text else {}
        with Device(*args) as device, hmx.Thermostat(device.host, device.sn, key=key) as t:
            state = t.state()
            self.assertIsInstance(state, hmx.State)
            got = t.telemetry()
            if locked:  # its clock follows the stand-in's
                got.pop("time", None), telemetry.pop("time", None)
            self.assertEqual(list(got.items()), list(telemetry.items()))

            tel = flat(telemetry)
            for field, member in (("floor_c", "t.1"), ("setpoint_c", "t.5")):
                if member in tel:
                    self.assertEqual(getattr(state, field), int(tel[member]) / 16, field)
            if "m.1" in tel and state.mode is not None:
                self.assertEqual(state.mode, hmx.local.mode_name(int(tel["m.1"])))
            for f in dataclasses.fields(state):
                value = getattr(state, f.name)
                kinds = {"floor_c": float, "air_c": float, "setpoint_c": float,
                         "mode": (str, int), "control": (str, int),
                         "brightness": int, "wifi_dbm": int, "load_power_w": int}.get(f.name, bool)
                self.assertTrue(value is None or isinstance(value, kinds), (f.name, value))

            if recorded is None:
                # D2W: no type codes, so no parameters and no named write; nothing sent.
                with self.assertRaises(hmx.ProtocolError) as caught:
                    t.parameters()
                self.assertIn("a shape hmx does not read", caught.exception.message)
                self.assertRaises(hmx.ProtocolError, t.set_brightness, 5)
                self.assertIsNone(state.brightness)
                return f"{state}; parameters: ProtocolError; write skipped"
            params = t.parameters()
            self.assertEqual([tuple(p) for p in params], [tuple(p) for p in recorded])
            by_id = {p.id: p for p in params}
            if 23 in by_id:
                self.assertEqual(state.brightness, int(by_id[23].value))
                t.set_brightness(state.brightness)  # written back unchanged
                wrote = f"brightness {state.brightness} back"
            else:
                first = next(p for p in params if p.id not in NOT_FOR_A_HARMLESS_WRITE and p.type <= 7)
                reply = t.set({first.id: first.value})
                self.assertIsInstance(reply, dict)
                wrote = f"{first.id} = {first.value!r} back"
            self.assertEqual(t.parameters(), params)  # accepted, and nothing changed
        return f"{state}; {len(params)} parameters; {wrote}{' (signed)' if locked else ''}"

    def test_another_scheme(self):
        """OZ locked under raw-unix: the handle's scheme signs, the default is
        refused with nothing applied, and the probe finds raw-unix."""
        oz = str(FIXTURES / "oz.json")
        with Device("--fixture", oz, "--locked", self.key, "--scheme", "raw-unix") as device:
            with hmx.Thermostat(device.host, device.sn, key=self.key) as default:
                before = next(p.value for p in default.parameters() if p.id == 23)
                new = 3 if before != "3" else 4
                with self.assertRaises(hmx.BlockedError):
                    default.set_brightness(new)
                self.assertEqual(next(p.value for p in default.parameters() if p.id == 23), before)
            with hmx.Thermostat(device.host, device.sn, key=self.key, scheme="raw-unix") as t:
                self.assertIn("scheme='raw-unix'", repr(t))
                t.set_brightness(new)
                self.assertEqual(t.state().brightness, new)
                report = t.probe()
            with self.assertRaises(hmx.InvalidArgumentError) as caught:
                hmx.Thermostat(device.host, device.sn, key=self.key, scheme="rot13")
            self.assertIn("raw-unix", caught.exception.message)
        self.assertIsInstance(report, hmx.ProbeReport)
        self.assertEqual(report, hmx.ProbeReport(parameter=23, value=str(new), lan_lock=True,
                                                 cloud_lock=False, refused=("raw-2000",),
                                                 skipped=(), accepted="raw-unix"))
        with self.assertRaises(dataclasses.FrozenInstanceError):
            report.accepted = None

    def test_a_setpoint_a_whole_degree_unit_cannot_take(self):
        """sx-standin lists 31 as int8: 21.5 is refused before anything is sent,
        and so are controls that do not parse or that hmx does not set."""
        with Device("--fixture", str(FIXTURES / "sx-standin.json")) as device:
            with hmx.Thermostat(device.host, device.sn) as t:
                t.parameters()  # the one request: the list the checks use
                with self.assertRaises(hmx.InvalidArgumentError) as caught:
                    t.set_setpoint(21.5)
                self.assertIn("whole degrees", caught.exception.message)
                for bad in ("mode=manual setpoint=21.5", "setpoint=warm", ""):
                    self.assertRaises(hmx.InvalidArgumentError, t.control, bad)
                self.assertRaises(hmx.InvalidArgumentError, t.control, "mode=manual", "setpoint=21.5")
                self.assertRaises(hmx.InvalidArgumentError, t.control)
                self.assertRaises(hmx.InvalidArgumentError, t.set_setpoint, float("nan"))
                self.assertRaises(hmx.InvalidArgumentError, t.set_setpoint, 90)  # above its 45
                self.assertRaises(hmx.InvalidArgumentError, t.set_brightness, 11)
                self.assertRaises(hmx.InvalidArgumentError, t.set_brightness, 256)
                with self.assertRaises(hmx.InvalidArgumentError) as caught:
                    t.set_mode("away")  # named, but needs its own times
                self.assertIn("needs its own times", caught.exception.message)
                self.assertRaises(hmx.InvalidArgumentError, t.set_mode, "holiday")
        self.assertEqual(device.env["HMX_DEVICE_REQUESTS"], "1")

    def test_named_controls_are_applied(self):
        with Device("--fixture", str(FIXTURES / "sx-standin.json")) as device:
            with hmx.Thermostat(device.host, device.sn) as t:
                t.control("mode=manual", "setpoint=22")
                t.set_brightness(3)
                t.set_child_lock(True)
                t.set_power(False)
                values = {p.id: p.value for p in t.parameters()}
                self.assertEqual([values[i] for i in (2, 31, 23, 124, 125)], ["1", "22", "3", "1", "1"])
                t.set_mode("schedule")
                t.control("power=on, child_lock=off")
                t.set_setpoint(23.0)
                values = {p.id: p.value for p in t.parameters()}
                state = t.state()
        self.assertEqual([values[i] for i in (2, 31, 124, 125)], ["0", "23", "0", "0"])
        self.assertEqual((state.powered, state.child_lock, state.brightness), (True, False, 3))

    def test_the_handle(self):
        with Device() as device:
            t = hmx.Thermostat(device.host, device.sn, key=self.key, timeout=2)
            self.assertNotIn(self.key, repr(t))
            self.assertIn("key=<set>", repr(t))
            with t:
                self.assertIn("t.1", t.telemetry())
            t.close()  # again: nothing
            for call in (t.telemetry, t.state, t.parameters, t.device_time, t.probe,
                         lambda: t.set_brightness(1), lambda: t.control("power=on")):
                with self.assertRaises(hmx.InvalidArgumentError) as caught:
                    call()
                self.assertIn("closed", caught.exception.message)
        # Checked when made, before anything is sent.
        self.assertRaises(hmx.InvalidArgumentError, hmx.Thermostat, "http://127.0.0.1/x", "sn")
        self.assertRaises(hmx.InvalidArgumentError, hmx.Thermostat, "127.0.0.1:9", "not a serial")
        self.assertRaises(hmx.InvalidArgumentError, hmx.Thermostat, "127.0.0.1:9", "sn", timeout=0)

    def test_names_come_from_the_library(self):
        local = hmx.local
        self.assertEqual([local.mode_name(c) for c in (0, 1, 3, 4, 5, 6)],
                         ["schedule", "standby", "manual", "away", "temporary", "timer"])
        self.assertEqual([local.control_type_name(c) for c in (0, 1, 2)], ["floor", "air", "extended"])
        # An unnamed code stays the code.
        self.assertEqual((local.mode_name(2), local.mode_name(99)), (2, 99))
        self.assertEqual(local.control_type_name(7), 7)
        self.assertEqual([f.name for f in dataclasses.fields(hmx.State)],
                         [name for name, _ in hmx._ffi.STATE_FIELDS])
        self.assertEqual(hmx.State(), hmx.State(*[None] * 13))

    @unittest.skipUnless((SOURCE / "include" / "hmx.h").is_file(), "needs the source tree's header")
    def test_the_state_structure_is_the_headers(self):
        header = (SOURCE / "include" / "hmx.h").read_text()
        body = re.search(r"typedef struct hmx_state \{(.*?)\} hmx_state;", header, re.S).group(1)
        body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
        declared = re.findall(r"(\w+)\s+(\w+);", body)
        c_names = {ctypes.c_bool: "bool", ctypes.c_double: "double", ctypes.c_int32: "int32_t",
                   ctypes.c_uint8: "uint8_t", ctypes.c_uint32: "uint32_t"}
        ours = [(c_names[ctype], name) for name, ctype in hmx._ffi.CState._fields_]
        self.assertEqual(ours, declared)

    def test_wrong_types_fail_before_any_foreign_call(self):
        t = hmx.Thermostat("127.0.0.1:9", "sn")
        calls = []

        class Spy:
            def __getattr__(self, name):
                calls.append(name)
                return getattr(real, name)

        real = hmx._ffi.lib
        hmx._ffi.lib = Spy()
        try:
            for case in (lambda: t.set_setpoint("21"), lambda: t.set_setpoint(True),
                         lambda: t.set_power(1), lambda: t.set_child_lock("on"),
                         lambda: t.set_brightness(3.0), lambda: t.set_brightness(True),
                         lambda: t.set_mode(3), lambda: t.control("power=on", 5),
                         lambda: hmx.Thermostat("h", "sn", scheme=1),
                         lambda: hmx.Thermostat("h", "sn", timeout="5")):
                with self.subTest(case=case), self.assertRaises(TypeError):
                    case()
            self.assertRaises(hmx.InvalidArgumentError, t.set_brightness, -1)
            self.assertRaises(hmx.InvalidArgumentError, t.control, "power=on\0")
        finally:
            hmx._ffi.lib = real
        self.assertEqual(calls, [])
        t.close()


class Errors(unittest.TestCase):
    def assertRaisesHmx(self, cls, fn, *args, **kwargs):
        with self.assertRaises(cls) as caught:
            fn(*args, **kwargs)
        e = caught.exception
        self.assertIs(type(e), cls)
        self.assertEqual(e.status, cls.status)
        self.assertEqual(e.name, cls.name)
        self.assertTrue(e.message)
        self.assertEqual(pieces(PASSWORD, str(e)), [])
        return e

    def test_auth(self):
        with Cloud() as cloud:
            e = self.assertRaisesHmx(hmx.AuthError, hmx.fetch_devices, EMAIL, "wrong",
                                     base_url=cloud.base_url, root_ca_pem=cloud.pem)
            self.assertIn("Unable to log in", e.message)
        with Cloud("--fault", "devices=401") as cloud:
            self.assertRaisesHmx(hmx.AuthError, cloud.fetch)

    def test_statuses_from_the_cloud(self):
        for fault, cls in [("login=429", hmx.RateLimitedError), ("devices=500", hmx.HttpError),
                           ("page2=redirect", hmx.HttpError), ("page1=garbage", hmx.ProtocolError),
                           ("login=huge", hmx.ProtocolError)]:
            with self.subTest(fault=fault), Cloud("--fault", fault) as cloud:
                self.assertRaisesHmx(cls, cloud.fetch)

    def test_http_status_and_retry_after(self):
        for fault, status, wait in [("login=retry-after:17", 429, 17), ("login=429", 429, None),
                                    ("devices=500", 500, None), ("login=drop", None, None)]:
            with self.subTest(fault=fault), Cloud("--fault", fault) as cloud:
                with self.assertRaises(hmx.HmxError) as caught:
                    cloud.fetch()
                self.assertEqual((caught.exception.http_status, caught.exception.retry_after),
                                 (status, wait))

    def test_connect_and_request_timeouts(self):
        # Takes the TCP connection and never speaks: the connect bound (1 s) ends it.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            url = "https://127.0.0.1:%d" % silent.getsockname()[1]
            started = time.monotonic()
            self.assertRaisesHmx(hmx.HmxTimeoutError, hmx.fetch_devices, EMAIL, PASSWORD,
                                 base_url=url, connect_timeout=1, timeout=3)
            self.assertLess(time.monotonic() - started, 2.5)
        # Reads the request and never answers: the request bound (3 s) ends it.
        with Cloud("--fault", "login=hang") as cloud:
            started = time.monotonic()
            self.assertRaisesHmx(hmx.HmxTimeoutError, cloud.fetch, connect_timeout=1, timeout=3)
            self.assertGreaterEqual(time.monotonic() - started, 2.9)

    def test_timeout(self):
        with Cloud("--fault", "login=hang") as cloud:
            e = self.assertRaisesHmx(hmx.HmxTimeoutError, cloud.fetch, timeout=0.5)
            self.assertIsInstance(e, TimeoutError)

    def test_tls_and_network(self):
        with Cloud() as cloud:
            self.assertRaisesHmx(hmx.TlsError, hmx.fetch_devices, EMAIL, PASSWORD, base_url=cloud.base_url)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.assertRaisesHmx(hmx.NetworkError, hmx.fetch_devices, EMAIL, PASSWORD,
                             base_url=f"https://127.0.0.1:{port}", timeout=5)

    def test_invalid_arguments(self):
        e = self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.Client, base_url="http://example.com")
        self.assertIsInstance(e, ValueError)
        self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.Client, root_ca_pem="no certificate")
        self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.Client, root_ca_pem=b"a\0b")
        self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.Client, timeout=0)
        self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.Client, timeout=float("nan"))
        self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.Client, connect_timeout=-1)
        e = self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.Client, accept_language="en\r\nX: y")
        self.assertEqual((e.http_status, e.retry_after), (None, None))
        self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.Client, accept_language="")
        with hmx.Client() as client:
            self.assertRaisesHmx(hmx.InvalidArgumentError, client.login, "a\0b", PASSWORD)
            self.assertRaisesHmx(hmx.InvalidArgumentError, client.list_devices, "has space")
        self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.totp, "key", -1)
        self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.totp, "key", 2 ** 32)
        self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.sign_request, "key", "sn", "[1]")
        self.assertRaisesHmx(hmx.InvalidArgumentError, hmx.sign_request, "key", "sn", {"auth": "1"})

    @unittest.skipIf(INSTALLED, "the wheel's library is built without the test-util feature")
    def test_panic(self):
        # hmx_test_panic(err_buf, err_len), declared as the package declares its functions.
        test_panic = hmx._ffi.declare("hmx_test_panic", [], hmx._ffi.ERR)
        e = self.assertRaisesHmx(hmx.PanicError, test_panic)
        self.assertEqual((e.http_status, e.retry_after), (None, None))

    def test_one_class_per_status_the_library_names(self):
        """errors.py's table against hmx_status_name: every status the library
        names (0, success, aside) has its class, with the library's name."""
        ffi = hmx._ffi
        named = {}
        for status in range(-1, 256):
            name = ffi.static_string(ffi.lib.hmx_status_name(status))
            if name != "HMX_STATUS_UNKNOWN":
                named[status] = name
        self.assertEqual(named.pop(0), "HMX_STATUS_OK")
        self.assertGreaterEqual(len(named), 11)
        table = {status: cls.name for status, cls in hmx.errors.STATUS_CLASSES.items()}
        self.assertEqual(table, named)
        for status, cls in hmx.errors.STATUS_CLASSES.items():
            with self.subTest(cls=cls.__name__):
                self.assertEqual(cls.status, status)
                self.assertIs(getattr(hmx, cls.__name__), cls)
                self.assertIn(cls.__name__, hmx.__all__)
                self.assertIs(cls.__mro__[1], hmx.HmxError)
                e = cls("words", status, cls.name, http_status=500, retry_after=3)
                self.assertEqual((str(e), e.message, e.http_status, e.retry_after),
                                 (f"{cls.name}: words", "words", 500, 3))
        self.assertEqual([c.__name__ for c in hmx.errors.STATUS_CLASSES.values()
                          if c.__mro__[2] is not Exception],
                         ["InvalidArgumentError", "HmxTimeoutError", "NotFoundError",
                          "StorageError"])
        self.assertTrue(issubclass(hmx.InvalidArgumentError, ValueError))
        self.assertTrue(issubclass(hmx.StorageError, OSError))
        self.assertTrue(issubclass(hmx.HmxTimeoutError, TimeoutError))
        self.assertTrue(issubclass(hmx.NotFoundError, LookupError))
        self.assertEqual((hmx.HmxError.status, hmx.HmxError.name), (-1, "HMX_STATUS_UNKNOWN"))

    def test_wrong_types_fail_before_any_foreign_call(self):
        calls = []

        class Spy:
            def __getattr__(self, name):
                calls.append(name)
                return getattr(real, name)

        real = hmx._ffi.lib
        with hmx.Client() as client:
            hmx._ffi.lib = Spy()
            try:
                cases = [
                    lambda: hmx.Client(base_url=5), lambda: hmx.Client(timeout="1"),
                    lambda: hmx.Client(timeout=True), lambda: hmx.Client(root_ca_pem=1),
                    lambda: hmx.Client(connect_timeout="1"), lambda: hmx.Client(accept_language=None),
                    lambda: hmx.Client(accept_language=b"en"),
                    lambda: client.login(None, PASSWORD), lambda: client.login(EMAIL, b"pw"),
                    lambda: client.list_devices(b"token"), lambda: hmx.totp(b"key"),
                    lambda: hmx.totp("key", 1.5), lambda: hmx.totp("key", True),
                    lambda: hmx.sign_request("key", "sn", 5), lambda: hmx.sign_request("key", 7, "{}"),
                    lambda: hmx.find_device([], None), lambda: hmx.fetch_devices(1, 2),
                ]
                for i, case in enumerate(cases):
                    with self.subTest(case=i), self.assertRaises(TypeError) as caught:
                        case()
                    self.assertNotIsInstance(caught.exception, ctypes.ArgumentError)
            finally:
                hmx._ffi.lib = real
        self.assertEqual(calls, [])


class Interrupt(unittest.TestCase):
    def test_ctrl_c_during_a_hung_request(self):
        """A hung server and a 30 s timeout: Ctrl-C still ends the wait at once."""
        with Cloud("--fault", "login=hang") as cloud, cloud.client(timeout=30) as client:
            timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
            start = time.monotonic()
            timer.start()
            with self.assertRaises(KeyboardInterrupt):
                client.login(EMAIL, PASSWORD)
            took = time.monotonic() - start
            timer.join()
            self.assertGreaterEqual(took, 0.5)
            self.assertLess(took, 1.5)

    def test_calls_from_other_threads_are_direct(self):
        with Cloud() as cloud, cloud.client() as client:
            names = []
            real = threading.Thread

            class Counting(real):
                def __init__(self, *args, **kwargs):
                    names.append(kwargs.get("name"))
                    super().__init__(*args, **kwargs)

            threading.Thread = Counting
            try:
                worker = real(target=lambda: client.login(EMAIL, PASSWORD))
                worker.start()
                worker.join()
                self.assertEqual(names, [])
                client.login(EMAIL, PASSWORD)
                self.assertEqual(names, ["hmx:hmx_login"])
            finally:
                threading.Thread = real


class Tokens(unittest.TestCase):
    def test_equal_to_rust(self):
        vectors = json.loads(os.environ["HMX_EXPECT_TOTP"])
        self.assertGreater(len(vectors), 2)
        for v in vectors:
            with self.subTest(key=v["key"], time=v["time"]):
                self.assertEqual(hmx.totp(v["key"], v["time"]), v["code"])
                self.assertEqual(hmx.sign_request(v["key"], v["sn"], v["data"], v["time"]), v["body"])
                as_dict = json.loads(v["data"])
                self.assertEqual(hmx.sign_request(v["key"], v["sn"], as_dict, v["time"]), v["body"])

    def test_now(self):
        before = hmx.device_time_now()
        code = hmx.totp("BW4ERXAJXXXXXXXX")
        after = hmx.device_time_now()
        self.assertIn(code, {hmx.totp("BW4ERXAJXXXXXXXX", t) for t in (before, after)})
        self.assertEqual(len(code), hmx.TOTP_DIGITS)


class Scripts(unittest.TestCase):
    def run_list_keys(self, cloud, *args, password=PASSWORD):
        env = dict(os.environ, HMX_PASSWORD=password)
        return subprocess.run([sys.executable, str(REPO / "examples/python/list_keys.py"),
                               "--base-url", cloud.base_url, "--ca-file", cloud.ca_file, *args],
                              env=env, capture_output=True, text=True, timeout=60)

    @unittest.skipIf(INSTALLED, "the example script belongs to the source tree")
    def test_list_keys(self):
        with Cloud() as cloud:
            out = self.run_list_keys(cloud, "--json", "--codes", EMAIL)
            self.assertEqual(out.returncode, 0, out.stderr)
            rows = json.loads(out.stdout)
            self.assertEqual(len(rows), 5)
            self.assertEqual(list(rows[0]), ["id", "sn", "name", "totp_key", "code", "valid_for"])
            self.assertEqual(self.run_list_keys(cloud, EMAIL, password="wrong").returncode, 3)
            self.assertEqual(self.run_list_keys(cloud, "--serial", "nope", EMAIL).returncode, 6)
            table = self.run_list_keys(cloud, "--serial", rows[1]["sn"].lower(), EMAIL)
            self.assertEqual(table.stdout.splitlines()[1].split()[-1], rows[1]["totp_key"])

    def test_library_not_found_names_every_place(self):
        with tempfile.TemporaryDirectory() as tmp:
            # The package without a bundled library, in a repository without target/.
            shutil.copytree(PACKAGE, Path(tmp) / "python" / "hmx",
                            ignore=shutil.ignore_patterns("libhmx*", "__pycache__"))
            env = dict(os.environ, HMX_LIB=str(Path(tmp) / "missing" / "libhmx.so"))
            out = subprocess.run([sys.executable, "-c", "import hmx"], cwd=Path(tmp) / "python", env=env,
                                 capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("ImportError: libhmx not found", out.stderr)
        self.assertIn(str(Path(tmp) / "missing" / "libhmx.so"), out.stderr)
        self.assertIn("find_library", out.stderr)
        # In the order tried: the package's folder, HMX_LIB, target/release, target/debug, find_library.
        order = [str(Path(tmp) / p) for p in ("python/hmx/libhmx.so", "missing/libhmx.so",
                                                "target/release/libhmx.so", "target/debug/libhmx.so")]
        order.append('ctypes.util.find_library("hmx")')
        self.assertEqual(sorted(order, key=out.stderr.index), order)


if __name__ == "__main__":
    unittest.main(verbosity=2)
