//! `minik8s compare`: see [`crate::compare`]. Two forms:
//!
//! - `minik8s compare -f web.yaml`: both twins of the manifest created in a fresh namespace
//!   and driven through the same steps;
//! - `minik8s compare deploy/web mdeploy/web`: two existing objects recorded while the user
//!   changes them, until Ctrl-C or `--duration`.

use std::io::IsTerminal;
use std::time::Duration;

use clap::{Args, ValueEnum};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::compare::drive::Sides;
use crate::compare::recorder::Recorder;
use crate::compare::summary::Replay;
use crate::compare::{Recording, Side, Step, Summary, Workload, render, report, steps, twin};

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Two existing objects to record: `deploy/NAME mdeploy/NAME` or `rs/NAME mrs/NAME`.
    #[arg(value_name = "TYPE/NAME", num_args = 0..=2, conflicts_with_all = ["filename", "steps"])]
    objects: Vec<String>,
    /// A Deployment, ReplicaSet, MiniDeployment, MiniReplicaSet or Pod manifest (`-` for
    /// stdin).
    #[arg(short, long, value_name = "FILE")]
    filename: Option<String>,
    /// The steps, e.g. `create,wait,scale 8,image web=nginx:1.28,wait,undo,wait`, or
    /// `@FILE` for a file of them (one per line). Default: create, wait, scale up by 2, roll
    /// to the next image tag (a set: delete 2 pods), wait, undo, wait.
    #[arg(long)]
    steps: Option<String>,
    /// The image the default steps roll to (default: the first container's tag plus one).
    #[arg(long)]
    image: Option<String>,
    /// Namespace: for a manifest, one to create both twins in (default: a fresh one, removed
    /// afterwards); for existing objects, theirs (default: the kubeconfig context's).
    #[arg(short, long)]
    namespace: Option<String>,
    /// Keep the fresh namespace and its objects afterwards.
    #[arg(long)]
    keep: bool,
    /// How long a step may take on each side (`90s`, `2m`).
    #[arg(long, default_value = "3m", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// For existing objects: stop recording after this long (default: at Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// The minik8s side of a pod: the scheduler name it is for.
    #[arg(long, default_value = "minik8s-scheduler")]
    scheduler_name: String,
    /// Exit non-zero when the twins differ.
    #[arg(long)]
    strict: bool,
    /// Output: the terminal table, or the whole recording and summary as JSON.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Also write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE.html")]
    report: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

pub async fn run(args: CompareArgs) -> super::Result {
    let client = crate::runtime::kubeconfig::client().await?;
    let recording = match (&args.filename, args.objects.as_slice()) {
        (Some(file), []) => from_manifest(&args, client, file).await?,
        (None, [a, b]) => existing(&args, client, a, b).await?,
        (None, []) => {
            return Err(
                "give a manifest (-f FILE) or two objects (deploy/NAME mdeploy/NAME)".into(),
            );
        }
        _ => return Err("give two objects to compare, e.g. deploy/web mdeploy/web".into()),
    };
    let summary = crate::compare::summarize(&recording);
    match args.output {
        Output::Text => print!("{}", render::text(&recording, &summary)),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({"recording": recording, "summary": summary}))?
        ),
    }
    if let Some(path) = &args.report {
        let page =
            report::html(&recording, &summary).map_err(|e| format!("drawing the report: {e}"))?;
        std::fs::write(path, page).map_err(|e| format!("writing {}: {e}", path.display()))?;
        if args.output == Output::Text {
            println!("report: {}", path.display());
        }
    }
    strict_outcome(args.strict, &summary)
}

fn strict_outcome(strict: bool, summary: &Summary) -> super::Result {
    match summary.differences.len() {
        1 if strict => Err("the twins differed in 1 way (--strict)".into()),
        n if strict && n > 0 => Err(format!("the twins differed in {n} ways (--strict)").into()),
        _ => Ok(()),
    }
}

/// The objects of a manifest file: one to compare, and for a service, the Deployment or
/// ReplicaSet of its pods, created once for both sides.
fn read_manifest(file: &str) -> Result<(Value, Vec<Value>), super::Error> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?
    };
    let mut documents: Vec<Value> = serde_norway::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).map_err(|e| format!("{file}: {e}")))
        .collect::<Result<Vec<Value>, String>>()?
        .into_iter()
        .filter(|d| !d.is_null())
        .collect();
    let is_service = |d: &Value| {
        Workload::of_kind(d["kind"].as_str().unwrap_or_default())
            .is_some_and(|(w, _)| w == Workload::Service)
    };
    match documents.iter().filter(|d| is_service(d)).count() {
        0 if documents.len() == 1 => Ok((documents.remove(0), Vec::new())),
        0 if documents.is_empty() => Err(format!("{file} holds no object").into()),
        0 => Err(format!(
            "{file} holds {} objects; give one (or a service and its pods' workload)",
            documents.len()
        )
        .into()),
        1 => {
            let at = documents.iter().position(is_service).expect("counted");
            let service = documents.remove(at);
            Ok((service, documents))
        }
        n => Err(format!("{file} holds {n} services; give one").into()),
    }
}

fn the_steps(
    args: &CompareArgs,
    twins: &twin::Twins,
    backends: &[Value],
) -> Result<Vec<Step>, super::Error> {
    let mut steps = match &args.steps {
        Some(text) => {
            let text = match text.strip_prefix('@') {
                Some(file) => {
                    std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?
                }
                None => text.clone(),
            };
            steps::parse_steps(&text)?
        }
        None => {
            let replicas = match twins.workload {
                Workload::Service => backends
                    .first()
                    .map_or(0, |b| b["spec"]["replicas"].as_i64().unwrap_or(1) as i32),
                _ => twins.objects[0]["spec"]["replicas"].as_i64().unwrap_or(1) as i32,
            };
            let rollout = match twins.workload {
                Workload::ReplicaSet | Workload::Pod | Workload::Service => None,
                Workload::Deployment => {
                    let (container, image) = twin::first_container(&twins.objects[0])
                        .ok_or("the pod template has no container")?;
                    let next = args.image.clone().or_else(|| steps::next_image(&image)).ok_or_else(|| {
                        format!("cannot guess the image to roll {container}={image} to; pass --image IMAGE or --steps")
                    })?;
                    Some((container, next))
                }
            };
            steps::default_steps(twins.workload, replicas, rollout)
        }
    };
    if steps.first() != Some(&Step::Create) {
        steps.insert(0, Step::Create);
    }
    for step in &steps {
        step.check(twins.workload)?;
    }
    Ok(steps)
}

async fn from_manifest(
    args: &CompareArgs,
    client: Client,
    file: &str,
) -> Result<Recording, super::Error> {
    let (manifest, mut backends) = read_manifest(file)?;
    let twins = twin::derive(&manifest, &args.scheduler_name)?;
    let steps = the_steps(args, &twins, &backends)?;
    for backend in &mut backends {
        if let Some(metadata) = backend["metadata"].as_object_mut() {
            metadata.remove("namespace");
        }
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let (namespace, fresh) = match &args.namespace {
        Some(ns) => (ns.clone(), false),
        None => (
            format!("compare-{}-{}", truncate_name(&twins.name), suffix()),
            true,
        ),
    };
    let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    match namespaces
        .create(&PostParams::default(), &serde_json::from_value(object)?)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 && !fresh => {}
        Err(e) => return Err(format!("creating namespace {namespace}: {e}").into()),
    }
    let names = twins.names.clone();
    let recorder =
        Recorder::start(client.clone(), &namespace, twins.workload, names.clone()).await?;
    let sides = Sides {
        client: client.clone(),
        namespace: namespace.clone(),
        workload: twins.workload,
        names,
        objects: Some(twins.objects.clone()),
        backends,
        recorder: &recorder,
        timeout: args.timeout,
    };
    let progress = Progress::start(&recorder, steps.len());
    for step in &steps {
        sides.run(step).await;
        let failed = recorder.read(|r| {
            r.steps
                .last()
                .is_some_and(|s| s.failed.iter().any(Option::is_some))
        });
        if failed {
            break;
        }
        // The watches of sets and pods can trail the one that ended the step by a moment.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Events are written a moment after what they report.
    tokio::time::sleep(Duration::from_secs(1)).await;
    progress.stop();
    let recording = recorder.stop();
    if fresh && !args.keep {
        let _ = namespaces
            .delete(&namespace, &DeleteParams::default())
            .await;
    }
    Ok(recording)
}

async fn existing(
    args: &CompareArgs,
    client: Client,
    a: &str,
    b: &str,
) -> Result<Recording, super::Error> {
    let parse = |text: &str| -> Result<(Workload, Side, String), String> {
        let (kind, name) = text
            .split_once('/')
            .ok_or_else(|| format!("expected TYPE/NAME, got {text:?}"))?;
        let (workload, side) = Workload::of_kind(kind)
            .ok_or_else(|| format!("{kind:?} is none of deploy, mdeploy, rs, mrs"))?;
        Ok((workload, side, name.to_owned()))
    };
    let (wa, sa, na) = parse(a)?;
    let (wb, sb, nb) = parse(b)?;
    if wa == Workload::Pod || wb == Workload::Pod {
        return Err("existing pods are not recorded: give a pod manifest (-f), and compare creates its twin for each scheduler".into());
    }
    if wa != wb || sa == sb {
        return Err(format!("{a} and {b} are not twins: give a built-in object and its minik8s kind (deploy/… mdeploy/… or rs/… mrs/…)").into());
    }
    let mut names = [String::new(), String::new()];
    names[sa.index()] = na;
    names[sb.index()] = nb;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let recorder = Recorder::start(client, &namespace, wa, names.clone()).await?;
    let missing: Vec<String> = recorder.read(|r| {
        let replay = Replay::at_end(r);
        Side::BOTH
            .into_iter()
            .filter(|s| replay.tops[s.index()].is_none())
            .map(|s| format!("{} {:?}", wa.type_meta(s).1, names[s.index()]))
            .collect()
    });
    if !missing.is_empty() {
        return Err(format!("not found in namespace {namespace}: {}", missing.join(", ")).into());
    }
    let index = recorder.step_started(Step::Observe);
    let progress = Progress::start(&recorder, 1);
    if std::io::stderr().is_terminal() {
        eprintln!("recording; change the two objects as you like, Ctrl-C to stop");
    }
    match args.duration {
        Some(d) => tokio::time::sleep(d).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    progress.stop();
    for side in Side::BOTH {
        recorder.step_ended(index, side, Ok(()));
    }
    Ok(recorder.stop())
}

fn truncate_name(name: &str) -> &str {
    &name[..name.len().min(40)]
}

/// Five characters that make a fresh namespace's name unique.
fn suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos()) as u64;
    let mut x = nanos ^ (std::process::id() as u64).rotate_left(32);
    (0..5)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            b"bcdfghjklmnpqrstvwxz2456789"[(x >> 33) as usize % 27] as char
        })
        .collect()
}

/// One line per side on the terminal (step, pods ready/desired), redrawn in place; nothing
/// when stderr is not a terminal.
struct Progress(Option<tokio::task::JoinHandle<()>>);

impl Progress {
    fn start(recorder: &Recorder, steps: usize) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let view = recorder.view();
        Progress(Some(tokio::spawn(async move {
            let mut drawn = false;
            loop {
                let text = view.read(|r| progress_lines(r, steps));
                if drawn {
                    eprint!("\x1b[2A");
                }
                eprint!("\x1b[2K{}\n\x1b[2K{}\n", text[0], text[1]);
                drawn = true;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })))
    }

    fn stop(self) {
        if let Some(task) = self.0 {
            task.abort();
        }
    }
}

fn progress_lines(recording: &Recording, steps: usize) -> [String; 2] {
    let replay = Replay::at_end(recording);
    let step = recording.steps.last();
    Side::BOTH.map(|side| {
        let (n, text, done) = match step {
            Some(s) => (
                recording.steps.len(),
                s.step.to_string(),
                match (&s.done_ms[side.index()], &s.failed[side.index()]) {
                    (Some(_), _) => " done",
                    (_, Some(_)) => " failed",
                    _ => "",
                },
            ),
            None => (0, "starting".to_owned(), ""),
        };
        format!(
            "{:<9} step {n}/{steps} {text}{done}: {}/{} pods ready",
            side.label(),
            replay.pods_ready(side),
            replay
                .desired(side)
                .map_or("-".to_owned(), |d| d.to_string())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strict_runs_fail_on_differences() {
        let recording = Recording::default();
        let mut summary = crate::compare::summarize(&recording);
        assert!(strict_outcome(true, &summary).is_ok());
        summary.differences.push("x".into());
        assert!(strict_outcome(false, &summary).is_ok());
        assert_eq!(
            strict_outcome(true, &summary).unwrap_err().to_string(),
            "the twins differed in 1 way (--strict)"
        );
    }
}
