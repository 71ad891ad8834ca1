//! Gives the shared library its SONAME, so that C programs link against the ABI's major version.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhmx.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
