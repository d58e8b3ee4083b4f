//! The main loop every controller shares: kube-runtime's Controller as the work queue
//! (deduplicated keys, one sync per object at a time, N workers), fed by changes of the
//! object itself and by triggers from the shared informers; objects that cannot be read are
//! skipped; failed syncs back off per object; sync counts and durations go to the metrics.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use futures::future::BoxFuture;
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::backoff::Backoff;
use crate::runtime::metrics;

/// A controller's context gives access to its backoff.
pub trait HasBackoff {
    fn backoff(&self) -> &Backoff;
}

/// Sync requests from the informers' handlers.
pub type Triggers<K> = UnboundedReceiver<ObjectRef<DeserializeGuard<K>>>;

/// One sync of one object.
pub type Sync<K, Ctx, E> = for<'a> fn(&'a K, &'a Ctx) -> BoxFuture<'a, Result<Action, E>>;

/// Runs `controller` until `shutdown`, then lets the syncs in flight finish.
pub async fn drive<K, Ctx, E>(
    name: &'static str,
    controller: Controller<DeserializeGuard<K>>,
    triggers: Triggers<K>,
    shutdown: impl Future<Output = ()> + Send + std::marker::Sync + 'static,
    context: Arc<Ctx>,
    sync: Sync<K, Ctx, E>,
) where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + std::marker::Sync
        + 'static,
    Ctx: HasBackoff + Send + std::marker::Sync + 'static,
    E: std::error::Error + Send + std::marker::Sync + 'static,
{
    tracing::info!(controller = name, "starting");
    controller
        .reconcile_on(triggers.inspect(move |_| metrics::global().pending(name, -1)))
        .graceful_shutdown_on(shutdown)
        .run(
            move |cached, context| reconcile(name, cached, context, sync),
            move |cached, error, context| retry_later(name, &*cached, error, &*context),
            context,
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "sync not completed");
            }
        })
        .await;
    tracing::info!(controller = name, "stopped");
}

fn key_of<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

async fn reconcile<K, Ctx, E>(
    name: &'static str,
    cached: Arc<DeserializeGuard<K>>,
    context: Arc<Ctx>,
    sync: Sync<K, Ctx, E>,
) -> Result<Action, E>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
    Ctx: HasBackoff,
{
    let key = key_of(&*cached);
    let object = match &cached.0 {
        Ok(object) => object,
        Err(invalid) => {
            tracing::warn!(controller = name, object = %key, error = %invalid, "cannot read object; fix it and it will be synced");
            return Ok(Action::await_change());
        }
    };
    let started = Instant::now();
    let result = sync(object, &context).await;
    metrics::global().sync_done(name, result.is_ok(), started.elapsed());
    if result.is_ok() {
        context.backoff().succeeded(&key);
    }
    result
}

fn retry_later<K: Resource, Ctx: HasBackoff, E: std::error::Error>(
    name: &'static str,
    cached: &K,
    error: &E,
    context: &Ctx,
) -> Action {
    let key = key_of(cached);
    let delay = context.backoff().failed(&key);
    tracing::warn!(controller = name, object = %key, %error, retry_in = ?delay, "sync failed");
    Action::requeue(delay)
}
