//! A pseudo-terminal, to run a command as a person at a terminal does: the
//! prompt, echo, Ctrl-C and progress lines.

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A pseudo-terminal: the test holds the master side, the command gets the
/// other side as its controlling terminal.
pub struct Pty {
    pub master: fs::File,
    slave: OwnedFd,
}

impl Pty {
    pub fn open() -> Pty {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two descriptors; the name and settings are not asked for.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        for fd in [master, slave] {
            // SAFETY: fcntl on descriptors just opened; no command inherits them.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        // SAFETY: both descriptors were just opened and are owned here alone.
        unsafe {
            Pty {
                master: fs::File::from_raw_fd(master),
                slave: OwnedFd::from_raw_fd(slave),
            }
        }
    }

    pub fn stdio(&self) -> Stdio {
        Stdio::from(self.slave.try_clone().unwrap())
    }

    /// Runs `cmd` in a new session whose controlling terminal is this one.
    pub fn spawn(&self, cmd: &mut Command) -> Child {
        let terminal = self.slave.as_raw_fd();
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 || libc::ioctl(terminal, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.spawn().unwrap()
    }

    /// Everything the command writes to the terminal, as it comes.
    pub fn reader(&self) -> mpsc::Receiver<Vec<u8>> {
        let mut master = self.master.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the last slave descriptor is closed.
            while let Ok(n @ 1..) = master.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        rx
    }

    pub fn echo_is_on(&self) -> bool {
        // SAFETY: tcgetattr fills a plain C struct for a descriptor held open.
        unsafe {
            let mut t = std::mem::zeroed::<libc::termios>();
            assert_eq!(libc::tcgetattr(self.slave.as_raw_fd(), &mut t), 0);
            t.c_lflag & libc::ECHO != 0
        }
    }
}

/// Reads from the terminal until `text` shows up (or 20 s pass); all read so far.
pub fn wait_for(rx: &mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, text: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !String::from_utf8_lossy(seen).contains(text) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => return false,
        }
    }
    true
}

/// The prompt prints before it turns echo off: wait (up to 10 s) for that.
pub fn echo_goes_off(pty: &Pty) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pty.echo_is_on() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}
