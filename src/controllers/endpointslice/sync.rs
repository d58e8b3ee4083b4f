//! One sync of a MiniService (upstream `syncService`, plus the Service it stands for): keep
//! the Service `mini-<name>`, report it in the status, then reconcile its EndpointSlices.

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use std::time::{Duration, Instant};

use super::reconciler::{self, NodeInfo};
use super::service::{self, CONDITION_SERVICE, REASON_NAME_TAKEN, REASON_SYNCED};
use super::tracker::{self, EndpointSliceTracker};
use super::{CONTROLLER_NAME, Context, Error, MANAGED_BY, NAME_TAKEN_RECHECK, RESYNC};
use crate::api::MiniService;
use crate::api::service::ServiceType;
use crate::controllers::driver::Action;
use crate::runtime::{api_error, client};

/// [`sync`] as the driver calls it.
pub fn sync_boxed<'a>(
    mini: &'a MiniService,
    ctx: &'a Context,
) -> futures::future::BoxFuture<'a, Result<Action, Error>> {
    Box::pin(sync(mini, ctx))
}

#[tracing::instrument(skip_all, fields(miniservice = %format!("{}/{}", mini.namespace().unwrap_or_default(), mini.name_any())))]
async fn sync(mini: &MiniService, ctx: &Context) -> Result<Action, Error> {
    if mini.meta().deletion_timestamp.is_some() {
        // The garbage collector removes the Service, and with it the slices.
        return Ok(Action::await_change());
    }
    let namespace = mini.namespace().unwrap_or_default();
    let name = service::service_name(&mini.name_any());
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &namespace);
    let existing = ctx.services.get(&namespace, &name).map(|s| (*s).clone());

    if mini.spec.type_ == ServiceType::ExternalName {
        // An ExternalName service has no endpoints; a Service kept before the type changed
        // goes (its slices with it, by garbage collection).
        if let Some(existing) = existing.filter(|s| service::owned_by(s, mini)) {
            tracing::info!(service = %name, "deleting the Service of an ExternalName MiniService");
            let uid = existing.uid().unwrap_or_default();
            services
                .delete(
                    &name,
                    &DeleteParams::default().preconditions(uid_precondition(uid)),
                )
                .await?;
        }
        write_status(
            mini,
            None,
            true,
            REASON_SYNCED,
            "ExternalName: no Service is kept".into(),
            ctx,
        )
        .await?;
        return Ok(Action::await_change());
    }

    let desired = service::desired(mini);
    let current = match existing {
        Some(other) if !service::owned_by(&other, mini) => {
            let message = format!(
                "Service {name} exists and is not owned by this MiniService; nothing was \
                 changed. Rename or delete that Service, or rename the MiniService, so that \
                 {name} is free"
            );
            tracing::warn!(service = %name, "service name taken");
            ctx.events
                .warning(&mini.object_ref(&()), "ServiceNameTaken", message.clone());
            write_status(mini, None, false, REASON_NAME_TAKEN, message, ctx).await?;
            return Ok(Action::requeue(NAME_TAKEN_RECHECK));
        }
        Some(current) if !service::needs_update(&current, &desired) => current,
        Some(_) => {
            tracing::info!(service = %name, "updating Service");
            let applied = services
                .patch(
                    &name,
                    &PatchParams::apply(CONTROLLER_NAME).force(),
                    &Patch::Apply(&desired),
                )
                .await;
            match applied {
                Ok(applied) => applied,
                Err(error) => return Err(failed(mini, ctx, "FailedToUpdateService", error)),
            }
        }
        None => {
            tracing::info!(service = %name, "creating Service");
            match services.create(&PostParams::default(), &desired).await {
                // The cache has not seen a Service created a moment ago (by this controller,
                // or by someone else): read it, and decide again at its watch event.
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    tracing::debug!(service = %name, "Service exists already; the cache is behind");
                    return match services.get_opt(&name).await? {
                        Some(_) => Err(Error::StaleCache),
                        None => Err(Error::Sync(format!(
                            "Service {name} was created and deleted meanwhile"
                        ))),
                    };
                }
                Ok(created) => {
                    ctx.events.normal(
                        &mini.object_ref(&()),
                        "SuccessfulCreate",
                        format!("Created Service: {name}"),
                    );
                    created
                }
                Err(error) if api_error::is_namespace_terminating(&error) => {
                    return Ok(Action::await_change());
                }
                Err(error) => return Err(failed(mini, ctx, "FailedToCreateService", error)),
            }
        }
    };
    write_status(
        mini,
        Some(&current),
        true,
        REASON_SYNCED,
        String::new(),
        ctx,
    )
    .await?;

    // Without a selector the slices are the user's, as with a Service.
    let Some(selector) = mini.spec.selector.as_ref() else {
        return Ok(Action::requeue(RESYNC));
    };
    let slices_api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &namespace);
    // At the rate limit, slice writes are planned once a token is held (see RateGate).
    let (slices, plan, held) = client::plan_at_turn(
        ctx.gate.as_ref(),
        || plan_slices(mini, selector, &current, ctx),
        |(_, plan, held)| !plan.is_empty() && held.is_none(),
    )
    .await?;
    if let Some(remaining) = held {
        tracing::debug!(service = %name, ?remaining, "holding the removal of ended terminating endpoints");
        return Ok(Action::requeue(remaining));
    }
    if !plan.is_empty() {
        tracing::info!(
            service = %name,
            create = plan.create.len(),
            update = plan.update.len(),
            delete = plan.delete.len(),
            "writing EndpointSlices"
        );
    }
    if let Err(error) = execute(&slices_api, &current, &slices, &plan, &ctx.tracker).await {
        return Err(failed(mini, ctx, "FailedToUpdateEndpointSlices", error));
    }
    if !plan.is_empty() {
        ctx.held.written(&(namespace.clone(), name.clone()));
    }
    if !plan.skipped.is_empty() {
        // Upstream: the rest is written, then the sync fails so that it is retried.
        return Err(Error::Sync(format!(
            "skipped pods {:?}: their nodes are not known yet",
            plan.skipped
        )));
    }
    Ok(Action::requeue(RESYNC))
}

/// The service's slices in the cache and what to write to them, from the cached pods and
/// nodes, and how long that write is held back (`hold.rs`); refused while the cache is behind
/// this controller's own writes.
fn plan_slices(
    mini: &MiniService,
    selector: &std::collections::BTreeMap<String, String>,
    current: &Service,
    ctx: &Context,
) -> Result<(Vec<EndpointSlice>, reconciler::Plan, Option<Duration>), Error> {
    let namespace = mini.namespace().unwrap_or_default();
    let pods: Vec<std::sync::Arc<CachedPod>> = ctx
        .pods
        .list(&namespace)
        .into_iter()
        .filter(|p| super::handler::selects(Some(selector), p.labels()))
        .collect();
    let pods: Vec<&CachedPod> = pods.iter().map(|p| &**p).collect();
    let service_key = (namespace.clone(), current.name_any());
    let cached = ctx.slices.list(&namespace);
    // Upstream `dropEndpointSlicesPendingDeletion`.
    let slices: Vec<&EndpointSlice> = cached
        .iter()
        .map(|s| &**s)
        .filter(|s| s.metadata.deletion_timestamp.is_none())
        .filter(|s| tracker::service_of(s) == service_key)
        .collect();
    if ctx.tracker.stale_slices(&service_key, &slices) {
        // The slice events that bring the cache up to date sync the service again.
        ctx.refused
            .lock()
            .expect("refused lock")
            .insert(service_key);
        return Err(Error::StaleCache);
    }
    let node = |name: &str| match ctx.nodes.get("", name) {
        Some(node) => NodeInfo::Found {
            zone: node.labels().get(reconciler::LABEL_ZONE).cloned(),
        },
        None => NodeInfo::NotFound,
    };
    let slices: Vec<EndpointSlice> = slices.into_iter().cloned().collect();
    let plan = reconciler::reconcile(
        current,
        &pods,
        &node,
        &slices,
        ctx.max_endpoints_per_slice,
        MANAGED_BY,
    );
    let held = ctx.held.remaining(
        &service_key,
        reconciler::only_drops_terminating(&plan, &slices),
        Instant::now(),
    );
    Ok((slices, plan, held))
}

/// Upstream `finalize`: creates (not for a Service being deleted), then updates, then
/// deletes, each recorded in the tracker as the API server answered it.
async fn execute(
    api: &Api<EndpointSlice>,
    service: &Service,
    existing: &[EndpointSlice],
    plan: &reconciler::Plan,
    tracker: &EndpointSliceTracker,
) -> Result<(), kube::Error> {
    if service.metadata.deletion_timestamp.is_none() {
        for slice in &plan.create {
            match api.create(&PostParams::default(), slice).await {
                Ok(created) => tracker.update(&created),
                Err(error) if api_error::is_namespace_terminating(&error) => return Ok(()),
                Err(error) => return Err(error),
            }
        }
    }
    for slice in &plan.update {
        let updated = api
            .replace(
                slice.metadata.name.as_deref().unwrap_or_default(),
                &PostParams::default(),
                slice,
            )
            .await?;
        tracker.update(&updated);
    }
    for name in &plan.delete {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error),
        }
        if let Some(deleted) = existing
            .iter()
            .find(|s| s.metadata.name.as_ref() == Some(name))
        {
            tracker.expect_deletion(deleted);
        }
    }
    Ok(())
}

fn uid_precondition(uid: String) -> kube::api::Preconditions {
    kube::api::Preconditions {
        uid: Some(uid),
        resource_version: None,
    }
}

/// A failed write: a Warning event on the MiniService, as upstream records on the Service.
fn failed(mini: &MiniService, ctx: &Context, reason: &str, error: kube::Error) -> Error {
    ctx.events
        .warning(&mini.object_ref(&()), reason, api_error::message(&error));
    Error::Api(error)
}

/// Applies this controller's part of the status (its condition, the Service name and
/// cluster IP) when it changed; the other controllers' conditions stay theirs.
async fn write_status(
    mini: &MiniService,
    current: Option<&Service>,
    ok: bool,
    reason: &str,
    message: String,
    ctx: &Context,
) -> Result<(), Error> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let mut new_status = service::status(mini, current, ok, reason, message, now);
    if mini.status.as_ref() == Some(&new_status) {
        return Ok(());
    }
    let mine: Vec<_> = new_status
        .conditions
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ == CONDITION_SERVICE)
        .collect();
    // Fields left out of an apply are dropped if this manager set them before.
    let mut status = json!({"conditions": mine});
    if let Some(name) = &new_status.service_name {
        status["serviceName"] = json!(name);
    }
    if let Some(ip) = &new_status.cluster_ip {
        status["clusterIP"] = json!(ip);
    }
    let body = json!({
        "apiVersion": MiniService::api_version(&()),
        "kind": MiniService::kind(&()),
        "status": status,
    });
    let api: Api<MiniService> =
        Api::namespaced(ctx.client.clone(), &mini.namespace().unwrap_or_default());
    api.patch_status(
        &mini.name_any(),
        &PatchParams::apply(CONTROLLER_NAME).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}
