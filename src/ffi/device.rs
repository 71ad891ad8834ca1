//! Device lists as C sees them, and looking a device up by serial.

use std::ffi::c_char;
use std::ptr;
use std::sync::Arc;

use super::handles::{self, Owned};
use super::strings::{CStrings, hand_out_secret};
use super::{boundary_out, boundary_value, hmx_status, str_arg};
use crate::{Device, Error, ErrorKind};

/// One device. The strings belong to the list and live until it is freed.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct hmx_device {
    /// The cloud's numeric id.
    pub id: i64,
    /// The serial number; never NULL.
    pub sn: *const c_char,
    /// The user's name for the device; never NULL, "" when the cloud has none.
    pub name: *const c_char,
    /// The TOTP key; NULL when the cloud sends none.
    pub totp_key: *const c_char,
}

/// The devices of an account, in the cloud's order. Free with `hmx_free`.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct hmx_device_list {
    /// How many devices `items` holds.
    pub len: usize,
    /// The devices; NULL when `len` is 0.
    pub items: *const hmx_device,
}

/// The Rust devices, their NUL-terminated copies for C, and the C view of both.
pub(crate) struct DeviceList {
    c_list: hmx_device_list,
    // Kept so that lookups go through the same Rust function Rust users call.
    devices: Vec<Device>,
    _items: Vec<hmx_device>,
    _strings: CStrings,
}

// SAFETY: the raw pointers point into the list's own heap buffers, which are
// never mutated after construction; sharing them between threads is sound.
unsafe impl Send for DeviceList {}
unsafe impl Sync for DeviceList {}

impl DeviceList {
    fn new(devices: Vec<Device>) -> DeviceList {
        let mut strings = CStrings::with_capacity(devices.len() * 3);
        let items: Vec<hmx_device> = devices
            .iter()
            .map(|d| hmx_device {
                id: d.id,
                sn: strings.keep(&d.sn),
                name: strings.keep(&d.name),
                totp_key: strings.keep_some(d.totp_key.as_ref().map(|k| k.as_str())),
            })
            .collect();
        DeviceList {
            c_list: hmx_device_list {
                len: items.len(),
                items: items.first().map_or(ptr::null(), ptr::from_ref),
            },
            devices,
            _items: items,
            _strings: strings,
        }
    }

    /// `extra` of device `index` as a JSON object, or `None` past the end.
    fn extra_json(&self, index: usize) -> Option<String> {
        let device = self.devices.get(index)?;
        Some(serde_json::Value::Object(device.extra.clone()).to_string())
    }

    fn find(&self, sn: &str) -> Option<*const hmx_device> {
        let found = crate::find_device(&self.devices, sn)?;
        let index = self.devices.iter().position(|d| ptr::eq(d, found))?;
        self._items.get(index).map(|item| item as *const hmx_device)
    }
}

impl Owned for DeviceList {
    fn address(&self) -> usize {
        ptr::from_ref(&self.c_list) as usize
    }
}

/// Hands C the list of `devices`, to be freed (and its keys wiped) by `hmx_free`.
pub(crate) fn hand_out(devices: Vec<Device>) -> *mut hmx_device_list {
    handles::hand_out(DeviceList::new(devices)) as *mut hmx_device_list
}

/// The list behind a C pointer.
fn device_list(list: *const hmx_device_list) -> Result<Arc<DeviceList>, Error> {
    handles::arg(list, "list", "hmx device list")
}

/// Finds the device whose serial is `sn`, compared case-insensitively after
/// trimming spaces. On success `*device_out` points into `list` and lives
/// until the list is freed; `HMX_STATUS_NOT_FOUND` when there is none.
///
/// # Safety
/// `list` must be NULL or a list from `hmx_list_devices`; `sn` NULL or a
/// NUL-terminated string; `device_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_find_device(
    list: *const hmx_device_list,
    sn: *const c_char,
    device_out: *mut *const hmx_device,
) -> hmx_status {
    // SAFETY: no error buffer; the caller's contract, forwarded.
    unsafe {
        boundary_out(device_out, "device_out", ptr::null_mut(), 0, || {
            let list = device_list(list)?;
            let sn = str_arg(sn, "sn")?;
            list.find(sn)
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "no device with that serial"))
        })
    }
}

/// Whether `a` and `b` are the same serial number, by the rule
/// `hmx_find_device` uses (trimmed, ASCII case-insensitive): for callers
/// that keep devices in their own structures. NULL or invalid UTF-8 on
/// either side: false.
///
/// # Safety
/// `a` and `b` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_same_serial(a: *const c_char, b: *const c_char) -> bool {
    boundary_value(false, || {
        // SAFETY: the caller's contract, forwarded.
        match unsafe { (str_arg(a, "a"), str_arg(b, "b")) } {
            (Ok(a), Ok(b)) => crate::same_serial(a, b),
            _ => false,
        }
    })
}

/// The rest of device `index` of `list`: every field the cloud sent besides
/// `id`, `sn`, `name` and `totp_key` (`type`, `version_name`, `data`, ...),
/// in the cloud's order, as a JSON object text, e.g. `{"type":4,"data":{...}}`
/// (`{}` when there is nothing more). On success `*json_out` is a string to
/// free with `hmx_free`. An index past the end is `HMX_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `list` NULL or from `hmx_list_devices`; `json_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_device_extra_json(
    list: *const hmx_device_list,
    index: usize,
    json_out: *mut *mut c_char,
) -> hmx_status {
    // SAFETY: no error buffer; the list is reached only through the registry.
    unsafe {
        boundary_out(json_out, "json_out", ptr::null_mut(), 0, || {
            let json = device_list(list)?.extra_json(index).ok_or_else(|| {
                Error::invalid(format!("index {index} is past the end of the list"))
            })?;
            Ok(hand_out_secret(&json))
        })
    }
}
