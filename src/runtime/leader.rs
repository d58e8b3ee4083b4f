//! Leader election over a Lease (kube-lease-manager): every replica keeps its caches warm,
//! only the lease holder runs the controllers, which are the only writers. The lease is
//! released on shutdown, so a successor takes over at once instead of after it expires.

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// kube-controller-manager's defaults: a 15 s lease, renewed well before it ends.
pub const LEASE_SECONDS: u64 = 15;
const GRACE_SECONDS: u64 = 5;

#[derive(Clone, Debug)]
pub struct Election {
    pub namespace: String,
    pub lease: String,
    /// Unique per replica: the pod name in a cluster.
    pub identity: String,
}

/// How [`Leadership::acquire`] ended.
pub enum Acquired {
    /// No election: this replica does the work.
    NoElection,
    Leader(Leadership),
    /// Shut down before the lease was held.
    ShutDown,
}

impl Acquired {
    /// Completes when the lease is lost; never without an election.
    pub async fn lost(&mut self) {
        match self {
            Acquired::Leader(leadership) => leadership.lost().await,
            _ => std::future::pending().await,
        }
    }

    /// Gives the lease up, if held.
    pub async fn release(self) {
        if let Acquired::Leader(leadership) = self {
            leadership.release().await;
        }
    }
}

/// A running election: holds the lease while it can.
pub struct Leadership {
    state: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
    identity: String,
}

impl Leadership {
    pub async fn start(client: Client, election: &Election) -> kube_lease_manager::Result<Self> {
        let manager = LeaseManagerBuilder::new(client, &election.lease)
            .with_namespace(&election.namespace)
            .with_parameters(LeaseParams::new(
                &election.identity,
                LEASE_SECONDS,
                GRACE_SECONDS,
            ))
            .build()
            .await?;
        let (state, task) = manager.watch().await;
        Ok(Self {
            state,
            task,
            identity: election.identity.clone(),
        })
    }

    /// Completes once this replica holds the lease.
    pub async fn acquired(&mut self) {
        tracing::info!(identity = %self.identity, "waiting to become the leader");
        let _ = self.state.wait_for(|leader| *leader).await;
        tracing::info!(identity = %self.identity, "became the leader");
    }

    /// Completes when this replica loses the lease (or the election task ends).
    pub async fn lost(&mut self) {
        let _ = self.state.wait_for(|leader| !*leader).await;
    }

    /// With an election: starts it and waits for the lease. None without one, or when
    /// `shutdown` completes first (the election is then given up).
    pub async fn acquire(
        election: Option<(&Election, Client)>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> kube_lease_manager::Result<Acquired> {
        let Some((election, client)) = election else {
            return Ok(Acquired::NoElection);
        };
        let mut leadership = Self::start(client, election).await?;
        tokio::select! {
            () = leadership.acquired() => Ok(Acquired::Leader(leadership)),
            () = shutdown => {
                leadership.release().await;
                Ok(Acquired::ShutDown)
            }
        }
    }

    /// Gives the lease up, so another replica can take over at once.
    pub async fn release(self) {
        drop(self.state);
        match self.task.await {
            Ok(Ok(_)) => tracing::info!(identity = %self.identity, "lease released"),
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not release the lease; it expires by itself")
            }
            Err(error) => tracing::warn!(%error, "election task failed"),
        }
    }
}
