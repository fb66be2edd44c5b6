//! The `standby` binary.

fn main() {
    std::process::exit(standby::cli::main());
}
