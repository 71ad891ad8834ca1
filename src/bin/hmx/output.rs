//! What `hmx keys` prints: a table for people, JSON for programs; aligned tables and escaping for every command.

use std::io::{self, Write};

use hmx::Device;
use serde_json::json;

/// The current token of each device and how long it stays valid, all for one instant.
pub struct Codes {
    pub device_time: u32,
}

impl Codes {
    fn of(&self, d: &Device) -> Option<String> {
        let key = d.totp_key.as_ref()?;
        Some(hmx::totp::code(key.as_bytes(), self.device_time).to_string())
    }

    pub fn valid_for(&self) -> u32 {
        hmx::totp::seconds_left(self.device_time)
    }
}

/// A cloud-supplied string made safe for a terminal: control characters,
/// bidirectional overrides and the backslash itself are written as escapes, so
/// a name holding a newline or ESC can neither forge a row nor drive the terminal.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters that reorder what a terminal shows without being "control" in Unicode's sense.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

pub fn print_json(
    out: &mut impl Write,
    devices: &[&Device],
    codes: Option<&Codes>,
) -> io::Result<()> {
    let rows: Vec<_> = devices
        .iter()
        .map(|d| {
            let key = d.totp_key.as_ref().map(|k| k.as_str());
            let mut row = serde_json::Map::new();
            row.insert("id".into(), json!(d.id));
            row.insert("sn".into(), json!(d.sn));
            row.insert("name".into(), json!(d.name));
            row.insert("totp_key".into(), json!(key));
            if let Some(c) = codes {
                row.insert("code".into(), json!(c.of(d)));
                row.insert("valid_for".into(), json!(c.valid_for()));
            }
            serde_json::Value::Object(row)
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &rows).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()
}

pub fn print_table(
    out: &mut impl Write,
    devices: &[&Device],
    codes: Option<&Codes>,
) -> io::Result<()> {
    let mut header: Vec<String> = ["ID", "SERIAL", "NAME", "TOTP_KEY"]
        .map(String::from)
        .into();
    if codes.is_some() {
        header.push("CODE".into());
    }
    let mut rows = vec![header];
    for d in devices {
        let mut row = vec![
            d.id.to_string(),
            escape(&d.sn),
            escape(&d.name),
            d.totp_key
                .as_ref()
                .map_or("-".into(), |k| escape(k.as_str())),
        ];
        if let Some(c) = codes {
            row.push(c.of(d).unwrap_or("-".into()));
        }
        rows.push(row);
    }
    out.write_all(aligned(&rows).as_bytes())?;
    out.flush()
}

/// Rows as lines of columns two spaces apart, each as wide as its widest
/// cell (cells escaped already); the last column is not padded.
pub fn aligned(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for r in rows {
        widths.resize(widths.len().max(r.len()), 0);
        for (width, cell) in widths.iter_mut().zip(r) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for r in rows {
        for (col, (cell, width)) in r.iter().zip(&widths).enumerate() {
            text.push_str(cell);
            if col + 1 < r.len() {
                text.push_str(&" ".repeat(width.saturating_sub(cell.chars().count()) + 2));
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_forge_a_row_or_drive_a_terminal() {
        assert_eq!(escape("Кухня 2"), "Кухня 2");
        assert_eq!(escape("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(escape("\u{1b}[2J\u{7}"), "\\u{1b}[2J\\u{7}");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape(r"back\slash"), r"back\\slash");
        assert!(!escape("\0\u{7f}").chars().any(char::is_control));
    }
}
