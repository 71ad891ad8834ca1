//! Gives the shared library its SONAME, so that C programs link against the ABI's major version,
//! and, for cargo-c (feature `capi`), writes the CMake package's version file from this crate's version.

use std::path::Path;

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhmx.so.{major}");
    }
    if std::env::var_os("CARGO_FEATURE_CAPI").is_some() {
        write_cmake_version_file();
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cmake/hmxConfigVersion.cmake.in");
}

/// `$OUT_DIR/hmxConfigVersion.cmake`, which cargo-c installs next to
/// `hmxConfig.cmake` (see `[package.metadata.capi.install.data]`): the
/// template with the version and pointer size filled in, so the version is
/// written once, in Cargo.toml.
fn write_cmake_version_file() {
    let template = std::fs::read_to_string("cmake/hmxConfigVersion.cmake.in")
        .expect("cmake/hmxConfigVersion.cmake.in is part of the crate");
    let pointer_bytes = std::env::var("CARGO_CFG_TARGET_POINTER_WIDTH")
        .ok()
        .and_then(|bits| bits.parse::<u32>().ok())
        .map_or(8, |bits| bits / 8);
    let text = template
        .replace("@HMX_VERSION@", env!("CARGO_PKG_VERSION"))
        .replace("@HMX_SIZEOF_VOID_P@", &pointer_bytes.to_string());
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out).join("hmxConfigVersion.cmake"), text)
        .expect("OUT_DIR is writable");
}
