"""Builds the hmx wheel: the ctypes package plus libhmx.so from this crate.

setuptools-rust runs ``cargo rustc --lib --release --features zeroize-heap``
and puts the cdylib into the package as ``hmx/libhmx.so``; the module has no
Python ABI, so the wheel is tagged ``py3-none-<platform>`` (``auditwheel
repair`` makes that a manylinux tag: see README, "Publishing"). The version is
the crate's, read from Cargo.toml. The sdist (``python -m build --sdist``)
holds what MANIFEST.in lists: the crate's sources and this packaging.
"""

import os
import re
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.errors import PlatformError
from setuptools_rust import Binding, RustExtension
from setuptools_rust.build import build_rust

ROOT = Path(__file__).resolve().parent


def crate_field(name: str) -> str:
    """A string field of the [package] table in Cargo.toml."""
    text = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
    package = re.search(r"^\[package\]\s*$(.*?)(?=^\[)", text, re.M | re.S)
    found = package and re.search(rf'^{name}\s*=\s*"([^"]+)"', package.group(1), re.M)
    if not found:
        raise RuntimeError(f"no {name} in the [package] table of Cargo.toml")
    return found.group(1)


def crate_version() -> str:
    """`version` of the [package] table in Cargo.toml."""
    return crate_field("version")


def require_rust() -> None:
    """Without Rust, stops the build with one line saying so and how to get it,
    instead of setuptools-rust's several paragraphs (setuptools prints a
    PlatformError as ``error: <message>``, with no traceback)."""
    tools = (os.environ.get("CARGO", "cargo"), "rustc")
    missing = next((tool for tool in tools if not shutil.which(tool)), None)
    if missing:
        raise PlatformError(
            f"building hmx from source needs Rust {crate_field('rust-version')} or newer, "
            f"and `{missing}` is not on PATH: install Rust with rustup (https://rustup.rs), "
            "put ~/.cargo/bin on PATH and retry"
        )


class build_libhmx(build_rust):
    """Installs the cdylib as hmx/libhmx.so (the name the module looks for),
    not under a CPython extension-module name: it is no extension module."""

    def run(self):
        require_rust()
        super().run()

    def get_dylib_ext_path(self, ext, target_fname):
        default = super().get_dylib_ext_path(ext, target_fname)
        return os.path.join(os.path.dirname(default), "libhmx.so")


class platform_wheel(bdist_wheel):
    """py3-none-<platform>: any Python 3 (ctypes only), this platform's library."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def run(self):
        require_rust()  # before copying the package: the first thing said is what is missing
        super().run()

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    version=crate_version(),
    rust_extensions=[
        RustExtension(
            "hmx.libhmx",
            path="Cargo.toml",
            binding=Binding.NoBinding,
            features=["zeroize-heap"],
            # Cargo.lock pins what the tests ran with.
            cargo_manifest_args=["--locked"],
        )
    ],
    cmdclass={"build_rust": build_libhmx, "bdist_wheel": platform_wheel},
)
