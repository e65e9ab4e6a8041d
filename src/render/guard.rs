//! Containment of panics inside third-party codecs: a corrupt compressed stream must fail its
//! frame with a reason, not end the run, and must not print a panic report meant for our bugs.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Whether this thread is inside [`catch_codec_panic`].
    static IN_CODEC: Cell<bool> = const { Cell::new(false) };
}

/// Runs `codec`, turning a panic into `Err` with its message. Panics elsewhere (and on other
/// threads) still reach the previous panic hook, so our own bugs stay loud.
pub fn catch_codec_panic<T>(codec: impl FnOnce() -> T) -> Result<T, String> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_CODEC.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = IN_CODEC.with(|flag| flag.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(codec));
    IN_CODEC.with(|flag| flag.set(outer));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_codec_panic_becomes_an_error_and_the_thread_goes_on() {
        assert_eq!(catch_codec_panic(|| 7), Ok(7));
        let caught = catch_codec_panic(|| -> u8 { panic!("bad marker") });
        assert_eq!(caught, Err("bad marker".to_string()));
        assert!(!IN_CODEC.with(Cell::get));
    }
}
