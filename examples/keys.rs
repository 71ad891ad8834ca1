//! The Rust API in a few lines: log in, list every device, print its key.
//! (The tool for people is the `hmx` command: `cargo run --features cli -- keys --help`.)
//!
//!     HMX_EMAIL=you@example.com HMX_PASSWORD=... cargo run --example keys
//!     cargo run -q --features test-util --example mock_cloud -- --run target/debug/examples/keys
//!
//! HMX_BASE_URL picks the cloud (default Terneo's); HMX_CA_FILE trusts a PEM instead of the public roots.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut builder = hmx::Client::builder();
    if let Some(url) = var("HMX_BASE_URL") {
        builder = builder.base_url(url);
    }
    if let Some(path) = var("HMX_CA_FILE") {
        builder = builder.root_ca_pem(std::fs::read(path)?);
    }
    let client = builder.build()?;
    let email = var("HMX_EMAIL").ok_or("set HMX_EMAIL")?;
    let password = zeroize::Zeroizing::new(var("HMX_PASSWORD").ok_or("set HMX_PASSWORD")?);

    let token = client.login(&email, &password)?;
    for device in client.list_devices(&token)? {
        let key = device.totp_key.as_ref().map_or("-", |k| k.as_str());
        println!("{}\t{}\t{key}", device.sn, device.name);
    }
    Ok(())
}
