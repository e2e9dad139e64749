//! What the benchmarks read of their own process: a figure of
//! /proc/self/status in kB ("VmHWM:" the peak resident set, "VmRSS:" the
//! current one; 0 where there is none).

pub fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        })
        .unwrap_or(0)
}
