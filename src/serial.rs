//! The one rule for whether two serial numbers name the same device.

/// Whether `a` and `b` are the same serial number: compared after trimming
/// white space, ASCII letters in either case (the cloud, the announcements
/// and the devices' answers do not agree on the case of hex digits).
///
/// ```
/// assert!(hmx::same_serial(" 1100150010434b58 ", "1100150010434B58"));
/// assert!(!hmx::same_serial("1100150010434B58", "1100150010434B59"));
/// ```
pub fn same_serial(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}
