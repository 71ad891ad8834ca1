//! The password: `HMX_PASSWORD`, else a no-echo prompt on a terminal, else
//! the first line of stdin. Never an argument, where other users could read it.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, IsTerminal};
use std::os::fd::AsRawFd;

use zeroize::Zeroizing;

use crate::Failure;

pub fn read() -> Result<Zeroizing<String>, Failure> {
    if let Some(value) = std::env::var_os("HMX_PASSWORD") {
        return from_env(value);
    }
    if io::stdin().is_terminal() {
        return prompt();
    }
    first_line_of_stdin("the password")
}

/// `HMX_PASSWORD` alone, when it is set: for commands that log in only when
/// the site's saved token is refused, and never stop to ask.
pub fn from_env_only() -> Result<Option<Zeroizing<String>>, Failure> {
    std::env::var_os("HMX_PASSWORD").map(from_env).transpose()
}

/// The first line of stdin without its line ending, for a secret (`what`, in messages).
pub fn first_line_of_stdin(what: &str) -> Result<Zeroizing<String>, Failure> {
    let mut line = Zeroizing::new(String::new());
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("cannot read {what} from stdin: {e}")))?;
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    Ok(line)
}

/// A set `HMX_PASSWORD` is the password, or an error: never a reason to ask stdin instead.
fn from_env(value: OsString) -> Result<Zeroizing<String>, Failure> {
    value.into_string().map(Zeroizing::new).map_err(|_| {
        Failure::usage("HMX_PASSWORD is set but is not UTF-8; fix it, or unset it to be asked")
    })
}

fn prompt() -> Result<Zeroizing<String>, Failure> {
    let _echo = EchoGuard::install();
    rpassword::prompt_password("Password: ")
        .map(Zeroizing::new)
        .map_err(|e| Failure::usage(format!("cannot read the password: {e}")))
}

/// While the prompt has echo off: a signal that ends the process (Ctrl-C, which
/// rpassword re-raises as SIGINT, or SIGTERM, SIGHUP, SIGQUIT) first puts the
/// terminal back as it was, so echo is on again whatever shell started us.
struct EchoGuard {
    handlers: Vec<signal_hook::SigId>,
    // Kept open while the handlers may use its descriptor.
    _tty: File,
}

impl EchoGuard {
    /// None when there is no terminal to restore (rpassword then fails on its own).
    fn install() -> Option<EchoGuard> {
        let tty = File::options()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()?;
        let fd = tty.as_raw_fd();
        // SAFETY: tcgetattr fills a plain C struct for a descriptor we hold open.
        let saved = unsafe {
            let mut t = std::mem::zeroed::<libc::termios>();
            (libc::tcgetattr(fd, &mut t) == 0).then_some(t)?
        };
        let mut handlers = Vec::new();
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            let action = move || {
                // Only async-signal-safe calls here: tcsetattr, write, and
                // signal-hook's re-raise with the default action.
                // SAFETY: `fd` stays open until the handlers are unregistered.
                unsafe {
                    libc::tcsetattr(fd, libc::TCSANOW, &saved);
                    libc::write(fd, b"\n".as_ptr().cast(), 1);
                }
                let _ = signal_hook::low_level::emulate_default_handler(signal);
            };
            // SAFETY: the action only makes async-signal-safe calls (see above).
            if let Ok(id) = unsafe { signal_hook::low_level::register(signal, action) } {
                handlers.push(id);
            }
        }
        Some(EchoGuard {
            handlers,
            _tty: tty,
        })
    }
}

impl Drop for EchoGuard {
    fn drop(&mut self) {
        for id in self.handlers.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    #[test]
    fn a_set_password_that_is_not_utf8_is_an_error() {
        let failure = from_env(OsString::from_vec(vec![b'p', 0xff])).unwrap_err();
        assert_eq!(failure.code, crate::EXIT_USAGE);
        assert!(failure.message.unwrap().contains("not UTF-8"));
        assert_eq!(from_env("secret".into()).unwrap().as_str(), "secret");
    }
}
