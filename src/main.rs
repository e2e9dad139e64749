//! The `reach` binary: parse arguments, run, map errors to exit codes.

use clap::Parser;

/// mimalloc: the scheduler and the importer allocate and free millions of
/// small records; glibc's allocator spent about a third of a 1M-recipient
/// scheduler run in malloc/free (consolidating freed chunks).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// the allocator tuned as the process loads, before the first allocation
reach::tune_allocator_at_load!();

fn main() {
    #[cfg(not(target_os = "linux"))]
    reach::allocator::tune();
    std::panic::set_hook(Box::new(|info| {
        if reach::error::panic_is_caught() {
            return; // a library's, on a damaged file: said as an error
        }
        let p = info.payload();
        let msg =
            p.downcast_ref::<&str>().copied().or(p.downcast_ref::<String>().map(String::as_str)).unwrap_or("panic");
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("reach: internal error: {msg}{at} (this is a bug; please report it with the command that caused it)");
    }));
    let cli = reach::cli::Cli::parse();
    match reach::cli::run(cli) {
        Ok(()) => {}
        Err(e) => {
            if e.message.contains("Broken pipe") {
                std::process::exit(0);
            }
            eprintln!("error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
