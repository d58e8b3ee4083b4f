//! Subcommands of the `minik8s` binary.

pub mod compare;
pub mod completion;
pub mod controller_manager;
pub mod crd;
mod describe;
pub mod explain;
pub mod rollout;
pub mod scheduler;
pub mod selftest;
pub mod version;

use clap::{Parser, Subcommand};

/// Kubernetes' workload controllers and a scheduler, reimplemented as custom resources.
#[derive(Parser, Debug)]
#[command(name = "minik8s", version, about)]
pub struct Cli {
    /// Path to the kubeconfig file to use (default: $KUBECONFIG, else ~/.kube/config; in a
    /// pod, its service account).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the CustomResourceDefinitions, or write them to a directory.
    Crd(crd::CrdArgs),
    /// Run the minik8s controllers against the cluster in KUBECONFIG (or in-cluster).
    ControllerManager(controller_manager::ControllerManagerArgs),
    /// Run minik8s-scheduler, a secondary scheduler with kube-scheduler's default profile.
    Scheduler(scheduler::SchedulerArgs),
    /// Explain what minik8s-scheduler would decide for a pod, node by node.
    Explain(explain::ExplainArgs),
    /// Manage the rollout of a MiniDeployment, as `kubectl rollout` does for Deployments.
    #[command(subcommand)]
    Rollout(rollout::Rollout),
    /// Drive a built-in Deployment or ReplicaSet and its minik8s twin through the same steps
    /// at the same time, and show how they differ.
    Compare(compare::CompareArgs),
    /// Update a field of a MiniDeployment's template.
    #[command(subcommand)]
    Set(SetCommand),
    /// Create a MiniReplicaSet of one pod, wait until it is ready, remove it (the chart's
    /// `helm test`).
    Selftest(selftest::SelftestArgs),
    /// Print the client, API server and in-cluster minik8s versions.
    Version(version::VersionArgs),
    /// Print the shell completion script for bash, zsh or fish.
    Completion(completion::CompletionArgs),
    /// kubectl's plugin completion protocol (see `plugins/kubectl_complete-minik8s`).
    #[command(name = "__complete", hide = true)]
    Complete(completion::CompleteArgs),
}

#[derive(Subcommand, Debug)]
pub enum SetCommand {
    /// Update container images, as `kubectl set image` does for Deployments.
    Image(rollout::SetImage),
}

/// What a subcommand returns; errors are reported to the user as one line.
pub type Result = std::result::Result<(), Error>;
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The line kubectl would print for `err` (its `cmdutil.CheckErr`): an API error as
/// `Error from server (NotFound): minideployments.minik8s.dev "web" not found`, anything else
/// after one `error: `.
pub fn error_message(err: &Error) -> String {
    if let Some(kube::Error::Api(status)) = err.downcast_ref::<kube::Error>() {
        return match status.reason.as_str() {
            "Unauthorized" => format!(
                "error: You must be logged in to the server ({})",
                status.message
            ),
            "" => format!("Error from server: {}", status.message),
            reason => format!("Error from server ({reason}): {}", status.message),
        };
    }
    let message = err.to_string();
    if message.starts_with("error: ") {
        message
    } else {
        format!("error: {message}")
    }
}

impl Cli {
    pub async fn run(self) -> Result {
        crate::runtime::kubeconfig::select(crate::runtime::kubeconfig::Selection {
            kubeconfig: self.kubeconfig,
            context: self.context,
        });
        match self.command {
            Command::Crd(args) => crd::run(args),
            Command::ControllerManager(args) => controller_manager::run(args).await,
            Command::Scheduler(args) => scheduler::run(args).await,
            Command::Explain(args) => explain::run(args).await,
            Command::Rollout(command) => rollout::run(command).await,
            Command::Set(SetCommand::Image(args)) => rollout::set_image(args).await,
            Command::Compare(args) => compare::run(args).await,
            Command::Selftest(args) => selftest::run(args).await,
            Command::Version(args) => version::run(args).await,
            Command::Completion(args) => completion::run(args),
            Command::Complete(args) => completion::complete(args),
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

    #[test]
    fn errors_read_as_kubectl_prints_them() {
        let not_found = kube::Error::Api(Box::new(kube::core::Status::failure(
            "minideployments.minik8s.dev \"web\" not found",
            "NotFound",
        )));
        assert_eq!(
            super::error_message(&not_found.into()),
            "Error from server (NotFound): minideployments.minik8s.dev \"web\" not found"
        );
        assert_eq!(super::error_message(&"boom".into()), "error: boom");
        assert_eq!(super::error_message(&"error: boom".into()), "error: boom");
    }
}
