//! What counts as one JSON answer from a small embedded stack: a complete value, then nothing but padding.
//!
//! Thermostats answer over tiny HTTP and UDP stacks that pad what they send:
//! a NUL after the JSON, datagrams filled with zeros, trailing spaces or line
//! ends. Those are accepted. Anything else after a complete value (a second
//! value, stray text) is ambiguous and refused with a message that shows what
//! arrived.

use serde_json::Value;

/// Longest piece of an unreadable answer quoted in a message.
const QUOTE_BYTES: usize = 48;

/// One JSON answer as read, or why it is not one.
#[derive(Debug)]
pub(crate) enum Framed {
    /// A complete value, followed by padding at most.
    Value(Value),
    /// Nothing but padding: an empty answer.
    Empty,
    /// JSON that stops before the value is complete.
    CutOff,
    /// Not JSON, or a value followed by more than padding: what arrived, quoted.
    Unreadable(String),
}

/// Bytes a device may put around its JSON: ASCII white space and NUL.
fn is_padding(b: u8) -> bool {
    b == 0 || b.is_ascii_whitespace()
}

/// Reads `bytes` as one JSON value between padding.
pub(crate) fn json_value(bytes: &[u8]) -> Framed {
    let start = bytes.iter().position(|b| !is_padding(*b));
    let Some(start) = start else {
        return Framed::Empty;
    };
    let text = bytes.get(start..).unwrap_or_default();
    let mut values = serde_json::Deserializer::from_slice(text).into_iter::<Value>();
    let value = match values.next() {
        Some(Ok(value)) => value,
        Some(Err(e)) if e.is_eof() => return Framed::CutOff,
        Some(Err(_)) | None => return Framed::Unreadable(format!("`{}`", quote(text))),
    };
    let rest = text.get(values.byte_offset()..).unwrap_or_default();
    match rest.iter().position(|b| !is_padding(*b)) {
        None => Framed::Value(value),
        Some(at) => Framed::Unreadable(format!(
            "a complete answer followed by {} more byte(s) that are not padding: `{}`",
            rest.len() - at,
            quote(rest.get(at..).unwrap_or_default())
        )),
    }
}

/// `bytes`, cut to [`QUOTE_BYTES`], with anything unprintable escaped.
pub(crate) fn quote(bytes: &[u8]) -> String {
    let cut = bytes.get(..QUOTE_BYTES).unwrap_or(bytes);
    let mut out = String::with_capacity(cut.len());
    for &b in cut {
        match b {
            b' '..=b'~' => out.push(char::from(b)),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0 => out.push_str("\\0"),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > QUOTE_BYTES {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(bytes: &[u8]) -> Option<Value> {
        match json_value(bytes) {
            Framed::Value(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn padding_around_a_value_is_accepted() {
        let want = serde_json::json!({"success": "true"});
        for bytes in [
            &b"{\"success\":\"true\"}"[..],
            b"{\"success\":\"true\"}\0",
            b"{\"success\":\"true\"}\0\0\0\0\0\0\0\0",
            b"  {\"success\":\"true\"}  \r\n",
            b"\0{\"success\":\"true\"}\n\0 ",
        ] {
            assert_eq!(value(bytes), Some(want.clone()), "{bytes:?}");
        }
    }

    #[test]
    fn what_is_not_padding_is_refused_and_shown() {
        let Framed::Unreadable(why) = json_value(b"{\"success\":\"true\"}\r\nxyz") else {
            panic!("accepted garbage");
        };
        assert!(
            why.contains("3 more byte(s)") && why.contains("`xyz`"),
            "{why}"
        );
        assert!(matches!(json_value(b"{} {}"), Framed::Unreadable(_)));
        assert!(matches!(json_value(b"<html>"), Framed::Unreadable(w) if w.contains("<html>")));
        assert!(matches!(json_value(b"{\"sn\":\"1"), Framed::CutOff));
        assert!(matches!(json_value(b""), Framed::Empty));
        assert!(matches!(json_value(b"\0\0 \n"), Framed::Empty));
    }

    #[test]
    fn quotes_are_short_and_printable() {
        let q = quote(&[0x1b, b'[', b'2', b'J', 0xff].repeat(40));
        assert!(q.len() < 4 * QUOTE_BYTES + 4, "{q}");
        assert!(!q.contains('\u{1b}'));
        assert!(q.ends_with('…'));
    }
}
