//! Progress on stderr for a slow step (a fetch, a listening, a call): after a second, on a terminal only.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a step runs before it is shown.
const QUIET_FOR: Duration = Duration::from_secs(1);
const REFRESH: Duration = Duration::from_millis(250);

/// Locks `m`, taking the guard back from a poisoned lock: a progress line
/// is never worth a second panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a step has done so far, shown after its name (e.g. "3 pages, 300 devices").
#[derive(Clone, Default)]
pub struct Note(Arc<Mutex<String>>);

impl Note {
    pub fn set(&self, text: String) {
        *lock(&self.0) = text;
    }

    fn get(&self) -> String {
        lock(&self.0).clone()
    }
}

/// Runs `step`, showing `what`, what the step notes it has done and the time
/// spent on stderr while it takes longer than a second, when stderr is a
/// terminal. The line is cleared after.
pub fn show<T>(what: &str, step: impl FnOnce(&Note) -> T) -> T {
    show_with(what, &Note::default(), step)
}

/// [`show`] with a note made before the step, for a step that hands it to
/// code set up earlier (a site's listening hook).
pub fn show_with<T>(what: &str, note: &Note, step: impl FnOnce(&Note) -> T) -> T {
    let shown = io::stderr()
        .is_terminal()
        .then(|| Shown::start(what.to_string(), note.clone()));
    let result = step(note);
    drop(shown);
    result
}

/// "1 device", "3 devices".
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("{n} {what}")
    } else {
        format!("{n} {what}s")
    }
}

struct Shown {
    done: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Shown {
    fn start(what: String, note: Note) -> Shown {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let done = done.clone();
            thread::spawn(move || {
                let start = Instant::now();
                let (finished, signal) = &*done;
                let mut finished = lock(finished);
                let mut drawn = false;
                loop {
                    let wait = if drawn { REFRESH } else { QUIET_FOR };
                    finished = signal
                        .wait_timeout_while(finished, wait, |f| !*f)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    let mut err = io::stderr().lock();
                    if *finished {
                        if drawn {
                            let _ = write!(err, "\r\x1b[K");
                        }
                        return;
                    }
                    let note = note.get();
                    let note = if note.is_empty() {
                        String::new()
                    } else {
                        format!(" ({note})")
                    };
                    let _ = write!(
                        err,
                        "\r\x1b[K{what}{note}… {:.1} s",
                        start.elapsed().as_secs_f64()
                    );
                    let _ = err.flush();
                    drawn = true;
                }
            })
        };
        Shown {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Shown {
    fn drop(&mut self) {
        let (finished, signal) = &*self.done;
        *lock(finished) = true;
        signal.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
