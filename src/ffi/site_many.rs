//! Many devices of a site at once from C: `hmx_site_control_many` and `hmx_site_state_many`, one JSON result per device.

use std::ffi::{CStr, c_char, c_int};

use serde_json::{Map, Value, json};

use super::site::{hmx_site, with_site};
use super::status::hmx_status_name;
use super::strings::hand_out_secret;
use super::{boundary_out, hmx_status, str_arg};
use crate::Error;
use crate::local::{Thermostat, parse_controls};
use crate::site::{Outcome, Site};

/// One result per device, as `hmx_site_control_many` and
/// `hmx_site_state_many` give them: `{"device":SN,"ok":true, ...}` with
/// `value`'s members, or `{"device":SN,"ok":false,"status":NAME,"message":TEXT}`.
fn results_json<T>(outcomes: Vec<Outcome<T>>, value: impl Fn(T) -> Map<String, Value>) -> Value {
    let results = outcomes.into_iter().map(|outcome| {
        let mut one = Map::new();
        one.insert("device".into(), outcome.device.into());
        match outcome.result {
            Ok(v) => {
                one.insert("ok".into(), true.into());
                one.extend(value(v));
            }
            Err(e) => {
                let status = hmx_status::from(e.kind()) as c_int;
                // SAFETY: hmx_status_name returns a static NUL-terminated string.
                let name = unsafe { CStr::from_ptr(hmx_status_name(status)) };
                one.insert("ok".into(), false.into());
                one.insert("status".into(), name.to_string_lossy().into());
                one.insert("message".into(), e.message().into());
            }
        }
        Value::Object(one)
    });
    Value::Array(results.collect())
}

/// The queries of a `_many` call: every device of the site when `count` is 0.
///
/// # Safety
/// `queries` NULL or `count` readable pointers, each NULL or NUL-terminated.
unsafe fn queries_arg(
    queries: *const *const c_char,
    count: usize,
    site: &Site,
) -> Result<Vec<String>, Error> {
    if count == 0 {
        return Ok(site.devices().iter().map(|d| d.sn.clone()).collect());
    }
    if queries.is_null() {
        return Err(Error::invalid(format!(
            "queries is NULL with query_count {count}"
        )));
    }
    (0..count)
        .map(|i| {
            // SAFETY: i < count, readable by the caller's contract.
            let q = unsafe { *queries.add(i) };
            // SAFETY: forwarded contract.
            unsafe { str_arg(q, &format!("queries[{i}]")) }.map(str::to_string)
        })
        .collect()
}

/// The body of a `_many` entry point: `call` on every device the queries
/// name (see [`queries_arg`]) through `Site::call_many`, and the results as
/// JSON text for C, each success with `value`'s members.
///
/// # Safety
/// As for [`queries_arg`].
unsafe fn many<T: Send>(
    site: *mut hmx_site,
    queries: *const *const c_char,
    query_count: usize,
    call: impl Fn(&Thermostat) -> Result<T, Error> + Sync,
    value: impl Fn(T) -> Map<String, Value>,
) -> Result<*mut c_char, Error> {
    let outcomes = with_site(site, |s| {
        // SAFETY: forwarded contract.
        let queries = unsafe { queries_arg(queries, query_count, s) }?;
        let queries: Vec<&str> = queries.iter().map(String::as_str).collect();
        s.call_many(&queries, call)
    })?;
    Ok(hand_out_secret(&results_json(outcomes, value).to_string()))
}

/// `hmx_site_control` on several devices at once, each in its own thread
/// (each device still gets one request at a time): the devices the
/// `query_count` strings in `queries` name, or every device of the site
/// when `query_count` is 0 (`queries` is then not read and may be NULL).
/// Devices that moved are looked for in one shared listening, and the keys
/// are fetched at most once.
///
/// Returns `HMX_STATUS_OK` when the call ran, even if some or all devices
/// failed: `*results_json_out` (free with `hmx_free`) then holds one result
/// per query, in their order, by serial number (or the query itself when it
/// names no device): `[{"device":"SN","ok":true},{"device":"SN","ok":false,
/// "status":"HMX_STATUS_TIMEOUT","message":"..."}]`. Only what stops the
/// whole call is a status: bad arguments (controls that do not parse, NULL
/// `queries` with a count, a NULL or non-UTF-8 query), or the site that
/// cannot be saved (`HMX_STATUS_STORAGE`).
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `queries` NULL or `query_count`
/// readable pointers, each NULL or NUL-terminated; `controls` NULL or
/// NUL-terminated; `results_json_out` NULL or writable; `err_buf` NULL or
/// `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_control_many(
    site: *mut hmx_site,
    queries: *const *const c_char,
    query_count: usize,
    controls: *const c_char,
    results_json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(
            results_json_out,
            "results_json_out",
            err_buf,
            err_len,
            || {
                let controls = parse_controls(str_arg(controls, "controls")?)?;
                let write = |t: &Thermostat| t.control(&controls);
                many(site, queries, query_count, write, |_| Map::new())
            },
        )
    }
}

/// `hmx_site_state` on several devices at once, as `hmx_site_control_many`
/// calls them (the same queries, the same `HMX_STATUS_OK` when the call ran):
/// each result that succeeded carries the state as the Rust `State` gives it
/// in JSON, every field present, `null` when the unit left it out, mode and
/// control by name (`hmx_mode_name`; a code the docs do not name as its
/// number): `[{"device":"SN","ok":true,"state":{"floor_c":24.9375,
/// "air_c":null,"setpoint_c":23.0,"relay_on":true,"powered":true,
/// "mode":"manual","control":"floor","lan_lock":true,"cloud_lock":false,
/// "child_lock":false,"brightness":5,"wifi_dbm":-61,"load_power_w":1500}}]`.
///
/// # Safety
/// As for `hmx_site_control_many`, without `controls`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_state_many(
    site: *mut hmx_site,
    queries: *const *const c_char,
    query_count: usize,
    results_json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(
            results_json_out,
            "results_json_out",
            err_buf,
            err_len,
            || {
                many(site, queries, query_count, Thermostat::state, |state| {
                    Map::from_iter([("state".to_string(), json!(state))])
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn results_name_the_status_and_keep_the_order() {
        let outcomes = vec![
            Outcome {
                device: "A1".to_string(),
                result: Ok(7),
            },
            Outcome {
                device: "nowhere".to_string(),
                result: Err(Error::new(ErrorKind::NotFound, "no device \"nowhere\"")),
            },
        ];
        let json = results_json(outcomes, |n| {
            let mut m = Map::new();
            m.insert("n".into(), n.into());
            m
        });
        assert_eq!(
            json,
            json!([
                {"device": "A1", "ok": true, "n": 7},
                {"device": "nowhere", "ok": false, "status": "HMX_STATUS_NOT_FOUND",
                 "message": "no device \"nowhere\""},
            ])
        );
    }
}
