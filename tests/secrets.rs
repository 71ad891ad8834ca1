//! Trusting hmx with the password, the token and the keys.
//!
//! No copy of them survives in freed heap memory: every block the process
//! frees is searched, through the Rust API and the C functions.
//!
//! The stand-in runs as a separate process, so only this client's frees are
//! searched. Each cycle runs twice: with wiping off the search must find
//! copies (ureq, rustls and `http` make them, and it proves the search works),
//! with `zeroize-heap` wiping on it must find none.
#![cfg(all(feature = "test-util", feature = "zeroize-heap"))]

mod common;

use std::cell::UnsafeCell;
use std::ffi::{CString, c_char, c_int, c_void};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use hmx::testing::{DEMO_EMAIL, DEMO_PASSWORD, demo_devices};
use hmx::zeroize_heap::inspect;

const TOKEN: &str = "9573e6a8e24b025fafbaf81dc2eccbc09b94d187";
const MAX_SECRETS: usize = 16;
const MAX_LEN: usize = 64;

/// The secrets searched for, in static memory so that searching allocates nothing.
struct Secrets(UnsafeCell<[([u8; MAX_LEN], usize); MAX_SECRETS]>);
// SAFETY: written once before the inspector is installed, then only read.
unsafe impl Sync for Secrets {}
static SECRETS: Secrets = Secrets(UnsafeCell::new([([0; MAX_LEN], 0); MAX_SECRETS]));
static COUNT: AtomicUsize = AtomicUsize::new(0);
static FOUND: [AtomicUsize; MAX_SECRETS] = [const { AtomicUsize::new(0) }; MAX_SECRETS];

fn set_secrets(secrets: &[&str]) {
    assert!(secrets.len() <= MAX_SECRETS);
    // SAFETY: no inspector is installed while this runs.
    let table = unsafe { &mut *SECRETS.0.get() };
    for (slot, s) in table.iter_mut().zip(secrets) {
        slot.0[..s.len()].copy_from_slice(s.as_bytes());
        slot.1 = s.len();
    }
    COUNT.store(secrets.len(), Ordering::SeqCst);
}

fn search_freed_block(block: &[u8]) {
    // SAFETY: read-only while the inspector is installed.
    let table = unsafe { &*SECRETS.0.get() };
    for (i, (bytes, len)) in table.iter().take(COUNT.load(Ordering::Relaxed)).enumerate() {
        if block.windows(*len).any(|w| w == &bytes[..*len]) {
            FOUND[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs `cycle` with the inspector on and returns how many freed blocks held each secret.
fn copies_left(wiping: bool, cycle: impl FnOnce()) -> Vec<usize> {
    FOUND.iter().for_each(|f| f.store(0, Ordering::SeqCst));
    inspect::set_wiping(wiping);
    inspect::set_inspector(Some(search_freed_block));
    cycle();
    inspect::set_inspector(None);
    inspect::set_wiping(true);
    FOUND
        .iter()
        .take(COUNT.load(Ordering::SeqCst))
        .map(|f| f.load(Ordering::SeqCst))
        .collect()
}

struct Cloud {
    child: Child,
    base_url: String,
    ca_pem: String,
}

fn start_cloud() -> Cloud {
    let args = ["--token", TOKEN, "--devices", "5", "--page-size", "2"];
    let (child, base_url, ca_file) = common::procs::mock_cloud(&args, Stdio::piped());
    let ca_pem = std::fs::read_to_string(ca_file).unwrap();
    Cloud {
        child,
        base_url,
        ca_pem,
    }
}

unsafe extern "C" {
    fn hmx_client_new(
        base_url: *const c_char,
        timeout_ms: u32,
        root_ca_pem: *const c_char,
        client_out: *mut *mut c_void,
        err_buf: *mut c_char,
        err_len: usize,
    ) -> c_int;
    fn hmx_login(
        client: *const c_void,
        email: *const c_char,
        password: *const c_char,
        token_out: *mut *mut c_char,
        err_buf: *mut c_char,
        err_len: usize,
    ) -> c_int;
    fn hmx_list_devices(
        client: *const c_void,
        token: *const c_char,
        list_out: *mut *mut c_void,
        err_buf: *mut c_char,
        err_len: usize,
    ) -> c_int;
    fn hmx_free(ptr: *mut c_void);
}

fn rust_cycle(cloud: &Cloud) {
    let client = hmx::Client::builder()
        .base_url(&cloud.base_url)
        .root_ca_pem(&cloud.ca_pem)
        .build()
        .unwrap();
    let token = client.login(DEMO_EMAIL, DEMO_PASSWORD).unwrap();
    assert_eq!(token.as_str(), TOKEN);
    let devices = client.list_devices(&token).unwrap();
    assert_eq!(devices.len(), 5);
}

fn c_cycle(cloud: &Cloud) {
    let url = CString::new(cloud.base_url.clone()).unwrap();
    let pem = CString::new(cloud.ca_pem.clone()).unwrap();
    let email = CString::new(DEMO_EMAIL).unwrap();
    let password = CString::new(DEMO_PASSWORD).unwrap();
    let mut err = [0 as c_char; 256];
    let mut client = std::ptr::null_mut();
    let mut token = std::ptr::null_mut();
    let mut list = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated strings and out-pointers.
    unsafe {
        assert_eq!(
            hmx_client_new(
                url.as_ptr(),
                0,
                pem.as_ptr(),
                &mut client,
                err.as_mut_ptr(),
                256
            ),
            0
        );
        assert_eq!(
            hmx_login(
                client,
                email.as_ptr(),
                password.as_ptr(),
                &mut token,
                err.as_mut_ptr(),
                256
            ),
            0
        );
        assert_eq!(
            hmx_list_devices(client, token, &mut list, err.as_mut_ptr(), 256),
            0
        );
        hmx_free(list);
        hmx_free(token.cast());
        hmx_free(client);
    }
}

#[test]
fn no_secret_survives_in_freed_memory() {
    let cloud = start_cloud();
    let keys: Vec<String> = demo_devices(5)
        .iter()
        .map(|d| d["totp_key"].as_str().unwrap().to_string())
        .collect();
    let mut secrets = vec![DEMO_PASSWORD, TOKEN];
    secrets.extend(keys.iter().map(String::as_str));
    set_secrets(&secrets);

    let rust_unwiped = copies_left(false, || rust_cycle(&cloud));
    let rust_wiped = copies_left(true, || rust_cycle(&cloud));
    let c_unwiped = copies_left(false, || c_cycle(&cloud));
    let c_wiped = copies_left(true, || c_cycle(&cloud));
    eprintln!("freed blocks holding [password, token, 5 keys]:");
    eprintln!("  Rust API, wiping off: {rust_unwiped:?}; on: {rust_wiped:?}");
    eprintln!("  C API,    wiping off: {c_unwiped:?}; on: {c_wiped:?}");

    // The search finds what is there: without wiping, ureq/rustls/http leave
    // the token and keys behind.
    assert!(
        rust_unwiped[1] > 0 && rust_unwiped[2..].iter().all(|&n| n > 0),
        "{rust_unwiped:?}"
    );
    assert!(
        c_unwiped[1] > 0 && c_unwiped[2..].iter().all(|&n| n > 0),
        "{c_unwiped:?}"
    );
    assert!(
        rust_wiped.iter().all(|&n| n == 0),
        "copies left with zeroize-heap: {rust_wiped:?}"
    );
    assert!(
        c_wiped.iter().all(|&n| n == 0),
        "copies left with zeroize-heap: {c_wiped:?}"
    );
    drop(cloud.child.stdin);
}
