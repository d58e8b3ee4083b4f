//! Leader election over a Lease, as client-go's `leaderelection` does it: every replica keeps
//! its caches warm, only the lease holder runs the controllers, which are the only writers.
//! The lease is released on shutdown, so a successor takes over at once instead of after it
//! expires.
//!
//! Every write of the Lease is an update carrying the resourceVersion last read, as
//! client-go's `LeaseLock.Update`, so a write that reaches the API server late (held by a
//! partition, say) fails with a conflict instead of moving `renewTime` back under the next
//! holder, which would let a third replica take over while the holder still writes. A lease
//! held by another counts as valid for the lease's duration from when this replica last saw
//! it change, by its own monotonic clock, so clock skew between replicas does not matter.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::fence::LeaseFence;

/// kube-controller-manager's defaults: a 15 s lease, given up when not renewed for 10 s,
/// tried every 2 s.
pub const LEASE_SECONDS: u64 = 15;
const RENEW_DEADLINE: Duration = Duration::from_secs(10);
const RETRY_PERIOD: Duration = Duration::from_secs(2);
/// client-go's `JitterFactor` for the acquire loop.
const JITTER: f64 = 1.2;
/// The longest a standby can take to hold a lease whose holder died: the holder's last
/// renewal may be seen one try late, counts for the lease's duration from then, and the
/// takeover comes at the try after that (each try up to `RETRY_PERIOD × (1 + JITTER)` apart).
pub const TAKEOVER_AT_MOST: Duration =
    Duration::from_millis(LEASE_SECONDS * 1000 + 2 * LONGEST_TRY_MS);
const LONGEST_TRY_MS: u64 = 4400;

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
            fence: LeaseFence::new(namespace, lease, identity),
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

/// client-go's `LeaderElector`: the Lease as last read or written, and the holder record as
/// last observed, with when.
struct Elector {
    leases: Api<Lease>,
    name: String,
    identity: String,
    /// Its resourceVersion is the precondition of the next update.
    lease: Option<Lease>,
    observed: LeaseSpec,
    observed_at: Option<Instant>,
}

impl Elector {
    fn new(client: Client, election: &Election) -> Self {
        Self {
            leases: Api::namespaced(client, &election.namespace),
            name: election.lease.clone(),
            identity: election.identity.clone(),
            lease: None,
            observed: LeaseSpec::default(),
            observed_at: None,
        }
    }

    fn is_leader(&self) -> bool {
        self.observed.holder_identity.as_deref() == Some(self.identity.as_str())
    }

    /// The observed record is still valid: seen less than its duration ago.
    fn is_lease_valid(&self, now: Instant) -> bool {
        let seconds = self.observed.lease_duration_seconds.unwrap_or(0).max(0) as u64;
        self.observed_at
            .is_some_and(|at| at + Duration::from_secs(seconds) > now)
    }

    fn observe(&mut self, record: LeaseSpec) {
        self.observed = record;
        self.observed_at = Some(Instant::now());
    }

    /// client-go's `tryAcquireOrRenew`: true when this replica holds the lease afterwards.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let stamp = MicroTime(Timestamp::now());
        let mut record = LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_SECONDS as i32),
            acquire_time: Some(stamp.clone()),
            renew_time: Some(stamp),
            lease_transitions: self.observed.lease_transitions,
            ..LeaseSpec::default()
        };
        // 1. The fast path: a leader renews without reading first.
        if let Some(lease) = self.lease.clone()
            && self.is_leader()
            && self.is_lease_valid(Instant::now())
        {
            record.acquire_time = self.observed.acquire_time.clone();
            match self.update(lease, record.clone()).await {
                Ok(()) => return Ok(true),
                Err(error) => {
                    tracing::debug!(%error, "renewal on the fast path failed; reading the lease")
                }
            }
        }
        // 2. Read the lease, or create it.
        let Some(lease) = self.leases.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(record.clone()),
            };
            return match self.leases.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.lease = Some(created);
                    self.observe(record);
                    Ok(true)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(error) => Err(error),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec != self.observed || self.observed_at.is_none() {
            self.observe(spec);
        }
        self.lease = Some(lease.clone());
        // 3. Held by another and not expired by this replica's clock: wait.
        let held = self
            .observed
            .holder_identity
            .as_deref()
            .is_some_and(|h| !h.is_empty());
        if held && self.is_lease_valid(Instant::now()) && !self.is_leader() {
            return Ok(false);
        }
        // 4. Take it over, or renew it.
        if self.is_leader() {
            record.acquire_time = self.observed.acquire_time.clone();
            record.lease_transitions = self.observed.lease_transitions;
        } else {
            record.lease_transitions = Some(self.observed.lease_transitions.unwrap_or(0) + 1);
        }
        self.update(lease, record).await?;
        Ok(true)
    }

    /// Replaces `lease`'s spec with `record`, on the condition that the lease is still at
    /// the version read (its resourceVersion goes with it).
    async fn update(&mut self, mut lease: Lease, record: LeaseSpec) -> Result<(), kube::Error> {
        lease.spec = Some(record.clone());
        let updated = self
            .leases
            .replace(&self.name, &PostParams::default(), &lease)
            .await?;
        self.lease = Some(updated);
        self.observe(record);
        Ok(())
    }

    /// client-go's `release`: an empty holder and a 1 s lease, so a standby takes over at
    /// its next try.
    async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(lease) = self.lease.clone().filter(|_| self.is_leader()) else {
            return Ok(());
        };
        let stamp = MicroTime(Timestamp::now());
        let record = LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            acquire_time: Some(stamp.clone()),
            renew_time: Some(stamp),
            lease_transitions: self.observed.lease_transitions,
            ..LeaseSpec::default()
        };
        self.update(lease, record).await
    }

    /// Tries every retry period (with jitter) until the lease is held or `stop` fires.
    async fn acquire(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return true,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, lease = %self.name, "could not read or write the leader lease; retrying")
                }
            }
            let wait = RETRY_PERIOD.mul_f64(1.0 + fastrand::f64() * JITTER);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|stop| *stop) => return false,
            }
        }
    }

    /// Renews every retry period; returns when a renewal has not succeeded for the renew
    /// deadline (the lease is lost) or when `stop` fires.
    async fn renew(&mut self, stop: &mut watch::Receiver<bool>) -> Renewal {
        loop {
            let deadline = Instant::now() + RENEW_DEADLINE;
            let renewed = loop {
                let attempt = tokio::time::timeout_at(deadline, self.try_acquire_or_renew());
                tokio::select! {
                    outcome = attempt => match outcome {
                        Ok(Ok(true)) => break true,
                        // Another replica holds it, still valid: lost now. (client-go polls on
                        // until the deadline; its fence-less writers carry on meanwhile. Here
                        // the fence is already closed, and leaving at once lets a fresh start
                        // compete again sooner.)
                        Ok(Ok(false)) | Err(_) => break false,
                        Ok(Err(error)) => tracing::warn!(%error, lease = %self.name, "could not renew the leader lease"),
                    },
                    _ = stop.wait_for(|stop| *stop) => return Renewal::Stopped,
                }
                if Instant::now() + RETRY_PERIOD >= deadline {
                    break false;
                }
                tokio::time::sleep(RETRY_PERIOD).await;
            };
            if !renewed {
                return Renewal::Lost;
            }
            tokio::select! {
                () = tokio::time::sleep(RETRY_PERIOD) => {}
                _ = stop.wait_for(|stop| *stop) => return Renewal::Stopped,
            }
        }
    }
}

enum Renewal {
    Lost,
    Stopped,
}

/// A running election: holds the lease while it can.
pub struct Leadership {
    /// Whether this replica holds the lease.
    state: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    election: Election,
}

impl Leadership {
    pub fn start(client: Client, election: &Election) -> Self {
        let (leading, state) = watch::channel(false);
        let (stop, mut stopped) = watch::channel(false);
        let mut elector = Elector::new(client, election);
        let identity = election.identity.clone();
        let lease = election.lease.clone();
        let task = tokio::spawn(async move {
            let metrics = super::metrics::global();
            metrics.leading(&lease, false);
            if !elector.acquire(&mut stopped).await {
                return;
            }
            leading.send_replace(true);
            metrics.leading(&lease, true);
            let renewal = elector.renew(&mut stopped).await;
            leading.send_replace(false);
            metrics.leading(&lease, false);
            match renewal {
                Renewal::Lost => {
                    tracing::warn!(%identity, "the leader lease was not renewed in time; it is lost")
                }
                Renewal::Stopped => match elector.release().await {
                    Ok(()) => tracing::info!(%identity, "lease released"),
                    Err(error) => {
                        tracing::warn!(%error, "could not release the lease; it expires by itself")
                    }
                },
            }
        });
        Self {
            state,
            stop,
            task,
            election: election.clone(),
        }
    }

    /// Completes once this replica holds the lease.
    pub async fn acquired(&mut self) {
        let identity = &self.election.identity;
        tracing::info!(%identity, "waiting to become the leader");
        let _ = self.state.wait_for(|leader| *leader).await;
        tracing::info!(%identity, "became the leader");
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
    ) -> Acquired {
        let Some((election, client)) = election else {
            return Acquired::NoElection;
        };
        let mut leadership = Self::start(client, election);
        tokio::select! {
            () = leadership.acquired() => Acquired::Leader(Box::new(leadership)),
            () = shutdown => {
                leadership.release().await;
                Acquired::ShutDown
            }
        }
    }

    /// Gives the lease up, so another replica can take over at once.
    pub async fn release(self) {
        self.election.fence.close();
        self.stop.send_replace(true);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "election task failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_takeover_bound_follows_the_retry_period_and_jitter() {
        assert_eq!(
            Duration::from_millis(LONGEST_TRY_MS),
            RETRY_PERIOD.mul_f64(1.0 + JITTER)
        );
        assert_eq!(TAKEOVER_AT_MOST, Duration::from_millis(23_800));
    }
}
