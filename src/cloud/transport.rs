//! The cloud's HTTP client: ureq's agent as hmx sets it up, and a ureq response read into a [`Reply`].

use std::io::Read;
use std::time::Duration;

use ureq::config::ConfigBuilder;
use ureq::http::Response;
use ureq::typestate::AgentScope;
use ureq::{Agent, Body};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::http::{BodyBuf, MAX_BODY_BYTES, Reply, check_coding, too_big};

/// The agent's settings: status codes come back as
/// answers (hmx words the errors itself), redirects are never followed,
/// `timeout` bounds a request from connecting to its last body byte, and
/// JSON is asked for.
pub(crate) fn agent_config(timeout: Duration) -> ConfigBuilder<AgentScope> {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .save_redirect_history(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("hmx/", env!("CARGO_PKG_VERSION")))
        .accept("application/json")
}

/// Reads status, the headers hmx uses and the whole body, refusing bodies
/// over [`MAX_BODY_BYTES`] and content codings hmx did not ask for.
pub(crate) fn read_reply(response: Response<Body>, what: &str) -> Result<Reply, Error> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    check_coding(header("content-encoding"), status, what)?;
    let declared = response.body().content_length().unwrap_or(0);
    if declared > MAX_BODY_BYTES as u64 {
        return Err(too_big(status, what));
    }
    let mut reader = response.into_body().into_reader();
    let mut body = BodyBuf::with_capacity(declared as usize);
    let mut chunk = Zeroizing::new([0u8; 16 * 1024]);
    loop {
        let n = reader
            .read(&mut chunk[..])
            .map_err(|e| Error::from_transport(ureq::Error::from(e), what))?;
        if n == 0 {
            break;
        }
        if !body.extend(chunk.get(..n).unwrap_or_default(), MAX_BODY_BYTES) {
            return Err(too_big(status, what));
        }
    }
    Ok(Reply::new(status, header, body.into_inner()))
}
