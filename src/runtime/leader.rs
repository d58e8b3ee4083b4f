//! Leader election over a Lease (kube-lease-manager): every replica keeps its caches warm,
//! only the lease holder runs the controllers, which are the only writers. The lease is
//! released on shutdown, so a successor takes over at once instead of after it expires.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::{Api, Client};
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::fence::LeaseFence;

/// kube-controller-manager's defaults: a 15 s lease, renewed well before it ends.
pub const LEASE_SECONDS: u64 = 15;
const GRACE_SECONDS: u64 = 5;

#[derive(Clone, Debug)]
pub struct Election {
    pub namespace: String,
    pub lease: String,
    /// Unique per replica: the pod name in a cluster.
    pub identity: String,
    /// Shared with every client of the process: writes go out only while the lease is held.
    pub fence: LeaseFence,
}

impl Election {
    pub fn new(namespace: &str, lease: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            lease: lease.to_owned(),
            identity: identity.to_owned(),
            fence: LeaseFence::new(namespace, lease),
        }
    }
}

/// How [`Leadership::acquire`] ended.
pub enum Acquired {
    /// No election: this replica does the work.
    NoElection,
    Leader(Box<Leadership>),
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
    election: Election,
    leases: Api<Lease>,
}

impl Leadership {
    pub async fn start(client: Client, election: &Election) -> kube_lease_manager::Result<Self> {
        let leases = Api::namespaced(client.clone(), &election.namespace);
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
            election: election.clone(),
            leases,
        })
    }

    /// Completes once this replica holds the lease.
    pub async fn acquired(&mut self) {
        let identity = &self.election.identity;
        tracing::info!(%identity, "waiting to become the leader");
        let _ = self.state.wait_for(|leader| *leader).await;
        self.open_fence_from_the_lease().await;
        tracing::info!(%identity, "became the leader");
    }

    /// A lease that already named this replica (a restart under the same name) was taken
    /// over without a write the fence could see: open it for what is left of the lease as
    /// the Lease records it. If it cannot be read, the next renewal opens the fence.
    async fn open_fence_from_the_lease(&self) {
        let read = Instant::now();
        let Ok(lease) = self.leases.get(&self.election.lease).await else {
            return;
        };
        let Some(spec) = lease.spec else { return };
        let (Some(holder), Some(renewed), Some(seconds)) = (
            spec.holder_identity,
            spec.renew_time,
            spec.lease_duration_seconds,
        ) else {
            return;
        };
        if holder != self.election.identity {
            return;
        }
        let ends = renewed.0 + k8s_openapi::jiff::SignedDuration::from_secs(i64::from(seconds));
        let margin = Duration::from_secs(LEASE_SECONDS) - super::fence::HELD_FOR;
        if let Ok(left) = Duration::try_from(ends.duration_since(Timestamp::now()))
            && let Some(left) = left.checked_sub(margin)
        {
            self.election.fence.held_until(read + left);
        }
    }

    /// Completes when this replica loses the lease (or the election task ends); from then on
    /// nothing it sends is written.
    pub async fn lost(&mut self) {
        let _ = self.state.wait_for(|leader| !*leader).await;
        self.election.fence.close();
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
            () = leadership.acquired() => Ok(Acquired::Leader(Box::new(leadership))),
            () = shutdown => {
                leadership.release().await;
                Ok(Acquired::ShutDown)
            }
        }
    }

    /// Gives the lease up, so another replica can take over at once.
    pub async fn release(self) {
        self.election.fence.close();
        drop(self.state);
        match self.task.await {
            Ok(Ok(_)) => tracing::info!(identity = %self.election.identity, "lease released"),
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not release the lease; it expires by itself")
            }
            Err(error) => tracing::warn!(%error, "election task failed"),
        }
    }
}
