//! deskmail's entry point: everything lives in the library.

// Sync parses and stores many small objects on several threads; mimalloc
// keeps that allocation churn cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(deskmail::cli::main());
}
