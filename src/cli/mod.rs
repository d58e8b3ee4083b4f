//! Subcommands of the `minik8s` binary.

pub mod controller_manager;
pub mod crd;
pub mod rollout;

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
    /// Manage the rollout of a MiniDeployment, as `kubectl rollout` does for Deployments.
    #[command(subcommand)]
    Rollout(rollout::Rollout),
    /// Update a field of a MiniDeployment's template.
    #[command(subcommand)]
    Set(SetCommand),
}

#[derive(Subcommand, Debug)]
pub enum SetCommand {
    /// Update container images, as `kubectl set image` does for Deployments.
    Image(rollout::SetImage),
}

/// What a subcommand returns; errors are reported to the user as one line.
pub type Result = std::result::Result<(), Error>;
pub type Error = Box<dyn std::error::Error + Send + Sync>;

impl Cli {
    pub async fn run(self) -> Result {
        match self.command {
            Command::Crd(args) => crd::run(args),
            Command::ControllerManager(args) => controller_manager::run(args).await,
            Command::Rollout(command) => rollout::run(command).await,
            Command::Set(SetCommand::Image(args)) => rollout::set_image(args).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
