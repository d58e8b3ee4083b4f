//! Subcommands of the `minik8s` binary.

pub mod controller_manager;
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
    /// Run the minik8s controllers against the cluster in KUBECONFIG (or in-cluster).
    ControllerManager(controller_manager::ControllerManagerArgs),
}

/// What a subcommand returns; errors are reported to the user as one line.
pub type Result = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

impl Cli {
    pub async fn run(self) -> Result {
        match self.command {
            Command::Crd(args) => crd::run(args),
            Command::ControllerManager(args) => controller_manager::run(args).await,
        }
    }
}
