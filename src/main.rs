//! deskmail's entry point: everything lives in the library.

fn main() {
    tune_malloc();
    std::process::exit(deskmail::cli::main());
}

/// Keep glibc from holding on to freed ingest batches: a fixed mmap
/// threshold returns big buffers (batches of mail, parse scratch) to the
/// system when freed instead of letting them settle in the heap, and a
/// few arenas stop every worker thread from growing a heap of its own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    // SAFETY: mallopt only changes allocator settings; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}
