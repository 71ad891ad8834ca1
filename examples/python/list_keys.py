#!/usr/bin/env python3
"""Prints the devices of an account with their TOTP keys, like `hmx keys`.

    list_keys.py [--base-url URL] [--ca-file PEM] [--serial SN] [--json] [--codes] EMAIL
    list_keys.py --demo [--serial SN] [--json] [--codes]

The password comes from HMX_PASSWORD, else a no-echo prompt on a terminal,
else the first line of stdin; never from an argument. --demo runs the
stand-in cloud (the `mock_cloud` example, found through HMX_MOCK_CLOUD or the
repository's target folder). Exit codes: 0 ok, 2 usage or bad argument,
3 auth, 4 network/timeout/TLS, 5 HTTP/protocol/rate limited, 6 no such device.
"""

import argparse
import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
import hmx  # noqa: E402

EXIT_CODES = {
    hmx.AuthError: 3, hmx.NetworkError: 4, hmx.HmxTimeoutError: 4, hmx.TlsError: 4,
    hmx.HttpError: 5, hmx.ProtocolError: 5, hmx.RateLimitedError: 5, hmx.NotFoundError: 6,
}
DEMO_EMAIL, DEMO_PASSWORD = "demo@hmx.invalid", "demo-password"


def read_password() -> str:
    if "HMX_PASSWORD" in os.environ:
        return os.environ["HMX_PASSWORD"]
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


def start_demo():
    """Starts the stand-in cloud; returns (process, base_url, ca_file)."""
    repo = Path(__file__).resolve().parent.parent.parent
    places = [os.environ.get("HMX_MOCK_CLOUD", "")] + [
        str(repo / "target" / p / "examples" / "mock_cloud") for p in ("debug", "release")]
    binary = next((p for p in places if p and os.path.exists(p)), None)
    if binary is None:
        raise SystemExit("list_keys: --demo needs the stand-in: "
                         "cargo build --features test-util --example mock_cloud")
    proc = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    env = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(2))
    return proc, env["HMX_BASE_URL"], env["HMX_CA_FILE"]


def print_devices(devices, as_json, device_time):
    def code(d):
        return hmx.totp(d.totp_key, device_time) if d.totp_key else None

    if as_json:
        rows = []
        for d in devices:
            row = {"id": d.id, "sn": d.sn, "name": d.name, "totp_key": d.totp_key}
            if device_time is not None:
                row["code"] = code(d)
                row["valid_for"] = 30 - device_time % 30
            rows.append(row)
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    header = ["ID", "SERIAL", "NAME", "TOTP_KEY"] + (["CODE"] if device_time is not None else [])
    rows = [header]
    for d in devices:
        row = [str(d.id), d.sn, d.name, d.totp_key or "-"]
        if device_time is not None:
            row.append(code(d) or "-")
        rows.append(row)
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    for r in rows:
        print("  ".join(cell.ljust(widths[c]) if c + 1 < len(r) else cell for c, cell in enumerate(r)))
    if device_time is not None:
        print(f"codes for device time {device_time}: valid for {30 - device_time % 30} more s",
              file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description="List thermostats and their TOTP keys.")
    parser.add_argument("--base-url")
    parser.add_argument("--ca-file")
    parser.add_argument("--serial")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--codes", action="store_true")
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("email", nargs="?")
    args = parser.parse_args()  # exits 2 on bad usage
    if args.demo == (args.email is not None):
        parser.print_usage(sys.stderr)
        print("list_keys: give an EMAIL, or --demo", file=sys.stderr)
        return 2
    demo = None
    try:
        if args.demo:
            demo, base_url, ca_file = start_demo()
            print(f"demo: stand-in cloud at {base_url} (no network, no account)", file=sys.stderr)
            email, password = DEMO_EMAIL, DEMO_PASSWORD
        else:
            base_url, ca_file = args.base_url, args.ca_file
            email, password = args.email, None
        pem = None
        if ca_file:
            try:
                pem = Path(ca_file).read_bytes()
            except OSError as e:
                print(f"list_keys: cannot read {ca_file}: {e}", file=sys.stderr)
                return 2
        with hmx.Client(base_url=base_url, root_ca_pem=pem) as client:
            if password is None:
                password = read_password()
            devices = client.list_devices(client.login(email, password))
        if args.serial is not None:
            try:
                devices = [hmx.find_device(devices, args.serial)]
            except hmx.NotFoundError:
                print(f"list_keys: no device with serial {args.serial!r} among {len(devices)}",
                      file=sys.stderr)
                return 6
        print_devices(devices, args.json, hmx.device_time_now() if args.codes else None)
        return 0
    except hmx.HmxError as e:
        print(f"list_keys: error: {e}", file=sys.stderr)
        return EXIT_CODES.get(type(e), 2)
    finally:
        if demo is not None:
            demo.stdin.close()
            demo.wait(timeout=10)
            demo.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
