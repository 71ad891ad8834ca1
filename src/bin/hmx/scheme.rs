//! `--scheme NAME` (on `set`, `probe` and `code`): one of the library's token schemes, by name.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use hmx::totp::Scheme;

/// Parses a [`Scheme::name`] (ASCII case ignored when the argument sets
/// `ignore_case`). The names come from [`Scheme::ALL`], so `--help` and the
/// error for an unknown name list every scheme the library has.
pub fn parser() -> impl TypedValueParser<Value = Scheme> {
    PossibleValuesParser::new(Scheme::ALL.map(Scheme::name)).try_map(|name| name.parse::<Scheme>())
}
