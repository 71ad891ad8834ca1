//! This machine's clock as device time, and a warning when it cannot be one.

use std::time::{SystemTime, UNIX_EPOCH};

use hmx::totp::{DEVICE_EPOCH_UNIX, device_time_from_unix};

/// Device time now, and a warning for stderr when this machine's clock is
/// outside what a device clock can hold (before 2000, or past 2136).
pub fn device_time_now() -> (u32, Option<String>) {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs());
    (hmx::totp::device_time_now(), warning(unix))
}

/// The warning for a Unix time (None: before 1970), or None when it is a valid device time.
pub fn warning(unix: Option<u64>) -> Option<String> {
    if unix.and_then(device_time_from_unix).is_some() {
        return None;
    }
    let when = match unix {
        Some(t) if t >= DEVICE_EPOCH_UNIX => "is past 2136, the end of the device clock's range",
        _ => "is before 2000, the start of the device clock",
    };
    Some(format!(
        "warning: this machine's clock {when}: these codes will not match the device; \
         set the clock, or give the device's time with `hmx code KEY --device-time N`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_outside_the_device_clock_only() {
        assert_eq!(warning(Some(DEVICE_EPOCH_UNIX)), None);
        assert_eq!(warning(Some(1_764_000_000)), None);
        assert_eq!(warning(Some(DEVICE_EPOCH_UNIX + u64::from(u32::MAX))), None);
        let before = warning(Some(DEVICE_EPOCH_UNIX - 1)).unwrap();
        assert!(before.contains("before 2000"), "{before}");
        assert!(warning(None).unwrap().contains("before 2000"));
        let past = warning(Some(DEVICE_EPOCH_UNIX + u64::from(u32::MAX) + 1)).unwrap();
        assert!(past.contains("past 2136"), "{past}");
    }
}
