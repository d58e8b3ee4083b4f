//! `minik8s rollout …` and `minik8s set image …`: what `kubectl rollout` and `kubectl set
//! image` do for Deployments, for MiniDeployments. Usable as a kubectl plugin too (install
//! the binary as `kubectl-minik8s`, then `kubectl minik8s rollout status mdeploy/web`).
//!
//! Messages and exit codes are kubectl's, word for word, with the resource named as kubectl
//! names a MiniDeployment (`minideployment.minik8s.dev/web`, `minideployments.minik8s.dev
//! "web"`); like kubectl, every check is made before anything is written.
//!
//! Everything here is an ordinary change to the MiniDeployment, so the same can be done
//! declaratively: `spec.paused`, the template (image, `kubectl.kubernetes.io/restartedAt`
//! annotation; `rollout undo` copies a revision's template back, as kubectl does), or the
//! `minik8s.dev/rollback-to` annotation, which the controller honours.

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
        /// How long to wait before ending the watch, as kubectl takes it (`90s`, `2m`,
        /// `1h30m`); 0 means never.
        #[arg(long, default_value = "0s", value_parser = parse_go_duration)]
        timeout: Duration,
        /// Pin to a specific revision for showing its status (0: the last revision).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        revision: i64,
    },
    /// List the revisions, or show one with --revision.
    History {
        #[command(flatten)]
        target: Target,
        #[arg(long, allow_negative_numbers = true)]
        revision: Option<i64>,
    },
    /// Roll back to the previous revision, or to --to-revision.
    Undo {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        to_revision: i64,
        /// `client`: print the revision's template; `server`: have the API server check the
        /// rollback without keeping it.
        #[arg(long, value_enum, default_value = "none", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
        dry_run: DryRun,
        /// Print the object instead of a message: `name`, `json` or `yaml`.
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// Stop rolling out template changes (scaling goes on).
    Pause {
        #[command(flatten)]
        target: Target,
        /// Print the object instead of a message: `name`, `json` or `yaml`.
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// Roll out again after a pause.
    Resume {
        #[command(flatten)]
        target: Target,
        /// Print the object instead of a message: `name`, `json` or `yaml`.
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// Replace every pod, by stamping the template with the time.
    Restart {
        #[command(flatten)]
        target: Target,
        /// Restart every MiniDeployment these labels select (`mdeploy -l app=web`).
        #[arg(short = 'l', long)]
        selector: Option<String>,
        /// Print the object instead of a message: `name`, `json` or `yaml`.
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
}

/// kubectl's `-o` for the commands that change an object: the object's name alone, or the
/// object as JSON (indented by four, as kubectl's printer) or YAML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Name,
    Json,
    Yaml,
}

/// What a changing command prints for `d`: kubectl's `KIND/NAME OPERATION` line, or the
/// object in the `-o` format.
fn print_changed(
    d: &MiniDeployment,
    operation: &str,
    output: Option<OutputFormat>,
) -> super::Result {
    let name = d.name_any();
    match output {
        None => println!("{KIND}/{name} {operation}"),
        Some(OutputFormat::Name) => println!("{KIND}/{name}"),
        Some(OutputFormat::Json) => {
            use serde::Serialize;
            let mut text = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            d.serialize(&mut serde_json::Serializer::with_formatter(
                &mut text, formatter,
            ))?;
            println!("{}", String::from_utf8(text)?);
        }
        Some(OutputFormat::Yaml) => print!("{}", serde_norway::to_string(d)?),
    }
    Ok(())
}

/// kubectl's `--dry-run`: `none`, `client` (nothing sent; a bare `--dry-run` means this), or
/// `server` (sent, checked and answered by the API server, not persisted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DryRun {
    #[default]
    None,
    Client,
    Server,
}

impl DryRun {
    /// What kubectl adds to its message.
    fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }

    fn patch_params(self) -> PatchParams {
        PatchParams {
            dry_run: self == DryRun::Server,
            ..PatchParams::default()
        }
    }
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
    #[arg(long, value_enum, default_value = "none", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    dry_run: DryRun,
    /// Update every MiniDeployment these labels select (`mdeploy -l app=web CONTAINER=IMAGE`).
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Print the object instead of a message: `name`, `json` or `yaml`.
    #[arg(short, long, value_enum)]
    output: Option<OutputFormat>,
}

fn is_minideployment(kind: &str) -> bool {
    matches!(
        kind,
        "mdeploy"
            | "minideployment"
            | "minideployments"
            | "minideployment.minik8s.dev"
            | "minideployments.minik8s.dev"
    )
}

/// kubectl's `utilerrors.NewAggregate` as `CheckErr` prints it: one error as it is, several
/// in brackets.
fn aggregate(errors: Vec<String>) -> super::Result {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.into_iter().next().unwrap_or_default().into()),
        _ => Err(format!("[{}]", errors.join(", ")).into()),
    }
}

impl Target {
    /// The MiniDeployments meant: the one named, or with `selector` every one it selects (the
    /// resource then names the kind only); with the API and the namespace.
    async fn selected(
        &self,
        selector: Option<&str>,
    ) -> Result<(Api<MiniDeployment>, Vec<String>, String), super::Error> {
        let client = crate::runtime::kubeconfig::client().await?;
        let namespace = self.namespace_or(&client);
        let api: Api<MiniDeployment> = Api::namespaced(client, &namespace);
        let Some(selector) = selector else {
            return Ok((api, vec![self.name()?], namespace));
        };
        if self.name.is_some() || !is_minideployment(&self.resource) {
            return Err(format!(
                "with -l, name the kind only (mdeploy -l {selector}), got {:?}",
                self.resource
            )
            .into());
        }
        let mut names: Vec<String> = api
            .list(&ListParams::default().labels(selector))
            .await?
            .items
            .iter()
            .map(|d| d.name_any())
            .collect();
        names.sort();
        Ok((api, names, namespace))
    }

    fn namespace_or(&self, client: &Client) -> String {
        self.namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_owned())
    }

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
        if is_minideployment(&kind) {
            Ok(name)
        } else {
            Err(format!(
                "{kind:?} is not a MiniDeployment; use mdeploy/NAME"
            ))
        }
    }

    async fn api(&self) -> Result<(Api<MiniDeployment>, String, Client), super::Error> {
        let client = crate::runtime::kubeconfig::client().await?;
        let namespace = self.namespace_or(&client);
        Ok((
            Api::namespaced(client.clone(), &namespace),
            self.name()?,
            client,
        ))
    }
}

/// How kubectl names a MiniDeployment in what it prints (`minideployment.minik8s.dev/web
/// paused`) and in its errors (`minideployments.minik8s.dev "web" is already paused`).
pub const KIND: &str = "minideployment.minik8s.dev";
pub const RESOURCE: &str = "minideployments.minik8s.dev";

pub async fn run(command: Rollout) -> super::Result {
    match command {
        Rollout::Status {
            target,
            watch,
            timeout,
            revision,
        } => status(target, watch, timeout, revision).await,
        Rollout::History { target, revision } => history(target, revision).await,
        Rollout::Undo {
            target,
            to_revision,
            dry_run,
            output,
        } => undo(target, to_revision, dry_run, output).await,
        Rollout::Pause { target, output } => set_paused(target, true, output).await,
        Rollout::Resume { target, output } => set_paused(target, false, output).await,
        Rollout::Restart {
            target,
            selector,
            output,
        } => restart(target, selector, output).await,
    }
}

/// kubectl's objectpauser / objectresumer: pausing a paused deployment (or resuming one that
/// is not paused) is an error, named as kubectl names the resource.
pub fn pause_refusal(name: &str, paused: bool, pause: bool) -> Option<String> {
    let why = match (paused, pause) {
        (true, true) => "is already paused",
        (false, false) => "is not paused",
        _ => return None,
    };
    Some(format!("error: {RESOURCE} {name:?} {why}"))
}

async fn set_paused(target: Target, pause: bool, output: Option<OutputFormat>) -> super::Result {
    let (api, name, _) = target.api().await?;
    let current = api.get(&name).await?;
    if let Some(refusal) = pause_refusal(&name, current.spec.paused, pause) {
        return Err(refusal.into());
    }
    let changed = api
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"paused": pause}})),
        )
        .await?;
    let word = if pause { "paused" } else { "resumed" };
    print_changed(&changed, word, output)
}

pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// kubectl's objectrestarter: the template stamped with the time in RFC 3339 whole seconds.
/// A paused deployment is refused; so is a second restart within the same second, whose
/// stamp would change nothing (kubectl finds the patch empty).
pub fn restart_patch(d: &MiniDeployment, now: Timestamp) -> Result<Value, String> {
    let name = d.name_any();
    if d.spec.paused {
        return Err(format!(
            "error: {RESOURCE} {name:?} can't restart paused deployment (run rollout resume first)"
        ));
    }
    // kubectl writes local time with its offset; minik8s writes UTC (`Z`).
    let stamp = Timestamp::from_second(now.as_second())
        .map_err(|e| e.to_string())?
        .to_string();
    let current = &d
        .spec
        .template
        .raw()
        .get("metadata")
        .and_then(|m| m.get("annotations"));
    if current.and_then(|a| a.get(RESTARTED_AT)) == Some(&json!(stamp)) {
        return Err(format!(
            "failed to create patch for {name}: if restart has already been triggered within the past second, please wait before attempting to trigger another"
        ));
    }
    Ok(json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}))
}

/// kubectl's `RunRestart`: each object restarted in turn, the refusals gathered and reported
/// at the end.
async fn restart(
    target: Target,
    selector: Option<String>,
    output: Option<OutputFormat>,
) -> super::Result {
    let (api, names, namespace) = target.selected(selector.as_deref()).await?;
    if names.is_empty() {
        eprintln!("No resources found in {namespace} namespace.");
        return Ok(());
    }
    let mut errors = Vec::new();
    for name in names {
        let patch = match restart_patch(&api.get(&name).await?, Timestamp::now()) {
            Ok(patch) => patch,
            Err(refusal) => {
                errors.push(refusal);
                continue;
            }
        };
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(changed) => print_changed(&changed, "restarted", output)?,
            Err(e) => errors.push(format!("failed to patch: {e}")),
        }
    }
    aggregate(errors)
}

/// The sets `d` controls (kubectl's `deploymentutil.GetAllReplicaSets`).
async fn owned_sets(client: Client, d: &MiniDeployment) -> kube::Result<Vec<MiniReplicaSet>> {
    let sets: Api<MiniReplicaSet> = Api::namespaced(client, &d.namespace().unwrap_or_default());
    let uid = d.uid().unwrap_or_default();
    Ok(sets
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|rs| {
            rs.owner_references()
                .iter()
                .any(|r| r.controller == Some(true) && r.uid == uid)
        })
        .collect())
}

/// A set's revision as kubectl reads it: none recorded is revision 0; one that does not parse
/// leaves the set out.
fn revision_of(rs: &MiniReplicaSet) -> Option<i64> {
    match rs.annotations().get(util::REVISION) {
        None => Some(0),
        Some(_) => util::revision(rs),
    }
}

/// What `rollout undo` does to a MiniDeployment.
#[derive(Debug, PartialEq)]
pub enum Undo {
    /// The template already is that of the revision: `skipped rollback (…)`.
    Skip(String),
    /// A merge patch that gives the deployment the revision's template and annotations.
    Patch(Value),
}

/// The set whose revision `rollout undo --to-revision` means (kubectl's `deploymentRevision`):
/// that revision, or with 0 the one before the newest.
fn undo_target<'a>(
    d: &MiniDeployment,
    sets: &'a [MiniReplicaSet],
    to_revision: i64,
) -> Result<&'a MiniReplicaSet, String> {
    let not_found = || format!("unable to find specified revision {to_revision} in history");
    if to_revision < 0 {
        return Err(not_found());
    }
    if to_revision > 0 {
        sets.iter()
            .find(|rs| revision_of(rs) == Some(to_revision))
            .ok_or_else(not_found)
    } else {
        // The second-newest revision (kubectl's deploymentRevision).
        let mut latest: Option<(i64, &MiniReplicaSet)> = None;
        let mut previous: Option<(i64, &MiniReplicaSet)> = None;
        for rs in sets {
            let Some(v) = revision_of(rs) else { continue };
            if latest.is_none_or(|(l, _)| l < v) {
                previous = latest;
                latest = Some((v, rs));
            } else if previous.is_none_or(|(p, _)| p < v) {
                previous = Some((v, rs));
            }
        }
        previous
            .map(|(_, rs)| rs)
            .ok_or_else(|| format!("no rollout history found for deployment {:?}", d.name_any()))
    }
}

/// kubectl's `DeploymentRollbacker`, checks in its order: a negative or unknown revision, no
/// previous revision, a paused deployment, a template that already matches. Otherwise the
/// revision's template (without the pod-template-hash label) goes back into the deployment,
/// which takes the set's annotations too, keeping its own bookkeeping ones. Like kubectl's,
/// the patch carries no resourceVersion: the controller writes the deployment's status at any
/// moment, and a precondition would make `undo` fail with a conflict where kubectl's succeeds.
pub fn plan_undo(
    d: &MiniDeployment,
    sets: &[MiniReplicaSet],
    to_revision: i64,
    resume_command: &str,
) -> Result<Undo, String> {
    let target = undo_target(d, sets, to_revision)?;
    if d.spec.paused {
        return Err(format!(
            "you cannot rollback a paused deployment; resume it first with '{resume_command}' and try again"
        ));
    }
    if util::same_template(d, target) {
        return Ok(Undo::Skip(format!(
            "skipped rollback (current template already matches revision {to_revision})"
        )));
    }
    let template = util::template_without_hash(target.spec.template.raw());
    let mut annotations: BTreeMap<String, String> = d
        .annotations()
        .iter()
        .filter(|(k, _)| util::skip_copy(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    annotations.extend(
        target
            .annotations()
            .iter()
            .filter(|(k, _)| !util::skip_copy(k))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let current_template = Value::Object(d.spec.template.raw().clone());
    let mut patch = json!({"spec": {"template": merge_patch(&current_template, &template)}});
    let annotations_patch = merge_patch(&json!(d.annotations()), &json!(annotations));
    if annotations_patch != json!({}) {
        patch["metadata"] = json!({"annotations": annotations_patch});
    }
    Ok(Undo::Patch(patch))
}

/// The JSON merge patch (RFC 7386) that turns `from` into `to`: changed and new keys, and
/// null for each key `to` no longer has.
pub fn merge_patch(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(from), Value::Object(to)) => {
            let mut patch = serde_json::Map::new();
            for (key, old) in from {
                match to.get(key) {
                    None => {
                        patch.insert(key.clone(), Value::Null);
                    }
                    Some(new) if new != old => {
                        patch.insert(key.clone(), merge_patch(old, new));
                    }
                    Some(_) => {}
                }
            }
            for (key, new) in to {
                if !from.contains_key(key) {
                    patch.insert(key.clone(), new.clone());
                }
            }
            Value::Object(patch)
        }
        _ => to.clone(),
    }
}

/// How the user calls `rollout resume`: through kubectl when the binary runs as its plugin.
fn resume_command() -> String {
    let invoked = std::env::args_os().next().unwrap_or_default();
    let plugin = std::path::Path::new(&invoked)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("kubectl-"));
    let prefix = if plugin { "kubectl minik8s" } else { "minik8s" };
    format!("{prefix} rollout resume")
}

async fn undo(
    target: Target,
    to_revision: i64,
    dry_run: DryRun,
    output: Option<OutputFormat>,
) -> super::Result {
    let (api, name, client) = target.api().await?;
    let d = api.get(&name).await?;
    let sets = owned_sets(client, &d).await?;
    // kubectl's client dry run shows the revision's template, before any other check.
    let plan = match dry_run {
        DryRun::Client => Undo::Skip(super::describe::pod_template(
            undo_target(&d, &sets, to_revision)?.spec.template.raw(),
        )),
        _ => plan_undo(&d, &sets, to_revision, &resume_command())?,
    };
    let result = match plan {
        Undo::Skip(message) => message,
        Undo::Patch(patch) => {
            api.patch(&name, &dry_run.patch_params(), &Patch::Merge(&patch))
                .await
                .map_err(|e| {
                    // kubectl shows the API server's message, not the whole status.
                    let reason = match &e {
                        kube::Error::Api(status) => status.message.clone(),
                        other => other.to_string(),
                    };
                    format!("failed restoring revision {to_revision}: {reason}")
                })?;
            "rolled back".to_owned()
        }
    };
    // kubectl prints the object as it read it, before the rollback.
    print_changed(&d, &format!("{result}{}", dry_run.suffix()), output)
}

/// What `kubectl rollout status` says of a deployment: (message, done), or the error when the
/// progress deadline was exceeded.
pub fn status_message(d: &MiniDeployment, revision: i64) -> Result<(String, bool), String> {
    let name = d.name_any();
    if revision > 0 {
        let running = match d.annotations().get(util::REVISION) {
            None => 0,
            Some(value) => value.parse::<i64>().map_err(|e| {
                let why = match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        "value out of range"
                    }
                    _ => "invalid syntax",
                };
                format!(
                    "cannot get the revision of deployment {name:?}: strconv.ParseInt: parsing {value:?}: {why}"
                )
            })?,
        };
        if revision != running {
            return Err(format!(
                "desired revision ({revision}) is different from the running revision ({running})"
            ));
        }
    }
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

/// kubectl's `rollout status`: a watch of the one object (a field selector on its name),
/// the status printed at every version of it, until the rollout is done, the object is
/// deleted, or the timeout passes.
async fn status(target: Target, watch: bool, timeout: Duration, revision: i64) -> super::Result {
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    if revision < 0 {
        return Err(format!("revision must be a positive integer: {revision}").into());
    }
    let (api, name, _) = target.api().await?;
    // A missing object is the API server's NotFound, reported as kubectl reports it.
    api.get(&name).await?;
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let follow = async {
        let mut events = watcher(api, config).default_backoff().boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) => {
                    let (message, done) = status_message(&d, revision)?;
                    println!("{message}");
                    if done || !watch {
                        return Ok(());
                    }
                }
                // kubectl stops rather than follow a new object of the same name.
                Ok(watcher::Event::Delete(_)) => return Err("object has been deleted".into()),
                Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
                // The watcher starts again after its backoff, as client-go's reflector.
                Err(error) => tracing::debug!(%error, "watch failed; watching again"),
            }
        }
        Ok(())
    };
    if timeout.is_zero() {
        return follow.await;
    }
    tokio::time::timeout(timeout, follow)
        .await
        .unwrap_or_else(|_| Err("timed out waiting for the condition".into()))
}

/// A duration as Go's `time.ParseDuration` reads kubectl's flags: `0`, or numbers each with
/// a unit (`ns`, `us`, `ms`, `s`, `m`, `h`), fractions allowed (`1.5h`, `1m30s`).
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() || rest.starts_with('-') {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            unit => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

async fn history(target: Target, revision: Option<i64>) -> super::Result {
    let revision = revision.unwrap_or(0);
    if revision < 0 {
        return Err(format!("revision must be a positive integer: {revision}").into());
    }
    let (api, name, client) = target.api().await?;
    let d = api.get(&name).await?;
    let sets = owned_sets(client, &d).await?;
    print!("{}", history_output(&name, &sets, revision)?);
    Ok(())
}

/// `kubectl rollout history` for a deployment with these sets: the revisions with their
/// change-cause, or with `revision` > 0 that revision's pod template as describe prints it.
pub fn history_output(
    name: &str,
    sets: &[MiniReplicaSet],
    revision: i64,
) -> Result<String, String> {
    // Revision → template, with the set's change-cause among the template's annotations.
    let mut templates: BTreeMap<i64, serde_json::Map<String, Value>> = BTreeMap::new();
    for rs in sets {
        let Some(v) = revision_of(rs) else { continue };
        let mut template = rs.spec.template.raw().clone();
        let metadata = template
            .entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .ok_or("a template's metadata is not an object")?;
        let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
        if let Some(cause) = rs.annotations().get(CHANGE_CAUSE).filter(|c| !c.is_empty()) {
            annotations[CHANGE_CAUSE] = json!(cause);
        }
        templates.insert(v, template);
    }
    let body = if templates.is_empty() {
        "No rollout history found.".to_owned()
    } else if revision > 0 {
        let template = templates
            .get(&revision)
            .ok_or("unable to find the specified revision")?;
        super::describe::pod_template(template)
    } else {
        history_table(&templates)
    };
    let with_revision = if revision > 0 {
        format!("with revision #{revision}")
    } else {
        String::new()
    };
    Ok(format!("{KIND}/{name} {with_revision}\n{body}\n"))
}

const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// The REVISION / CHANGE-CAUSE table, laid out as kubectl's tabwriter does (two spaces of
/// padding after the widest revision).
fn history_table(templates: &BTreeMap<i64, serde_json::Map<String, Value>>) -> String {
    let rows: Vec<(String, String)> = templates
        .iter()
        .map(|(revision, template)| {
            let cause = template["metadata"]["annotations"][CHANGE_CAUSE]
                .as_str()
                .filter(|c| !c.is_empty())
                .unwrap_or("<none>");
            (revision.to_string(), cause.to_owned())
        })
        .collect();
    let width = rows
        .iter()
        .map(|(r, _)| r.len())
        .chain(["REVISION".len()])
        .max()
        .unwrap_or(0)
        + 2;
    std::iter::once(("REVISION".to_owned(), "CHANGE-CAUSE".to_owned()))
        .chain(rows)
        .map(|(revision, cause)| format!("{revision:<width$}{cause}\n"))
        .collect()
}

pub async fn set_image(args: SetImage) -> super::Result {
    let target = Target {
        resource: args.resource.clone(),
        name: None,
        namespace: args.namespace.clone(),
    };
    let (api, names, namespace) = target.selected(args.selector.as_deref()).await?;
    if names.is_empty() {
        eprintln!("No resources found in {namespace} namespace.");
        return Ok(());
    }
    for name in names {
        set_image_of(&api, &name, &args).await?;
    }
    Ok(())
}

/// Sets the images of one MiniDeployment. The patch replaces the container lists, so it names
/// the resourceVersion it was computed from; a conflict (most often the controller's status
/// write in between) means reading again and retrying, as client-go's `RetryOnConflict` does.
async fn set_image_of(api: &Api<MiniDeployment>, name: &str, args: &SetImage) -> super::Result {
    let pairs: Vec<(String, String)> = args
        .images
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(c, i)| (c.to_owned(), i.to_owned()))
                .ok_or(format!("expected CONTAINER=IMAGE, got {pair:?}"))
        })
        .collect::<Result<_, _>>()?;
    let mut attempts = 0;
    let (updated, changed) = loop {
        let d = api.get(name).await?;
        let mut template = d.spec.template.raw().clone();
        let changed = set_images(&mut template, &pairs)?;
        let patch = json!({"metadata": {"resourceVersion": d.resource_version()}, "spec": {"template": {"spec": {
            "containers": template["spec"]["containers"], "initContainers": template["spec"].get("initContainers")
        }}}});
        if args.dry_run == DryRun::Client {
            let mut local = d.clone();
            local.spec.template = serde_json::from_value(Value::Object(template))?;
            break (local, changed);
        }
        match api
            .patch(name, &args.dry_run.patch_params(), &Patch::Merge(&patch))
            .await
        {
            Err(kube::Error::Api(status)) if status.code == 409 && attempts < 4 => attempts += 1,
            result => break (result?, changed),
        }
    };
    if changed {
        let operation = format!("image updated{}", args.dry_run.suffix());
        print_changed(&updated, &operation, args.output)?;
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
    fn durations_read_as_go_reads_kubectls_flags() {
        let ok = |text: &str, millis: u64| {
            assert_eq!(
                parse_go_duration(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        };
        ok("0", 0);
        ok("0s", 0);
        ok("90s", 90_000);
        ok("2m", 120_000);
        ok("1m30s", 90_000);
        ok("1.5h", 5_400_000);
        ok("300ms", 300);
        ok("+5s", 5_000);
        assert_eq!(
            parse_go_duration("60"),
            Err("time: missing unit in duration \"60\"".into())
        );
        assert_eq!(
            parse_go_duration("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".into())
        );
        for bad in ["", "-1s", "s", "1..5s"] {
            assert_eq!(
                parse_go_duration(bad),
                Err(format!("time: invalid duration {bad:?}"))
            );
        }
    }

    #[test]
    fn a_pinned_revision_must_be_the_running_one() {
        let mut d = deployment(
            1,
            json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
        );
        assert_eq!(
            status_message(&d, 2),
            Err("desired revision (2) is different from the running revision (0)".into())
        );
        d.metadata.annotations = Some([(util::REVISION.to_owned(), "2".to_owned())].into());
        assert!(status_message(&d, 2).unwrap().1);
        assert!(status_message(&d, 0).unwrap().1);
        d.metadata.annotations = Some([(util::REVISION.to_owned(), "x".to_owned())].into());
        assert_eq!(
            status_message(&d, 1),
            Err("cannot get the revision of deployment \"web\": strconv.ParseInt: parsing \"x\": invalid syntax".into())
        );
    }

    #[test]
    fn status_messages_follow_kubectl() {
        let msg = |generation, status| status_message(&deployment(generation, status), 0);
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

    fn set(revision: Option<&str>, image: &str, annotations: Value) -> MiniReplicaSet {
        let mut annotations = annotations;
        if let Some(revision) = revision {
            annotations[util::REVISION] = json!(revision);
        }
        serde_json::from_value(json!({
            "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
            "metadata": {"name": format!("web-{image}"), "annotations": annotations},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"labels": {"a": "b", "pod-template-hash": image}},
                "spec": {"containers": [{"name": "app", "image": image}]}}}
        }))
        .unwrap()
    }

    fn web(image: &str, paused: bool, annotations: Value) -> MiniDeployment {
        serde_json::from_value(json!({
            "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniDeployment",
            "metadata": {"name": "web", "resourceVersion": "7", "annotations": annotations},
            "spec": {"replicas": 1, "paused": paused, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}
        }))
        .unwrap()
    }

    #[test]
    fn history_lists_revisions_with_their_change_cause() {
        let sets = [
            set(
                Some("2"),
                "v2",
                json!({"kubernetes.io/change-cause": "image v2"}),
            ),
            set(Some("1"), "v1", json!({})),
            set(Some("x"), "bad", json!({})),
        ];
        assert_eq!(
            history_output("web", &sets, 0).unwrap(),
            "minideployment.minik8s.dev/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         image v2\n\n"
        );
        assert_eq!(
            history_output("web", &[], 0).unwrap(),
            "minideployment.minik8s.dev/web \nNo rollout history found.\n"
        );
        assert_eq!(
            history_output("web", &sets, 3).unwrap_err(),
            "unable to find the specified revision"
        );
        let one = history_output("web", &sets, 2).unwrap();
        assert!(
            one.starts_with("minideployment.minik8s.dev/web with revision #2\nPod Template:\n"),
            "{one}"
        );
        assert!(
            one.contains("  Annotations:\tkubernetes.io/change-cause: image v2\n"),
            "{one}"
        );
        // A set without a revision is revision 0.
        let unrecorded = [set(None, "v0", json!({}))];
        assert!(
            history_output("web", &unrecorded, 0)
                .unwrap()
                .contains("\n0         <none>\n")
        );
    }

    #[test]
    fn undo_checks_before_it_writes_as_kubectl_does() {
        let sets = [
            set(
                Some("1"),
                "v1",
                json!({"kubernetes.io/change-cause": "first"}),
            ),
            set(Some("2"), "v2", json!({})),
        ];
        let d = web("v2", false, json!({util::REVISION: "2", "note": "x"}));
        let plan = |d: &MiniDeployment, sets: &[MiniReplicaSet], to| {
            plan_undo(d, sets, to, "minik8s rollout resume")
        };
        assert_eq!(
            plan(&d, &sets, 5).unwrap_err(),
            "unable to find specified revision 5 in history"
        );
        assert_eq!(
            plan(&d, &sets, -1).unwrap_err(),
            "unable to find specified revision -1 in history"
        );
        assert_eq!(
            plan(&d, &sets[1..], 0).unwrap_err(),
            "no rollout history found for deployment \"web\""
        );
        assert_eq!(
            plan(&d, &sets, 2).unwrap(),
            Undo::Skip("skipped rollback (current template already matches revision 2)".into())
        );
        // The revision is looked up before the pause is: no history wins over paused.
        let paused = web("v2", true, json!({}));
        assert_eq!(
            plan(&paused, &sets[1..], 0).unwrap_err(),
            "no rollout history found for deployment \"web\""
        );
        assert_eq!(
            plan(&paused, &sets, 0).unwrap_err(),
            "you cannot rollback a paused deployment; resume it first with 'minik8s rollout resume' and try again"
        );
        // The template comes back without its hash label; the deployment takes the set's
        // annotations and keeps its own bookkeeping ones.
        let Undo::Patch(patch) = plan(&d, &sets, 0).unwrap() else {
            panic!("a rollback")
        };
        assert_eq!(
            patch,
            json!({"metadata": {"annotations": {"note": null, "kubernetes.io/change-cause": "first"}},
                   "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "v1"}]}}}})
        );
    }

    #[test]
    fn merge_patches_remove_what_is_gone() {
        assert_eq!(
            merge_patch(
                &json!({"a": 1, "b": {"c": 1, "d": 2}}),
                &json!({"b": {"c": 1, "d": 3}, "e": [1]})
            ),
            json!({"a": null, "b": {"d": 3}, "e": [1]})
        );
    }

    #[test]
    fn pause_and_resume_refuse_what_is_already_so() {
        assert_eq!(
            pause_refusal("web", true, true).unwrap(),
            "error: minideployments.minik8s.dev \"web\" is already paused"
        );
        assert_eq!(
            pause_refusal("web", false, false).unwrap(),
            "error: minideployments.minik8s.dev \"web\" is not paused"
        );
        assert_eq!(pause_refusal("web", false, true), None);
        assert_eq!(pause_refusal("web", true, false), None);
    }

    #[test]
    fn restart_stamps_whole_seconds_once_per_second_and_not_when_paused() {
        let now: Timestamp = "2026-01-02T03:04:05.678Z".parse().unwrap();
        let patch = restart_patch(&web("v1", false, json!({})), now).unwrap();
        assert_eq!(
            patch["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT],
            "2026-01-02T03:04:05Z"
        );
        let mut d = web("v1", false, json!({}));
        d.spec.template = serde_json::from_value(json!({"metadata": {"labels": {"a": "b"}, "annotations": {RESTARTED_AT: "2026-01-02T03:04:05Z"}}, "spec": {}})).unwrap();
        assert_eq!(
            restart_patch(&d, now).unwrap_err(),
            "failed to create patch for web: if restart has already been triggered within the past second, please wait before attempting to trigger another"
        );
        assert_eq!(
            restart_patch(&web("v1", true, json!({})), now).unwrap_err(),
            "error: minideployments.minik8s.dev \"web\" can't restart paused deployment (run rollout resume first)"
        );
    }
}
