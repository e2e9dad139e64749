//! Two pieces of work at once: the one helper behind every "this half on
//! a second thread, that half here" in the store and the engine.

/// Runs `aside` on a scoped thread and `here` on this one, and returns
/// both results. A panic on the other thread is raised again here, as if
/// `aside` had run on this thread.
pub fn both<A: Send, B>(aside: impl FnOnce() -> A + Send, here: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|s| {
        let other = s.spawn(aside);
        let b = here();
        (other.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), b)
    })
}

#[cfg(test)]
mod tests {
    use super::both;

    #[test]
    fn both_results_in_order() {
        let v: Vec<u64> = (1..=1000).collect();
        let (a, b) = both(|| v[..500].iter().sum::<u64>(), || v[500..].iter().sum::<u64>());
        assert_eq!((a, b), (125_250, 375_250));
    }

    #[test]
    fn a_panic_aside_is_raised_here() {
        let caught = std::panic::catch_unwind(|| both(|| panic!("aside failed"), || 1));
        let p = caught.expect_err("the panic comes back");
        assert_eq!(p.downcast_ref::<&str>(), Some(&"aside failed"));
    }
}
