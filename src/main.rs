//! The `mysfits` binary: parse flags, set up logging, run, turn the outcome into an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = mysfits::cli::parse();
    mysfits::init_tracing(cli.global.verbose);
    let output = cli.global.output;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            let error = mysfits::Error::io("could not start the async runtime", error);
            return mysfits::commands::fail(output, &error);
        }
    };
    match runtime.block_on(mysfits::run(cli)) {
        Ok(code) => code,
        Err(error) => mysfits::commands::fail(output, &error),
    }
}
