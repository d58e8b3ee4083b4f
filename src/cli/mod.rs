//! Subcommands of the `minik8s` binary.

pub mod crd;

use clap::{Parser, Subcommand};

/// Kubernetes' workload controllers and a scheduler, reimplemented as custom resources.
#[derive(Parser, Debug)]
#[command(name = "minik8s", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the CustomResourceDefinitions, or write them to a directory.
    Crd(crd::CrdArgs),
}

impl Cli {
    pub fn run(self) -> anyhow_free::Result {
        match self.command {
            Command::Crd(args) => crd::run(args),
        }
    }
}

/// Errors of the command line, reported to the user as one line each.
pub mod anyhow_free {
    pub type Result = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;
}
