use clap::Parser;

use minik8s::cli::Cli;

fn main() -> std::process::ExitCode {
    match Cli::parse().run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
