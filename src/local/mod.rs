//! The thermostat's local API (`POST http://<device>/api.cgi`): a client, LAN discovery and signed request bodies.
//!
//! [`Thermostat`] reads a device's parameters, telemetry, schedule and clock
//! and writes parameters, one request at a time with a quiet interval
//! between requests, retrying what a busy or wedged device answers and
//! signing writes with the device's own clock when a key is set.
//! [`discover`] finds devices by the UDP announcements they broadcast;
//! [`sweep`] asks every address of a range instead.
//! [`sign_request`] only builds a signed body, for callers with their own
//! HTTP client.
//!
//! Where the facts come from: the vendor's local API docs ("terneo-api",
//! v2.4/2.5, and Welrok's copy), request/answer captures from two SX units,
//! and the issue trackers of public integrations (busy and empty answers,
//! refused writes, devices that move to another IP after a power cut).

mod address;
mod control;
mod discovery;
mod fixture;
mod gate;
mod parameters;
mod probe;
mod session;
mod state;
mod sweep;
mod thermostat;
mod wire;

pub use address::{DEFAULT_PORT, looks_like_serial};
pub use control::{Control, MAX_BRIGHTNESS, parse_controls};
pub use discovery::{
    DISCOVERY_PORT, DISCOVERY_WAIT, Found, FoundBy, Listener, Unreadable, discover,
};
pub use fixture::{Fixture, Recording, SchemeRecord};
pub use parameters::{
    BRIGHTNESS, CLOUD_LOCK, LAN_LOCK, Parameter, Period, Schedule, ValueType, find,
    parse_assignment,
};
pub use probe::{PROBE_PARAMETERS, ProbeReport};
pub use state::{
    CHILD_LOCK, CONTROL, ControlType, LOAD_POWER, MANUAL_FLOOR, MODE, Mode, POWER_OFF, SETPOINT,
    SetpointScale, State,
};
pub use sweep::{
    MAX_SWEEP_ADDRESSES, MAX_SWEEP_CONCURRENCY, SWEEP_CONCURRENCY, SWEEP_TIMEOUT, SweepOptions,
    SweepReport, sweep, sweep_addresses, sweep_report, sweep_report_with_progress,
};
pub use thermostat::{
    DEFAULT_MIN_INTERVAL, DEFAULT_TIMEOUT, RETRIES, RETRY_BACKOFF, Thermostat, Written,
};
// What the property tests and the fuzz targets call.
#[cfg(feature = "fuzzing")]
pub(crate) use {address::authority, wire::parse as parse_http_answer};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use {
    discovery::parse_announcement,
    parameters::{parse_parameters, parse_schedule},
};

// The fuzz target for fixture files redacts as a recording does.
#[cfg(feature = "fuzzing")]
pub(crate) use fixture::redact as redact_fixture_text;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::totp;

/// The body a device with LAN locking on expects: `sn`, `time` (device time,
/// as a string) and `auth` (the token, as a string) first, then `data`'s
/// members in their order.
///
/// `data` must be a non-empty JSON object without `sn`, `time` or `auth`
/// members, else [`ErrorKind::InvalidArgument`](crate::ErrorKind); so must
/// `sn` be non-empty. An empty `data` is refused because a request with only
/// `sn` and `time` sets the device's clock and turns off its cloud time sync.
///
/// ```
/// let body = hmx::local::sign_request(b"BW4ERXAJXXXXXXXX", "058016000543464839373520000159",
///                                     634_929_122, r#"{"par":[[125,7,"0"]]}"#)?;
/// assert!(body.starts_with(r#"{"sn":"058016000543464839373520000159","time":"634929122","auth":""#));
/// assert!(body.ends_with(r#"","par":[[125,7,"0"]]}"#));
/// # Ok::<(), hmx::Error>(())
/// ```
pub fn sign_request(key: &[u8], sn: &str, device_time: u32, data: &str) -> Result<String, Error> {
    if sn.trim().is_empty() {
        return Err(Error::invalid("sn is empty"));
    }
    let data: Map<String, Value> = serde_json::from_str(data)
        .map_err(|e| Error::invalid(format!("data must be a JSON object: {e}")))?;
    session::check_data(&data)?;
    let body = session::body(sn, Some((device_time, totp::code(key, device_time))), &data);
    // The body is JSON text that serde_json wrote: UTF-8.
    Ok(String::from_utf8_lossy(&body).into_owned())
}
