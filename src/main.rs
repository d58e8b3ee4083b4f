use clap::Parser;

use minik8s::cli::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match Cli::parse().run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", minik8s::cli::error_message(&err));
            std::process::ExitCode::FAILURE
        }
    }
}
