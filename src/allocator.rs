//! How the `reach` binary tunes its allocator (mimalloc, declared as the
//! global allocator by the binary and by the engine benchmark, so the
//! benchmark measures what the binary runs). Not declared here: the fuzz
//! targets link this library under AddressSanitizer, which must see every
//! allocation.

/// mimalloc's `mi_option_purge_delay` (its index in `mi_option_e`, mimalloc 3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// mimalloc's `mi_option_allow_thp` (its index in `mi_option_e`, mimalloc 3).
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Sets mimalloc's options; call before the first allocation and before
/// any thread exists (the binary calls it from an ELF constructor, as the
/// process loads).
pub fn tune() {
    // Never hand freed memory back to the OS: a bulk import frees and
    // reallocates megabytes of event blocks every few milliseconds, and
    // returning them made the kernel zero the same pages again and again
    // (14,450 page faults against 775 on a 10M-event import); a count at
    // ten million contacts frees and takes again 100-200 MB of
    // per-contact arrays. reach commands are short-lived; the peak is
    // what they hold anyway.
    // SAFETY: sets a numeric allocator option before any thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // No transparent huge pages: mimalloc asks for them on its arenas, and
    // then every first touch of a sparsely used 2 MiB region has the kernel
    // zero all of it. In the 1M-timer journey step that was two thirds of
    // the process's CPU (`clear_page_erms` under `do_huge_pmd_anonymous_page`)
    // and the step took 12-17 s against 7.5-8.7 s with them off
    // (BENCHMARKS.md "Journeys"). The option stops mimalloc asking; the
    // prctl covers any arena reserved before this call (a caller that
    // tunes late, like the engine benchmark).
    // SAFETY: a numeric allocator option and a process flag, before any thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    /// The index really is the purge delay: its documented default is 1000 ms.
    #[test]
    fn purge_delay_option_index() {
        // SAFETY: reads an allocator option.
        let v = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert!(v == 1000 || v == -1, "option 15 is {v}");
    }

    /// The index really is `allow_thp`: it follows `page_cross_thread_max_reclaim`
    /// (32 by default in options.c) and its own default is 1.
    #[test]
    fn allow_thp_option_index() {
        // SAFETY: reads allocator options.
        let (before, v) = unsafe {
            (
                libmimalloc_sys::mi_option_get(super::MI_OPTION_ALLOW_THP - 1),
                libmimalloc_sys::mi_option_get(super::MI_OPTION_ALLOW_THP),
            )
        };
        assert_eq!(before, 32, "option 42 (page_cross_thread_max_reclaim)");
        assert_eq!(v, 1, "option 43 (allow_thp)");
    }
}
