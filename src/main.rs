//! deskmail's entry point: everything lives in the library.

fn main() {
    std::process::exit(deskmail::cli::main());
}
