//! Device lists as C sees them, and looking a device up by serial.

use std::ffi::c_char;
use std::ptr;

use zeroize::Zeroizing;

use super::client::hand_out_secret;
use super::handles::{self, Handle};
use super::{boundary, out_arg, str_arg};
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
    _strings: Vec<Zeroizing<Vec<u8>>>,
}

// SAFETY: the raw pointers point into the list's own heap buffers, which are
// never mutated after construction; sharing them between threads is sound.
unsafe impl Send for DeviceList {}
unsafe impl Sync for DeviceList {}

/// A NUL-terminated copy of `s`. A NUL inside `s` (which C could not see past)
/// becomes U+FFFD.
pub(crate) fn c_string(s: &str) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(s.len() + 3));
    for piece in s.split('\0').enumerate() {
        if piece.0 > 0 {
            bytes.extend_from_slice("\u{FFFD}".as_bytes());
        }
        bytes.extend_from_slice(piece.1.as_bytes());
    }
    bytes.push(0);
    bytes
}

impl DeviceList {
    pub(crate) fn new(devices: Vec<Device>) -> Box<DeviceList> {
        let mut strings = Vec::with_capacity(devices.len() * 3);
        let mut items = Vec::with_capacity(devices.len());
        let mut keep = |s: Zeroizing<Vec<u8>>| {
            let p = s.as_ptr().cast::<c_char>();
            strings.push(s);
            p
        };
        for d in &devices {
            items.push(hmx_device {
                id: d.id,
                sn: keep(c_string(&d.sn)),
                name: keep(c_string(&d.name)),
                totp_key: d
                    .totp_key
                    .as_ref()
                    .map_or(ptr::null(), |k| keep(c_string(k.as_str()))),
            });
        }
        let c_list = hmx_device_list {
            len: items.len(),
            items: if items.is_empty() {
                ptr::null()
            } else {
                items.as_ptr()
            },
        };
        Box::new(DeviceList {
            c_list,
            devices,
            _items: items,
            _strings: strings,
        })
    }

    pub(crate) fn c_list(&self) -> *const hmx_device_list {
        &self.c_list
    }

    /// `extra` of device `index` as a JSON object, or `None` past the end.
    fn extra_json(&self, index: usize) -> Option<String> {
        let device = self.devices.get(index)?;
        Some(serde_json::Value::Object(device.extra.clone()).to_string())
    }

    fn find(&self, sn: &str) -> Option<*const hmx_device> {
        let found = crate::find_device(&self.devices, sn)?;
        let index = self.devices.iter().position(|d| ptr::eq(d, found))?;
        Some(&self._items[index])
    }
}

pub(crate) fn hand_out(devices: Vec<Device>) -> *mut hmx_device_list {
    handles::hand_out(Handle::DeviceList(DeviceList::new(devices))) as *mut hmx_device_list
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
) -> super::hmx_status {
    // SAFETY: no error buffer.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            out_arg(device_out, "device_out")?;
            if list.is_null() {
                return Err(Error::invalid("list is NULL"));
            }
            let sn = str_arg(sn, "sn")?;
            let found = handles::with_device_list(list as usize, |l| l.find(sn))
                .ok_or_else(|| Error::invalid("list is not a live hmx device list"))?
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "no device with that serial"))?;
            *device_out = found;
            Ok(())
        })
    }
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
) -> super::hmx_status {
    // SAFETY: no error buffer; the list is reached only through the registry.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            out_arg(json_out, "json_out")?;
            if list.is_null() {
                return Err(Error::invalid("list is NULL"));
            }
            let json = handles::with_device_list(list as usize, |l| l.extra_json(index))
                .ok_or_else(|| Error::invalid("list is not a live hmx device list"))?
                .ok_or_else(|| {
                    Error::invalid(format!("index {index} is past the end of the list"))
                })?;
            *json_out = hand_out_secret(&json);
            Ok(())
        })
    }
}
