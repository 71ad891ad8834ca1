//! What hmx handed out to C, so that `hmx_free` frees only that, once.
//!
//! The registry knows no C type: each implements [`Owned`] in its own file,
//! and a lookup clones the value's `Arc` out, so the lock is never held while
//! a caller works on it.

use std::any::Any;
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use crate::Error;
use crate::sync::lock;

/// A value hmx hands to C, found again by the address C holds.
pub(crate) trait Owned: Any + Send + Sync {
    /// The address C sees; it stays put while the value lives (in its `Arc`).
    fn address(&self) -> usize;
}

// A B-tree, not a hash map: a hash table's pointer points into the middle of
// its allocation, which valgrind reports as "possibly lost" at exit.
static LIVE: Mutex<BTreeMap<usize, Arc<dyn Any + Send + Sync>>> = Mutex::new(BTreeMap::new());

/// Records `value` and returns the address to give C.
pub(crate) fn hand_out<T: Owned>(value: T) -> usize {
    let value = Arc::new(value);
    let address = value.address();
    lock(&LIVE).insert(address, value);
    address
}

/// The `T` at `address`, if hmx handed it out and it is not freed.
pub(crate) fn get<T: Owned>(address: usize) -> Option<Arc<T>> {
    // The lock is released at the end of this statement.
    let value = lock(&LIVE).get(&address).cloned();
    value?.downcast().ok()
}

/// The `T` behind the argument `ptr` called `name`: NULL, or anything but a
/// live `T` (a `kind`), is `InvalidArgument`.
pub(crate) fn arg<T: Owned, P>(ptr: *const P, name: &str, kind: &str) -> Result<Arc<T>, Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    get(ptr as usize).ok_or_else(|| Error::invalid(format!("{name} is not a live {kind}")))
}

/// Frees anything hmx returned: a token string, a device list, a client, a
/// thermostat, a site, a signed request body or reply, JSON text. Token, key
/// and password bytes are wiped first. NULL, a pointer
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
        let handle = lock(&LIVE).remove(&(ptr as usize));
        // Dropped here, outside the lock (wiping a large list takes a while),
        // or by a call still using it when that call ends.
        drop(handle);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Probe(u8);

    impl Owned for Probe {
        fn address(&self) -> usize {
            std::ptr::from_ref(self) as usize
        }
    }

    struct Other;

    impl Owned for Other {
        fn address(&self) -> usize {
            0
        }
    }

    #[test]
    fn lookups_find_only_the_live_type_and_outlive_a_free() {
        let address = hand_out(Probe(7));
        assert!(get::<Other>(address).is_none());
        let probe = get::<Probe>(address).expect("live");
        assert_eq!(probe.0, 7);
        unsafe { hmx_free(address as *mut c_void) };
        assert!(get::<Probe>(address).is_none());
        // The caller that looked it up still holds it.
        assert_eq!(probe.0, 7);
        let dead = address as *const u8;
        assert!(arg::<Probe, u8>(dead, "p", "probe").is_err());
        assert!(arg::<Probe, u8>(std::ptr::null(), "p", "probe").is_err());
    }
}
