//! The `standby` binary: arguments, commands and views over the `standby_engine` library.

mod cli;

fn main() {
    // Exit quietly when the reader of our output goes away (`standby status | head`), as
    // command-line tools do, instead of panicking on a broken pipe.
    // SAFETY: called before any thread starts; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(cli::main());
}
