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
    // Except where asked (`huge_pages_for`; Linux 6.18's
    // `PR_THP_DISABLE_EXCEPT_ADVISED`; older kernels refuse the flag and
    // get the plain switch).
    // SAFETY: a numeric allocator option and a process flag, before any thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
        if libc::prctl(libc::PR_SET_THP_DISABLE, 1, PR_THP_DISABLE_EXCEPT_ADVISED, 0, 0) != 0 {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}

/// Declares an ELF constructor that calls `tune` as the process loads,
/// before the standard library's start-up makes the first allocation:
/// tuned from `main`, mimalloc had already reserved its first arena with
/// transparent huge pages asked for, and the first touches faulted in two
/// 2 MiB pages, zeroed whole: a fifth of the CPU of some counts from a
/// fresh process (BENCHMARKS.md "Allocator tuned as the process loads").
/// For programs that declare mimalloc their global allocator: the
/// `reach` binary and the engine benchmark, which must run as it does.
/// Elsewhere than Linux, call `tune` first thing in `main` instead.
#[macro_export]
macro_rules! tune_allocator_at_load {
    () => {
        #[cfg(target_os = "linux")]
        #[used]
        #[unsafe(link_section = ".init_array")]
        static TUNE_AT_LOAD: extern "C" fn() = {
            extern "C" fn tune_at_load() {
                $crate::allocator::tune();
            }
            tune_at_load
        };
    };
}

/// `PR_THP_DISABLE_EXCEPT_ADVISED` of `linux/prctl.h` (Linux 6.18).
const PR_THP_DISABLE_EXCEPT_ADVISED: libc::c_ulong = 1 << 1;

/// A vector of `n` copies of `value` whose memory is asked for in 2 MiB
/// pages when large (`madvise(MADV_HUGEPAGE)` before its first touch): for
/// tables read at random all over, such as the key tables of an import,
/// where every look-up would otherwise miss the TLB. The kernel may say
/// no; the vector is the same either way.
pub fn huge_pages_for<T: Clone>(n: usize, value: T) -> Vec<T> {
    const HUGE: usize = 2 << 20;
    let mut v: Vec<T> = Vec::with_capacity(n);
    let bytes = n.saturating_mul(std::mem::size_of::<T>());
    if bytes >= 2 * HUGE {
        let start = v.as_ptr() as usize;
        let (from, to) = (start.next_multiple_of(HUGE), (start + bytes) / HUGE * HUGE);
        if to > from {
            // SAFETY: advice on whole pages inside the vector's own
            // allocation, none of it touched yet; it changes no contents.
            unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
        }
    }
    v.resize(n, value);
    v
}

#[cfg(test)]
mod tests {
    /// Small or large, the vector holds `n` copies of the value.
    #[test]
    fn huge_pages_for_fills_every_slot() {
        assert!(super::huge_pages_for(0, 7u8).is_empty());
        assert_eq!(super::huge_pages_for(3, 7u8), vec![7u8; 3]);
        let big = super::huge_pages_for(3 << 20, 0xABu64);
        assert_eq!(big.len(), 3 << 20);
        assert!(big.iter().all(|&x| x == 0xAB));
    }

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
