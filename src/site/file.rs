//! The site file: one JSON file holding keys and a token, mode 0600 in a 0700 folder, written beside itself and renamed into place.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind};

/// The format this hmx writes and reads; a file of a higher one is refused.
pub const FORMAT: u32 = 1;
/// The member that marks a site file and carries its format.
const MARKER: &str = "hmx_site";
/// Largest site file read: a few thousand devices fit in far less.
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// Where the site is kept unless told otherwise: `$HMX_SITE`, else
/// `$XDG_CONFIG_HOME/hmx/site.json`, else `~/.config/hmx/site.json`
/// (an `XDG_CONFIG_HOME` that is empty or relative is ignored, as the XDG
/// spec says). `Storage` when neither that nor `HOME` is set.
pub fn default_path() -> Result<PathBuf, Error> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = set("HMX_SITE") {
        return Ok(PathBuf::from(path));
    }
    if let Some(config) = set("XDG_CONFIG_HOME").filter(|v| Path::new(v).is_absolute()) {
        return Ok(Path::new(&config).join("hmx").join("site.json"));
    }
    match set("HOME") {
        Some(home) => Ok(Path::new(&home).join(".config/hmx/site.json")),
        None => Err(Error::new(
            ErrorKind::Storage,
            "no place for the site: set HMX_SITE, XDG_CONFIG_HOME or HOME",
        )),
    }
}

/// The file's members, as read (secrets as plain strings, moved into
/// wiping types at once by the caller).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Stored {
    // Checked through `Marker` before the rest is read.
    #[serde(rename = "hmx_site")]
    pub _format: u32,
    pub account: Option<StoredAccount>,
    #[serde(default)]
    pub devices: Vec<StoredDevice>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoredAccount {
    pub email: String,
    pub base_url: String,
    pub token: Option<String>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct StoredDevice {
    pub sn: String,
    pub name: Option<String>,
    pub key: Option<String>,
    pub scheme: Option<String>,
    pub address: Option<String>,
    pub hw: Option<String>,
    pub last_seen: Option<u64>,
    #[serde(default)]
    pub in_cloud: bool,
    #[serde(default)]
    pub on_lan: bool,
    #[serde(default)]
    pub failures: u32,
    pub failing_since: Option<u64>,
    pub last_success: Option<u64>,
    pub last_latency_ms: Option<u64>,
}

/// What is written: the same members, borrowed, the marker first.
#[derive(Serialize)]
pub(super) struct Writing<'a> {
    #[serde(rename = "hmx_site")]
    pub format: u32,
    pub account: Option<&'a StoredAccount>,
    pub devices: &'a [StoredDevice],
}

/// Only the marker, read first so that a foreign or newer file is named as
/// such instead of failing on its other members.
#[derive(Deserialize)]
struct Marker {
    hmx_site: Option<serde_json::Value>,
}

fn storage(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("site {}: {what}", path.display()),
    )
}

/// Reads the site at `path`; `Ok(None)` when there is no file there yet.
pub(super) fn load(path: &Path) -> Result<Option<Stored>, Error> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(storage(path, format!("cannot be read: {e}"))),
    };
    if !meta.is_file() {
        return Err(storage(path, "is not a file"));
    }
    // Keys and the token are in it: a file others can read is a leak to
    // stop, not to read past.
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(storage(
            path,
            format!(
                "is readable or writable by others (mode {mode:04o}), and it holds TOTP keys and a cloud token; run `chmod 600 {}` if that is your file",
                path.display()
            ),
        ));
    }
    if meta.len() > MAX_FILE {
        return Err(storage(
            path,
            format!("is {} bytes, more than a site can be", meta.len()),
        ));
    }
    let bytes =
        Zeroizing::new(fs::read(path).map_err(|e| storage(path, format!("cannot be read: {e}")))?);
    let fix = "it was left as it is: move it away and run `hmx sync` to make a new one";
    let marker: Marker = serde_json::from_slice(&bytes)
        .map_err(|e| storage(path, format!("is not a readable site file ({e}); {fix}")))?;
    match marker.hmx_site.as_ref().map(serde_json::Value::as_u64) {
        None => {
            return Err(storage(
                path,
                format!("is not an hmx site file (it has no \"{MARKER}\" member); {fix}"),
            ));
        }
        Some(Some(n)) if n > u64::from(FORMAT) => {
            return Err(storage(
                path,
                format!(
                    "was written by a newer hmx (site format {n}; this one reads {FORMAT}); it was left as it is"
                ),
            ));
        }
        Some(Some(n)) if n >= 1 => {}
        Some(_) => {
            return Err(storage(path, format!("has an unknown site format; {fix}")));
        }
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| storage(path, format!("is not a readable site file ({e}); {fix}")))
}

/// Writes the site to `path` whole or not at all: into a new 0600 file
/// beside it, flushed to disk, then renamed over it, so a reader sees the
/// old file or the new one, never a part. A folder made for it is 0700.
pub(super) fn save(path: &Path, site: &Writing<'_>) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| storage(path, format!("its folder cannot be made: {e}")))?;
    // Sized once, so that growing it leaves no unwiped copies of the keys behind.
    let mut text = Zeroizing::new(Vec::with_capacity(4096 + 1024 * site.devices.len()));
    serde_json::to_writer_pretty(&mut *text, site)
        .map_err(|e| storage(path, format!("cannot be written: {e}")))?;
    text.push(b'\n');

    let name = path
        .file_name()
        .map_or_else(|| OsString::from("site"), OsString::from);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut temp_name = OsString::from(".");
    temp_name.push(&name);
    temp_name.push(format!(".{}.{nanos}.tmp", std::process::id()));
    let temp = dir.join(temp_name);
    let written = (|| -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        // The rename itself reaches the disk with the folder's entry.
        File::open(&dir)?.sync_all()
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&temp);
        storage(path, format!("cannot be written: {e}"))
    })
}

/// Holds the site's lock file (`.NAME.lock` beside it) for a read-change-write,
/// so that two processes updating one site do not lose each other's changes.
pub(super) struct Lock(#[allow(dead_code)] File);

pub(super) fn lock(path: &Path) -> Result<Lock, Error> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| storage(path, format!("its folder cannot be made: {e}")))?;
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".lock");
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(name))
        .map_err(|e| storage(path, format!("its lock file cannot be opened: {e}")))?;
    // flock(2) rather than File::lock, which needs Rust 1.89 (hmx builds
    // with 1.85); released when the file is closed, also if the process dies.
    // SAFETY: flock on a descriptor this function owns and keeps open.
    let locked = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX) };
    if locked != 0 {
        let e = io::Error::last_os_error();
        return Err(storage(path, format!("cannot be locked: {e}")));
    }
    Ok(Lock(file))
}
