//! `onrecord`: see `onrecord --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ONRECORD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match onrecord::cli::run() {
        Ok(code) => code,
        Err(error) => {
            // One line: the error and its causes.
            let mut line = format!("onrecord: {error}");
            for cause in error.chain().skip(1) {
                line.push_str(&format!(": {cause}"));
            }
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}
