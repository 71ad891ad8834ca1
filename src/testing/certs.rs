//! A CA generated at start, and the server certificate it signs.

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA's PEM (for the client) and a server config presenting a certificate for `hosts`.
pub(crate) fn generate(hosts: &[&str]) -> io::Result<(String, Arc<ServerConfig>)> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hmx stand-in cloud CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(io::Error::other)?)
            .map_err(io::Error::other)?;

    let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    let leaf_key = KeyPair::generate().map_err(io::Error::other)?;
    let leaf = CertificateParams::new(names)
        .and_then(|p| p.signed_by(&leaf_key, &ca))
        .map_err(io::Error::other)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .map_err(io::Error::other)?;
    Ok((ca.pem(), Arc::new(config)))
}
