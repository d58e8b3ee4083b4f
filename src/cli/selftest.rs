//! `minik8s selftest`: the chart's `helm test`. It creates a MiniReplicaSet of one pod, waits
//! until the controllers have made that pod and it is ready, and removes it again, so it
//! proves that the CRDs are served, the controller-manager runs with the permissions it
//! needs, and pods it creates are admitted in that namespace.

use std::time::{Duration, Instant};

use clap::Args;
use futures::StreamExt;
use kube::api::{DeleteParams, PostParams, PropagationPolicy};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::api::MiniReplicaSet;

#[derive(Args, Debug)]
pub struct SelftestArgs {
    /// Namespace to create the MiniReplicaSet in (default: the context's).
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Image of its pod; it runs as a non-root user with no privileges, as the restricted
    /// Pod Security Standard requires.
    #[arg(long, default_value = "registry.k8s.io/pause:3.10")]
    pub image: String,
    /// Annotations of its pod, `key=value` (repeatable).
    #[arg(long = "pod-annotation", value_name = "KEY=VALUE", value_parser = key_value)]
    pub pod_annotations: Vec<(String, String)>,
    /// How long to wait for the MiniReplicaSet to be ready (a duration: 90s, 2m).
    #[arg(long, default_value = "2m", value_parser = super::rollout::parse_go_duration)]
    pub timeout: Duration,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

pub async fn run(args: SelftestArgs) -> super::Result {
    let client = crate::runtime::kubeconfig::client().await?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let api: Api<MiniReplicaSet> = Api::namespaced(client, &namespace);
    let created = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(manifest(&args))?,
        )
        .await?;
    let name = created.name_any();
    println!("minireplicaset.minik8s.dev/{name} created in namespace {namespace}");
    let started = Instant::now();
    let outcome = tokio::time::timeout(args.timeout, ready(&api, &name)).await;
    // Removed whatever happened; its pod goes with it (garbage collection).
    let removed = api
        .delete(
            &name,
            &DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..DeleteParams::default()
            },
        )
        .await;
    match outcome {
        Ok(Ok(())) => {
            println!(
                "minireplicaset.minik8s.dev/{name} ready (1/1 pods) after {:.1}s",
                started.elapsed().as_secs_f64()
            );
            removed?;
            println!("minireplicaset.minik8s.dev/{name} deleted");
            Ok(())
        }
        Ok(Err(error)) => Err(error),
        Err(_) => Err(format!(
            "minireplicaset.minik8s.dev/{name} was not ready within {:?}: is the minik8s \
             controller-manager running and watching namespace {namespace}? See its logs \
             (kubectl logs -l app.kubernetes.io/component=controller-manager -A) and the \
             events in {namespace} (kubectl get events -n {namespace})",
            args.timeout
        )
        .into()),
    }
}

/// One pod, of an image that does nothing, that any namespace admits (restricted Pod
/// Security Standard) and that is told apart from every other by its generated name.
fn manifest(args: &SelftestArgs) -> serde_json::Value {
    let annotations: serde_json::Map<String, serde_json::Value> = args
        .pod_annotations
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    );
    let labels = json!({"app.kubernetes.io/name": "minik8s-selftest", "minik8s.dev/selftest": run});
    json!({
        "apiVersion": "minik8s.dev/v1alpha1",
        "kind": "MiniReplicaSet",
        "metadata": {"generateName": "minik8s-selftest-", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {
                    "automountServiceAccountToken": false,
                    "terminationGracePeriodSeconds": 0,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"}
                    },
                    "containers": [{
                        "name": "pause",
                        "image": args.image,
                        "resources": {"requests": {"cpu": "1m", "memory": "4Mi"}},
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]}
                        }
                    }]
                }
            }
        }
    })
}

/// Follows the MiniReplicaSet until its status, for its current generation, counts its one
/// pod ready; prints each change of the counts meanwhile.
async fn ready(api: &Api<MiniReplicaSet>, name: &str) -> super::Result {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = watcher(api.clone(), config)
        .default_backoff()
        .applied_objects()
        .boxed();
    let mut last = None;
    let mut failure_shown = None;
    while let Some(event) = events.next().await {
        let set = match event {
            Ok(set) => set,
            Err(error) => {
                tracing::debug!(%error, "watch failed; watching again");
                continue;
            }
        };
        let status = set.status.clone().unwrap_or_default().status;
        let current = set.metadata.generation <= status.observed_generation;
        let counts = (status.replicas, status.ready_replicas.unwrap_or(0));
        if last != Some(counts) {
            println!(
                "waiting for minireplicaset.minik8s.dev/{name}: {} of 1 pods created, {} ready",
                counts.0, counts.1
            );
            last = Some(counts);
        }
        let failure = status.conditions.iter().flatten().find(|c| {
            c.type_.as_deref() == Some("ReplicaFailure") && c.status.as_deref() == Some("True")
        });
        if let Some(failure) = failure.filter(|f| failure_shown.as_ref() != f.message.as_ref()) {
            failure_shown = failure.message.clone();
            eprintln!(
                "minireplicaset.minik8s.dev/{name}: {}: {}",
                failure.reason.as_deref().unwrap_or("ReplicaFailure"),
                failure.message.as_deref().unwrap_or_default()
            );
        }
        if current && counts.1 >= 1 {
            return Ok(());
        }
    }
    Err("the watch of the MiniReplicaSet ended".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_is_a_valid_minireplicaset_whose_selector_matches_its_template() {
        let args = SelftestArgs {
            namespace: None,
            image: "registry.k8s.io/pause:3.10".into(),
            pod_annotations: vec![("a".into(), "b".into())],
            timeout: Duration::from_secs(1),
        };
        let set: MiniReplicaSet = serde_json::from_value(manifest(&args)).unwrap();
        let labels: std::collections::BTreeMap<String, String> =
            serde_json::from_value(set.spec.template.raw()["metadata"]["labels"].clone()).unwrap();
        assert_eq!(Some(labels), set.spec.selector.match_labels);
        assert_eq!(set.spec.replicas, 1);
        assert!(key_value("no-equals").is_err());
    }
}
