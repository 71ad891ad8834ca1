//! What hmx handed out to C, so that `hmx_free` frees only that, once.

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, MutexGuard};

use zeroize::Zeroizing;

use super::device::DeviceList;
use super::local::FoundList;
use crate::{Client, ClientBuilder};

/// One live allocation owned on C's behalf.
pub(crate) enum Handle {
    Client(Arc<Client>),
    /// A NUL-terminated secret string (token, request body), wiped on free.
    Secret(Zeroizing<Vec<u8>>),
    DeviceList(Box<DeviceList>),
    Builder(Box<Mutex<ClientBuilder>>),
    FoundList(Box<FoundList>),
}

impl Handle {
    /// The address C sees; it stays put while the handle lives.
    fn address(&self) -> usize {
        match self {
            Handle::Client(c) => Arc::as_ptr(c) as usize,
            Handle::Secret(s) => s.as_ptr() as usize,
            Handle::DeviceList(l) => l.c_list() as usize,
            Handle::Builder(b) => &**b as *const Mutex<ClientBuilder> as usize,
            Handle::FoundList(l) => l.c_list() as usize,
        }
    }
}

// A B-tree, not a hash map: a hash table's pointer points into the middle of
// its allocation, which valgrind reports as "possibly lost" at exit.
static LIVE: Mutex<BTreeMap<usize, Handle>> = Mutex::new(BTreeMap::new());

fn live() -> MutexGuard<'static, BTreeMap<usize, Handle>> {
    // A panic elsewhere while holding the lock leaves the map itself consistent.
    crate::sync::lock(&LIVE)
}

/// Records a handle and returns the address to give C.
pub(crate) fn hand_out(handle: Handle) -> usize {
    let address = handle.address();
    live().insert(address, handle);
    address
}

/// The client at `address`, if hmx handed it out and it is not freed.
pub(crate) fn client(address: usize) -> Option<Arc<Client>> {
    match live().get(&address) {
        Some(Handle::Client(c)) => Some(c.clone()),
        _ => None,
    }
}

/// Runs `f` on the device list at `address` while it cannot be freed.
pub(crate) fn with_device_list<T>(address: usize, f: impl FnOnce(&DeviceList) -> T) -> Option<T> {
    match live().get(&address) {
        Some(Handle::DeviceList(l)) => Some(f(l)),
        _ => None,
    }
}

/// Runs `f` on the client builder at `address` while it cannot be freed.
pub(crate) fn with_builder<T>(
    address: usize,
    f: impl FnOnce(&Mutex<ClientBuilder>) -> T,
) -> Option<T> {
    match live().get(&address) {
        Some(Handle::Builder(b)) => Some(f(b)),
        _ => None,
    }
}

/// Frees anything hmx returned: a token string, a device list, a client, a
/// signed request body. Token and key bytes are wiped first. NULL, a pointer
/// hmx did not hand out, or one already freed is ignored.
///
/// # Safety
/// Always safe to call. A pointer freed twice is ignored unless hmx has since
/// handed out the same address again (the allocator reused it), in which case
/// that newer object is freed: do not free twice on purpose.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_free(ptr: *mut c_void) {
    super::boundary_value((), || {
        if ptr.is_null() {
            return;
        }
        let handle = live().remove(&(ptr as usize));
        // Dropped here, outside the lock: wiping a large list takes a while.
        drop(handle);
    })
}
