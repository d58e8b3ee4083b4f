//! One sync of a MiniService (upstream `syncService`), and the removal of the MiniEndpoints of
//! MiniServices that are gone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, PostParams, Preconditions};
use kube::{Api, Resource, ResourceExt};

use super::plan;
use super::{CONTROLLER_NAME, Context, Error, selects};
use crate::api::service::ServiceType;
use crate::api::{MiniEndpoints, MiniService};
use crate::controllers::driver::Action;
use crate::runtime::{api_error, client};

/// [`sync`] as the driver calls it.
pub fn sync_boxed<'a>(
    svc: &'a MiniService,
    ctx: &'a Context,
) -> futures::future::BoxFuture<'a, Result<Action, Error>> {
    Box::pin(sync(svc, ctx))
}

fn reference(endpoints: &MiniEndpoints) -> ObjectReference {
    ObjectReference {
        api_version: Some(MiniEndpoints::api_version(&()).into_owned()),
        kind: Some(MiniEndpoints::kind(&()).into_owned()),
        namespace: endpoints.namespace(),
        name: Some(endpoints.name_any()),
        uid: endpoints.uid(),
        resource_version: endpoints.resource_version(),
        ..Default::default()
    }
}

#[tracing::instrument(skip_all, fields(service = %format!("{}/{}", svc.namespace().unwrap_or_default(), svc.name_any())))]
async fn sync(svc: &MiniService, ctx: &Context) -> Result<Action, Error> {
    let namespace = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let key = format!("{namespace}/{name}");
    if svc.spec.type_ == ServiceType::ExternalName {
        // ExternalName services have no endpoints (upstream issue 105986).
        return Ok(Action::await_change());
    }
    let Some(selector) = svc.spec.selector.as_ref() else {
        // Without a selector the MiniEndpoints is the user's.
        return Ok(Action::await_change());
    };
    // At the rate limit, the write is planned once its token is held (see RateGate); the
    // earliest change either plan saw is the write's trigger.
    let mut trigger_time = None;
    let planned = client::plan_at_turn(
        ctx.gate.as_ref(),
        || plan_write(svc, selector, &key, &mut trigger_time, ctx),
        Option::is_some,
    )
    .await?;
    let Some((desired, current, next)) = planned else {
        tracing::trace!("endpoints are equal, skipping update");
        return Ok(Action::await_change());
    };
    tracing::debug!(
        ready = desired.ready,
        not_ready = desired.not_ready,
        "update endpoints"
    );
    let api: Api<MiniEndpoints> = Api::namespaced(ctx.client.clone(), &namespace);
    let params = PostParams {
        field_manager: Some(CONTROLLER_NAME.into()),
        ..Default::default()
    };
    let result = match &current {
        None => api.create(&params, &next).await.map(|_| ()),
        Some(current) => api.replace(&name, &params, &next).await.map(|updated| {
            // A cache still holding the replaced version must not be trusted.
            if updated.resource_version() != current.resource_version()
                && let Some(version) = current.resource_version()
            {
                ctx.stale
                    .lock()
                    .expect("stale lock")
                    .insert(key.clone(), version);
            }
        }),
    };
    if let Err(error) = result {
        if current.is_none() && api_error::is_namespace_terminating(&error) {
            // Every create fails until the namespace is gone.
            return Ok(Action::await_change());
        }
        let message = api_error::message(&error);
        if current.is_none() {
            ctx.events.warning(
                &reference(&next),
                "FailedToCreateEndpoint",
                format!("Failed to create endpoint for service {namespace}/{name}: {message}"),
            );
        } else {
            ctx.events.warning(
                &reference(&next),
                "FailedToUpdateEndpoint",
                format!("Failed to update endpoint {namespace}/{name}: {message}"),
            );
        }
        return Err(error.into());
    }
    Ok(Action::await_change())
}

/// The pods' subsets, the cached MiniEndpoints and the MiniEndpoints to write in its place.
type Write = (plan::Desired, Option<Arc<MiniEndpoints>>, MiniEndpoints);

/// The pods' subsets, the cached MiniEndpoints and what to write in its place (None when
/// they are equal); refused while the cache holds a version this controller replaced.
fn plan_write(
    svc: &MiniService,
    selector: &BTreeMap<String, String>,
    key: &str,
    trigger_time: &mut Option<Timestamp>,
    ctx: &Context,
) -> Result<Option<Write>, Error> {
    let (namespace, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
    let pods: Vec<_> = ctx
        .pods
        .list(&namespace)
        .into_iter()
        .filter(|p| selects(Some(selector), p.labels()))
        .collect();
    // Computed on every sync, so the tracker moves on even when nothing is written.
    let computed = ctx
        .trigger_times
        .compute(key, svc, pods.iter().map(|p| &**p));
    *trigger_time = (*trigger_time).into_iter().chain(computed).min();
    let desired = plan::desired_subsets(svc, pods.iter().map(|p| &**p));

    let current = ctx.endpoints.get(&namespace, &name);
    if let Some(current) = &current {
        let stale = ctx.stale.lock().expect("stale lock").get(key).cloned();
        if stale.is_some() && stale == current.resource_version() {
            return Err(Error::StaleCache {
                key: key.to_owned(),
                version: stale.unwrap_or_default(),
            });
        }
    }
    let next = plan::plan(
        svc,
        &desired,
        current.as_deref(),
        *trigger_time,
        CONTROLLER_NAME,
    );
    Ok(next.map(|next| (desired, current, next)))
}

/// Removes the MiniEndpoints named in `requests` when their MiniService is gone; at the start,
/// also every MiniEndpoints of this controller left behind by MiniServices deleted while it
/// was not running. MiniEndpoints this controller did not write are never removed.
pub async fn clean_up(
    ctx: Arc<Context>,
    api: Api<MiniEndpoints>,
    mut requests: UnboundedReceiver<(String, String)>,
) {
    let selector = format!("{}={CONTROLLER_NAME}", plan::LABEL_MANAGED_BY);
    match api.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => {
            for endpoints in list {
                let (namespace, name) = (
                    endpoints.namespace().unwrap_or_default(),
                    endpoints.name_any(),
                );
                remove_if_orphaned(&ctx, &namespace, &name).await;
            }
        }
        Err(error) => {
            tracing::warn!(error = %api_error::message(&error), "cannot list MiniEndpoints; those of MiniServices deleted meanwhile stay until their owner reference removes them")
        }
    }
    while let Some((namespace, name)) = requests.next().await {
        remove_if_orphaned(&ctx, &namespace, &name).await;
    }
}

/// Deletes `namespace/name` if it is ours and no MiniService of that name exists, retrying a
/// few times on errors.
async fn remove_if_orphaned(ctx: &Context, namespace: &str, name: &str) {
    let services: Api<MiniService> = Api::namespaced(ctx.client.clone(), namespace);
    let endpoints: Api<MiniEndpoints> = Api::namespaced(ctx.client.clone(), namespace);
    let mut delay = Duration::from_millis(100);
    for _ in 0..5 {
        match try_remove(ctx, &services, &endpoints, namespace, name).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(namespace, name, error = %api_error::message(&error), retry_in = ?delay, "cannot remove the MiniEndpoints of a deleted MiniService");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
        }
    }
}

async fn try_remove(
    ctx: &Context,
    services: &Api<MiniService>,
    endpoints: &Api<MiniEndpoints>,
    namespace: &str,
    name: &str,
) -> Result<(), kube::Error> {
    // The shared cache may lag behind the service the sync just saw: ask the API server.
    if ctx.services.get(namespace, name).is_some() || services.get_opt(name).await?.is_some() {
        return Ok(());
    }
    let Some(current) = endpoints.get_opt(name).await? else {
        return Ok(());
    };
    if !plan::is_managed(&current, CONTROLLER_NAME) {
        return Ok(());
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: current.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match endpoints.delete(name, &params).await {
        Ok(_) => {
            tracing::debug!(
                namespace,
                name,
                "removed the MiniEndpoints of a deleted MiniService"
            );
            let key = format!("{namespace}/{name}");
            ctx.trigger_times.forget(&key);
            ctx.stale.lock().expect("stale lock").remove(&key);
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}
