//! What the fuzz targets share: the demo store and a session over it, made
//! once per fuzzing process in a temporary directory. The targets
//! themselves are in `reach::fuzzing`, which the regression tests replay.

use reach::app::{Clock, Session};
use reach::store::Store;
use std::sync::{Arc, OnceLock};

struct Demo {
    _dir: tempfile::TempDir,
    session: Session,
}

fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = reach::fuzzing::demo_store(&dir.path().join("fuzz.db")).expect("the demo store");
        let session =
            Session::over(Arc::new(store), reach::config::Config::default(), Clock::Fixed(reach::fuzzing::NOW));
        Demo { _dir: dir, session }
    })
}

/// The demo store (see `reach::fuzzing::demo_store`).
pub fn store() -> &'static Store {
    demo().session.store()
}

/// A session over the demo store, at `reach::fuzzing::NOW`.
pub fn session() -> &'static Session {
    &demo().session
}

/// libFuzzer's panic hook aborts on every panic; a panic reach catches on
/// purpose (`reach::error::catching_panics`, around the `parquet` crate,
/// which asserts on some damaged files) is passed over, so that what the
/// fuzzer reports is what a user would see as a crash.
pub fn pass_over_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !reach::error::panic_is_caught() {
                previous(info)
            }
        }));
    });
}
