//! `minik8s rollout …` and `minik8s set image …`: what `kubectl rollout` and `kubectl set
//! image` do for Deployments, for MiniDeployments. Usable as a kubectl plugin too (install
//! the binary as `kubectl-minik8s`, then `kubectl minik8s rollout status mdeploy/web`).
//!
//! Everything here is an ordinary change to the MiniDeployment, so the same can be done
//! declaratively: `spec.paused`, the template (image, `kubectl.kubernetes.io/restartedAt`
//! annotation) and the `minik8s.dev/rollback-to` annotation, which the controller honours.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{Args, Subcommand};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

use crate::api::{MiniDeployment, MiniReplicaSet};
use crate::controllers::deployment::util::{self, reason};

#[derive(Args, Debug)]
pub struct Target {
    /// The MiniDeployment: `mdeploy/NAME` (or `minideployment/NAME`), or `mdeploy NAME`.
    #[arg(value_name = "mdeploy/NAME")]
    resource: String,
    #[arg(value_name = "NAME")]
    name: Option<String>,
    /// Namespace (default: the kubeconfig context's).
    #[arg(short, long)]
    namespace: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Rollout {
    /// Follow a rollout until it completes; fails when its progress deadline is exceeded.
    Status {
        #[command(flatten)]
        target: Target,
        /// Follow the rollout until it ends (false: report once).
        #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set)]
        watch: bool,
        /// Give up after this many seconds (0: never).
        #[arg(long, default_value_t = 0)]
        timeout: u64,
    },
    /// List the revisions, or show one with --revision.
    History {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        revision: Option<i64>,
    },
    /// Roll back to the previous revision, or to --to-revision.
    Undo {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 0)]
        to_revision: i64,
    },
    /// Stop rolling out template changes (scaling goes on).
    Pause {
        #[command(flatten)]
        target: Target,
    },
    /// Roll out again after a pause.
    Resume {
        #[command(flatten)]
        target: Target,
    },
    /// Replace every pod, by stamping the template with the time.
    Restart {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Args, Debug)]
pub struct SetImage {
    /// The MiniDeployment: `mdeploy/NAME`.
    #[arg(value_name = "mdeploy/NAME")]
    resource: String,
    /// Namespace (default: the kubeconfig context's).
    #[arg(short, long)]
    namespace: Option<String>,
    /// CONTAINER=IMAGE pairs (`*=IMAGE` for every container).
    #[arg(value_name = "CONTAINER=IMAGE", required = true)]
    images: Vec<String>,
}

impl Target {
    fn name(&self) -> Result<String, String> {
        let (kind, name) = match (self.resource.split_once('/'), &self.name) {
            (Some((kind, name)), None) => (kind.to_owned(), name.to_owned()),
            (None, Some(name)) => (self.resource.clone(), name.clone()),
            _ => {
                return Err(format!(
                    "expected mdeploy/NAME or mdeploy NAME, got {:?}",
                    self.resource
                ));
            }
        };
        match kind.as_str() {
            "mdeploy"
            | "minideployment"
            | "minideployments"
            | "minideployment.minik8s.dev"
            | "minideployments.minik8s.dev" => Ok(name),
            other => Err(format!(
                "{other:?} is not a MiniDeployment; use mdeploy/NAME"
            )),
        }
    }

    async fn api(&self) -> Result<(Api<MiniDeployment>, String, Client), super::Error> {
        let client = Client::try_default()
            .await
            .map_err(|e| format!("cannot reach the API server ({e}); set KUBECONFIG"))?;
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_owned());
        Ok((
            Api::namespaced(client.clone(), &namespace),
            self.name()?,
            client,
        ))
    }
}

pub async fn run(command: Rollout) -> super::Result {
    match command {
        Rollout::Status {
            target,
            watch,
            timeout,
        } => status(target, watch, timeout).await,
        Rollout::History { target, revision } => history(target, revision).await,
        Rollout::Undo {
            target,
            to_revision,
        } => {
            let (api, name, _) = target.api().await?;
            let patch =
                json!({"metadata": {"annotations": {util::ROLLBACK_TO: to_revision.to_string()}}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            println!("minideployment.minik8s.dev/{name} rolled back");
            Ok(())
        }
        Rollout::Pause { target } => set_paused(target, true).await,
        Rollout::Resume { target } => set_paused(target, false).await,
        Rollout::Restart { target } => {
            let (api, name, _) = target.api().await?;
            let now = Timestamp::now().to_string();
            let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            println!("minideployment.minik8s.dev/{name} restarted");
            Ok(())
        }
    }
}

async fn set_paused(target: Target, paused: bool) -> super::Result {
    let (api, name, _) = target.api().await?;
    let current = api.get(&name).await?;
    let word = if paused { "paused" } else { "resumed" };
    if current.spec.paused == paused {
        return Err(format!("minideployment.minik8s.dev/{name} is already {word}").into());
    }
    api.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": paused}})),
    )
    .await?;
    println!("minideployment.minik8s.dev/{name} {word}");
    Ok(())
}

/// What `kubectl rollout status` says of a deployment: (message, done), or the error when the
/// progress deadline was exceeded.
pub fn status_message(d: &MiniDeployment) -> Result<(String, bool), String> {
    let name = d.name_any();
    let status = d.status.clone().map(|s| s.status).unwrap_or_default();
    if d.metadata.generation.unwrap_or(0) > status.observed_generation.unwrap_or(0) {
        return Ok((
            "Waiting for deployment spec update to be observed...".into(),
            false,
        ));
    }
    if util::condition(&status, util::PROGRESSING).and_then(|c| c.reason.as_deref())
        == Some(reason::TIMED_OUT)
    {
        return Err(format!(
            "deployment {name:?} exceeded its progress deadline"
        ));
    }
    let n = |v: Option<i32>| v.unwrap_or(0);
    let (replicas, updated, available) = (
        n(status.replicas),
        n(status.updated_replicas),
        n(status.available_replicas),
    );
    let message = if updated < d.spec.replicas {
        format!(
            "Waiting for deployment {name:?} rollout to finish: {updated} out of {} new replicas have been updated...",
            d.spec.replicas
        )
    } else if replicas > updated {
        format!(
            "Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        )
    } else if available < updated {
        format!(
            "Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available..."
        )
    } else {
        return Ok((format!("deployment {name:?} successfully rolled out"), true));
    };
    Ok((message, false))
}

async fn status(target: Target, watch: bool, timeout: u64) -> super::Result {
    let (api, name, _) = target.api().await?;
    let deadline = (timeout > 0).then(|| std::time::Instant::now() + Duration::from_secs(timeout));
    let mut last = String::new();
    loop {
        let d = api.get(&name).await?;
        let (message, done) = status_message(&d)?;
        if message != last {
            println!("{message}");
            last = message;
        }
        if done || !watch {
            return Ok(());
        }
        if deadline.is_some_and(|t| std::time::Instant::now() > t) {
            return Err("timed out waiting for the condition".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn history(target: Target, revision: Option<i64>) -> super::Result {
    let (api, name, client) = target.api().await?;
    let d = api.get(&name).await?;
    let sets: Api<MiniReplicaSet> = Api::namespaced(client, &d.namespace().unwrap_or_default());
    let uid = d.uid().unwrap_or_default();
    let owned: Vec<MiniReplicaSet> = sets
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|rs| rs.owner_references().iter().any(|r| r.uid == uid))
        .collect();
    let by_revision: BTreeMap<i64, &MiniReplicaSet> = owned
        .iter()
        .filter_map(|rs| Some((util::revision(rs)?, rs)))
        .collect();
    match revision {
        None => print!("{}", history_table(&name, &by_revision)),
        Some(revision) => {
            let rs = by_revision
                .get(&revision)
                .ok_or(format!("unable to find the specified revision {revision}"))?;
            let template = util::template_without_hash(rs.spec.template.raw());
            println!("minideployment.minik8s.dev/{name} with revision #{revision}");
            print!(
                "{}",
                serde_norway::to_string(&json!({"template": template}))?
            );
        }
    }
    Ok(())
}

/// `kubectl rollout history` output: each revision with its change-cause.
pub fn history_table(name: &str, by_revision: &BTreeMap<i64, &MiniReplicaSet>) -> String {
    let mut out = format!("minideployment.minik8s.dev/{name}\nREVISION  CHANGE-CAUSE\n");
    for (revision, rs) in by_revision {
        let cause = rs
            .annotations()
            .get("kubernetes.io/change-cause")
            .map_or("<none>", String::as_str);
        out.push_str(&format!("{revision:<9} {cause}\n"));
    }
    out
}

pub async fn set_image(args: SetImage) -> super::Result {
    let target = Target {
        resource: args.resource,
        name: None,
        namespace: args.namespace,
    };
    let (api, name, _) = target.api().await?;
    let d = api.get(&name).await?;
    let mut template = d.spec.template.raw().clone();
    let pairs: Vec<(String, String)> = args
        .images
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(c, i)| (c.to_owned(), i.to_owned()))
                .ok_or(format!("expected CONTAINER=IMAGE, got {pair:?}"))
        })
        .collect::<Result<_, _>>()?;
    let changed = set_images(&mut template, &pairs)?;
    let patch = json!({"metadata": {"resourceVersion": d.resource_version()}, "spec": {"template": {"spec": {
        "containers": template["spec"]["containers"], "initContainers": template["spec"].get("initContainers")
    }}}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    if changed {
        println!("minideployment.minik8s.dev/{name} image updated");
    }
    Ok(())
}

/// Sets the image of the named containers (init containers too; `*` for all). True when an
/// image changed; an error names a container that does not exist.
pub fn set_images(
    template: &mut serde_json::Map<String, Value>,
    pairs: &[(String, String)],
) -> Result<bool, String> {
    let mut changed = false;
    for (container, image) in pairs {
        let mut found = false;
        for list in ["containers", "initContainers"] {
            let Some(items) = template
                .get_mut("spec")
                .and_then(|s| s.get_mut(list))
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for item in items
                .iter_mut()
                .filter(|c| container == "*" || c["name"] == container.as_str())
            {
                found = true;
                changed |= item["image"] != image.as_str();
                item["image"] = json!(image);
            }
        }
        if !found {
            return Err(format!("unable to find container named {container:?}"));
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(generation: i64, status: Value) -> MiniDeployment {
        serde_json::from_value(json!({
            "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniDeployment",
            "metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"spec": {"containers": [{"name": "app", "image": "v1"}, {"name": "log", "image": "l1"}],
                                           "initContainers": [{"name": "init", "image": "i1"}]}}},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn status_messages_follow_kubectl() {
        let msg = |generation, status| status_message(&deployment(generation, status));
        assert_eq!(
            msg(2, json!({"observedGeneration": 1})).unwrap().0,
            "Waiting for deployment spec update to be observed..."
        );
        assert_eq!(
            msg(
                1,
                json!({"observedGeneration": 1, "replicas": 4, "updatedReplicas": 1})
            )
            .unwrap()
            .0,
            "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated..."
        );
        assert_eq!(
            msg(
                1,
                json!({"observedGeneration": 1, "replicas": 4, "updatedReplicas": 3})
            )
            .unwrap()
            .0,
            "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination..."
        );
        assert_eq!(
            msg(1, json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2})).unwrap().0,
            "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available..."
        );
        assert_eq!(
            msg(1, json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3})).unwrap(),
            ("deployment \"web\" successfully rolled out".to_string(), true)
        );
        let timed_out = json!({"observedGeneration": 1, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]});
        assert_eq!(
            msg(1, timed_out).unwrap_err(),
            "deployment \"web\" exceeded its progress deadline"
        );
    }

    #[test]
    fn set_images_by_container_name_or_all() {
        let mut template = deployment(1, json!({})).spec.template.raw().clone();
        assert!(set_images(&mut template, &[("app".into(), "v2".into())]).unwrap());
        assert_eq!(template["spec"]["containers"][0]["image"], "v2");
        assert_eq!(template["spec"]["containers"][1]["image"], "l1");
        assert!(
            !set_images(&mut template, &[("app".into(), "v2".into())]).unwrap(),
            "no change"
        );
        assert!(set_images(&mut template, &[("init".into(), "i2".into())]).unwrap());
        assert_eq!(template["spec"]["initContainers"][0]["image"], "i2");
        assert!(set_images(&mut template, &[("*".into(), "all".into())]).unwrap());
        assert_eq!(template["spec"]["containers"][1]["image"], "all");
        assert!(set_images(&mut template, &[("nope".into(), "x".into())]).is_err());
    }

    #[test]
    fn targets_accept_the_kubectl_forms() {
        let t = |resource: &str, name: Option<&str>| {
            Target {
                resource: resource.into(),
                name: name.map(Into::into),
                namespace: None,
            }
            .name()
        };
        assert_eq!(t("mdeploy/web", None).unwrap(), "web");
        assert_eq!(t("minideployment.minik8s.dev/web", None).unwrap(), "web");
        assert_eq!(t("mdeploy", Some("web")).unwrap(), "web");
        assert!(t("deploy/web", None).is_err());
        assert!(t("web", None).is_err());
    }

    #[test]
    fn history_lists_revisions_with_their_change_cause() {
        let rs = |annotations: Value| -> MiniReplicaSet {
            serde_json::from_value(
                json!({"apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
                "metadata": {"name": "r", "annotations": annotations},
                "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {}}}),
            )
            .unwrap()
        };
        let (one, two) = (
            rs(json!({})),
            rs(json!({"kubernetes.io/change-cause": "image v2"})),
        );
        let table = history_table("web", &BTreeMap::from([(1, &one), (2, &two)]));
        assert_eq!(
            table,
            "minideployment.minik8s.dev/web\nREVISION  CHANGE-CAUSE\n1         <none>\n2         image v2\n"
        );
    }
}
