//! The `mysfits` binary: parse flags, set up logging, run, turn the outcome into an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mysfits::cli::Cli::parse();
    mysfits::init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::from(mysfits::error::EXIT_ERROR);
        }
    };
    match runtime.block_on(mysfits::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", error.report());
            ExitCode::from(error.exit_code())
        }
    }
}
