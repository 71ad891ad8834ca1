//! Building C and C++ against include/hmx.h.
//!
//! include/hmx.h is exactly what cbindgen generates from src/ffi (HMX_BLESS=1
//! rewrites it), and declares no name without the `hmx_`/`HMX_` prefix.

use std::path::Path;

fn generate() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    // Only src/ffi is read, so a public constant elsewhere in the crate never
    // becomes a C macro.
    cbindgen::Builder::new()
        .with_src(root.join("src/ffi/mod.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    generated
}

#[test]
fn header_matches_the_source() {
    let generated = generate();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/hmx.h");
    if std::env::var_os("HMX_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/hmx.h differs from what src/ffi generates; run HMX_BLESS=1 cargo test --all-features --test header"
    );
}

/// Removes `/* */` and `//` comments and string literals, which declare nothing.
fn code_only(header: &str) -> String {
    let mut out = String::new();
    let mut rest = header;
    while let Some(i) = rest.find(['/', '"']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        rest = if let Some(after) = tail.strip_prefix("/*") {
            &after[after.find("*/").map_or(after.len(), |j| j + 2)..]
        } else if tail.starts_with("//") {
            &tail[tail.find('\n').unwrap_or(tail.len())..]
        } else if let Some(after) = tail.strip_prefix('"') {
            out.push_str("\"\"");
            &after[after.find('"').map_or(after.len(), |j| j + 1)..]
        } else {
            out.push('/');
            &tail[1..]
        };
    }
    out.push_str(rest);
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every file-scope name a C header declares: macros, struct/enum tags,
/// typedef names, enumerators and functions.
fn declared_names(header: &str) -> Vec<String> {
    let code = code_only(header);
    let mut names = Vec::new();
    let mut body = String::new();
    for line in code.lines() {
        let line = line.trim();
        if let Some(directive) = line.strip_prefix('#') {
            let mut words = directive.split_whitespace();
            if words.next() == Some("define") {
                let name = words.next().unwrap_or_default();
                names.push(name.split('(').next().unwrap_or_default().to_string());
            }
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    // Split into tokens: identifiers and single punctuation characters.
    let mut tokens = Vec::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_ident_char(c) {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !is_ident_char(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            tokens.push(&body[i..end]);
        } else if !c.is_whitespace() {
            tokens.push(&body[i..i + c.len_utf8()]);
        }
    }
    let (mut braces, mut parens) = (0usize, 0usize);
    let mut enum_body = None;
    // Which open braces belong to `extern "C" {`, whose contents are file scope.
    let mut opened = Vec::new();
    for (k, &t) in tokens.iter().enumerate() {
        let prev = if k > 0 { tokens[k - 1] } else { "" };
        let next = tokens.get(k + 1).copied().unwrap_or("");
        match t {
            "{" => {
                let linkage = tokens[..k].iter().rev().take(3).any(|t| *t == "extern");
                opened.push(linkage);
                if !linkage {
                    braces += 1;
                }
                if tokens[..k].iter().rev().take(2).any(|t| *t == "enum") {
                    enum_body = Some(braces);
                }
            }
            "}" => {
                if enum_body == Some(braces) {
                    enum_body = None;
                }
                if opened.pop() == Some(false) {
                    braces = braces.saturating_sub(1);
                }
            }
            "(" => parens += 1,
            ")" => parens = parens.saturating_sub(1),
            _ if !t.starts_with(is_ident_char) || t.starts_with(|c: char| c.is_ascii_digit()) => {}
            _ if enum_body == Some(braces) && parens == 0 && (prev == "{" || prev == ",") => {
                names.push(t.to_string()); // an enumerator
            }
            _ if braces == 0 && parens == 0 => {
                let tag = prev == "struct" || prev == "enum" || prev == "union";
                let function = next == "(";
                let typedef_name = next == ";" && tokens[..k].contains(&"typedef");
                if tag || function || typedef_name {
                    names.push(t.to_string());
                }
            }
            _ => {}
        }
    }
    names
}

fn foreign_names(header: &str) -> Vec<String> {
    let mut foreign: Vec<String> = declared_names(header)
        .into_iter()
        .filter(|n| !n.starts_with("hmx_") && !n.starts_with("HMX_"))
        .collect();
    let mut seen = std::collections::HashSet::new();
    foreign.retain(|n| seen.insert(n.clone()));
    foreign
}

#[test]
fn the_header_declares_only_hmx_names() {
    let header = String::from_utf8(generate()).unwrap();
    let names = declared_names(&header);
    // The check sees what a header declares, so its silence means something.
    for expected in [
        "HMX_H",
        "HMX_TOTP_DIGITS",
        "hmx_status",
        "HMX_STATUS_OK",
        "hmx_client",
        "hmx_device_list",
        "hmx_free",
        "hmx_client_builder_build",
        "hmx_test_panic",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} not seen");
    }
    assert_eq!(foreign_names(&header), Vec::<String>::new());
}

#[test]
fn the_name_check_catches_what_broke_cpp() {
    // What include/hmx.h declared before this check existed, and the other ways in.
    let old = "/* c */\n#define DIGITS 9\n#define PERIOD 30\n#define DEVICE_EPOCH_UNIX 946684800\n\
               #define HMX_OK 1\n#define MAX(a, b) ((a) > (b) ? (a) : (b))\n\
               typedef enum unit { SECOND = 1, PERIOD2, } unit;\n\
               typedef struct point { int x; int y; } point_t;\n\
               typedef uint32_t counter;\n\
               struct hmx_x *make_thing(const char *name, size_t len);\n\
               enum hmx_status hmx_ok(void); // comment: fake(\n";
    assert_eq!(
        foreign_names(old),
        [
            "DIGITS",
            "PERIOD",
            "DEVICE_EPOCH_UNIX",
            "MAX",
            "unit",
            "SECOND",
            "PERIOD2",
            "point",
            "point_t",
            "counter",
            "make_thing"
        ]
    );
}

#[test]
fn the_cloud_url_macros_equal_rust() {
    let header = String::from_utf8(generate()).unwrap();
    for (name, value) in [
        ("HMX_TERNEO_URL", hmx::TERNEO_URL),
        ("HMX_WELROK_URL", hmx::WELROK_URL),
    ] {
        let line = format!("#define {name} \"{value}\"");
        assert!(header.lines().any(|l| l == line), "{line} missing");
    }
}
