//! `minik8s compare` against the local control plane: the built-in controllers and minik8s'
//! (in this process) driven through the same steps, the report opened in headless Chromium.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use minik8s::api::MiniDeployment;
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace, eventually};

fn deployment(name: &str, replicas: i32, max_surge: i32) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": 1}},
            "template": {
                "metadata": {
                    "labels": {"app": name},
                    "annotations": {"sim.minik8s.dev/behavior": "ready-after", "sim.minik8s.dev/ready-after": "1s"}
                },
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
            }
        }
    })
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(crate::common::unique_name(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `objects` as one YAML file `file` in `dir`.
fn write_manifest(dir: &Path, file: &str, objects: &[Value]) -> PathBuf {
    let documents: Vec<String> = objects
        .iter()
        .map(|o| serde_norway::to_string(o).unwrap())
        .collect();
    let path = dir.join(file);
    std::fs::write(&path, documents.join("---\n")).unwrap();
    path
}

async fn compare(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_minik8s"))
        .arg("compare")
        .args(args)
        .output()
        .await
        .expect("running minik8s compare")
}

fn json_output(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "compare -o json printed no JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn differences(output: &Value) -> Vec<String> {
    serde_json::from_value(output["summary"]["differences"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_steps_show_no_difference_between_the_twins() {
    let ns = TestNamespace::new("compare").await;
    let _controllers = Controllers::start(&ns.name, None);
    let manifest = write_manifest(
        &scratch_dir("compare"),
        "web.yaml",
        &[deployment("web", 4, 1)],
    );
    let output = compare(&[
        "-f",
        manifest.to_str().unwrap(),
        "--namespace",
        &ns.name,
        "--timeout",
        "90s",
        "--strict",
        "-o",
        "json",
    ])
    .await;
    let json = json_output(&output);
    assert_eq!(differences(&json), Vec::<String>::new());
    assert!(
        output.status.success(),
        "--strict with no difference exits 0"
    );
    let steps: Vec<String> = json["summary"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        steps,
        [
            "create",
            "wait",
            "scale 6",
            "image web=nginx:1.28",
            "wait",
            "undo",
            "wait"
        ]
    );
    for step in json["summary"]["steps"].as_array().unwrap() {
        for side in step["sides"].as_array().unwrap() {
            assert!(
                side["seconds"].is_number(),
                "{step} completed on both sides"
            );
        }
    }
    // Both ended on revision 3 (the undo), with the old image, 6 pods available.
    for side in json["summary"]["final_state"].as_array().unwrap() {
        assert_eq!(side["available"], 6);
        assert_eq!(
            side["sets"],
            json!([[2, "nginx:1.28", 0], [3, "nginx:1.27", 6]])
        );
    }
    ns.cleanup().await;
}

/// Two hand-made objects recorded while they are changed: the one setting that differs is
/// the one difference, and `--strict` fails on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_objects_that_differ_in_max_surge_differ_in_exactly_that() {
    let ns = TestNamespace::new("compare-existing").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<Deployment>(deployment("web-builtin", 4, 1))
        .await
        .unwrap();
    let mut mini = deployment("web", 4, 2);
    mini["apiVersion"] = json!("minik8s.dev/v1alpha1");
    mini["kind"] = json!("MiniDeployment");
    ns.create::<MiniDeployment>(mini).await.unwrap();
    eventually(Duration::from_secs(60), "both available", || async {
        let b = ns.api::<Deployment>().get("web-builtin").await.unwrap();
        let m = ns.api::<MiniDeployment>().get("web").await.unwrap();
        b.status.and_then(|s| s.available_replicas) == Some(4)
            && m.status.and_then(|s| s.status.available_replicas) == Some(4)
    })
    .await;
    let namespace = ns.name.clone();
    let recording = tokio::spawn(async move {
        compare(&[
            "deploy/web-builtin",
            "mdeploy/web",
            "-n",
            &namespace,
            "--duration",
            "12s",
            "--strict",
            "-o",
            "json",
        ])
        .await
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}});
    ns.api::<Deployment>()
        .patch(
            "web-builtin",
            &PatchParams::default(),
            &Patch::Merge(&image),
        )
        .await
        .unwrap();
    ns.api::<MiniDeployment>()
        .patch("web", &PatchParams::default(), &Patch::Merge(&image))
        .await
        .unwrap();
    let output = recording.await.unwrap();
    let json = json_output(&output);
    assert_eq!(
        differences(&json),
        ["spec: strategy.rollingUpdate.maxSurge: built-in 1, minik8s 2"]
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "--strict fails on a difference"
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "error: the twins differed in 1 way (--strict)"
    );
    // The rollout was recorded: a second set on each side, scaled up to 4.
    for side in json["summary"]["final_state"].as_array().unwrap() {
        assert_eq!(side["sets"][1], json!([2, "nginx:1.28", 4]));
    }
    let missing = compare(&[
        "deploy/nothing",
        "mdeploy/web",
        "-n",
        &ns.name,
        "--duration",
        "1s",
    ])
    .await;
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        format!(
            "error: not found in namespace {}: Deployment \"nothing\"",
            ns.name
        )
    );
    ns.cleanup().await;
}

/// The headless Chromium the browser test uses: `MINIK8S_CHROMIUM`, or one on the PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("MINIK8S_CHROMIUM") {
        return path.into();
    }
    let names = [
        "chromium-headless-shell",
        "chrome-headless-shell",
        "chromium",
        "chromium-browser",
    ];
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .flat_map(|dir| names.map(|n| dir.join(n)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no headless Chromium found: run tests/cluster/install-chromium.sh (it installs \
                 Debian's chromium-headless-shell), or set MINIK8S_CHROMIUM to one"
            )
        })
}

fn chromium_run(page: &Path, args: &[&str]) -> Output {
    std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args([
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1100,2400",
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running headless Chromium")
}

/// Fraction of the screenshot's pixels of about this colour.
fn share_of(png_path: &Path, color: [u8; 3]) -> f64 {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buffer[..info.buffer_size()];
    let near = pixels
        .chunks(channels)
        .filter(|p| (0..3).all(|i| (p[i] as i32 - color[i] as i32).abs() <= 12))
        .count();
    near as f64 / (pixels.len() / channels) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_opens_in_a_browser_with_its_charts_drawn() {
    let browser = chromium();
    let ns = TestNamespace::new("compare-report").await;
    let _controllers = Controllers::start(&ns.name, None);
    let dir = scratch_dir("compare-report");
    let manifest = write_manifest(&dir, "web.yaml", &[deployment("web", 2, 1)]);
    let report = dir.join("report.html");
    let output = compare(&[
        "-f",
        manifest.to_str().unwrap(),
        "--namespace",
        &ns.name,
        "--steps",
        "create, wait, scale 4, image web=nginx:1.28, wait",
        "--report",
        report.to_str().unwrap(),
    ])
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("differences: none"), "{text}");
    assert!(
        text.contains(&format!("report: {}", report.display())),
        "{text}"
    );

    let dom = chromium_run(&report, &["--dump-dom"]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "{} failed: {log}", browser.display());
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "the page logged to the console: {console:?}"
    );
    assert!(
        dom_text.contains("data-charts=\"4\""),
        "the page's script saw four charts"
    );
    for expected in [
        "id=\"differences\"",
        "id=\"steps\"",
        "id=\"scaling\"",
        "id=\"events\"",
        "ScalingReplicaSet",
        "<polyline",
        "rev2",
    ] {
        assert!(dom_text.contains(expected), "the page has {expected}");
    }

    let png = dir.join("report.png");
    let shot = chromium_run(&report, &[&format!("--screenshot={}", png.display())]);
    assert!(
        shot.status.success() && png.is_file(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    // The pods lines (blue, green) and the sets' stacked areas (tinted blue, orange) show.
    for (what, color) in [
        ("pods line", [66, 133, 244]),
        ("ready line", [52, 168, 83]),
        ("rev1 area", [179, 206, 250]),
        ("rev2 area", [253, 209, 153]),
    ] {
        let share = share_of(&png, color);
        assert!(share > 0.0005, "{what} drawn: {share:.5} of the pixels");
    }
    ns.cleanup().await;
}

/// A pod and its twin for minik8s-scheduler: both bound, no difference; a pod that fits
/// nowhere is unschedulable on both sides alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_is_placed_by_both_schedulers_alike() {
    let ns = TestNamespace::new("compare-pod").await;
    let scheduler_name = crate::common::unique_name("compare-scheduler");
    let scheduler = crate::scheduler::Scheduler::start(&scheduler_name);
    let dir = scratch_dir("compare-pod");
    for (name, cpu, bound) in [("small", "100m", true), ("huge", "5000", false)] {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "containers": [{"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": cpu}}}]
            }
        });
        let manifest = write_manifest(&dir, &format!("{name}.yaml"), &[pod]);
        let output = compare(&[
            "-f",
            manifest.to_str().unwrap(),
            "--namespace",
            &ns.name,
            "--scheduler-name",
            &scheduler_name,
            "--strict",
            "-o",
            "json",
        ])
        .await;
        let json = json_output(&output);
        assert_eq!(differences(&json), Vec::<String>::new(), "{name}");
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        for side in json["summary"]["final_state"].as_array().unwrap() {
            assert_eq!(side["node"].is_string(), bound, "{name}: {side}");
        }
        let reasons = &json["summary"]["event_reasons"];
        let expected = if bound {
            "Scheduled"
        } else {
            "FailedScheduling"
        };
        for side in [0, 1] {
            assert!(reasons[side][expected].is_number(), "{name}: {reasons}");
        }
    }
    let refused = compare(&[
        "-f",
        dir.join("small.yaml").to_str().unwrap(),
        "--steps",
        "create, scale 2",
    ])
    .await;
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).trim(),
        "error: scale 2: a pod (only create and wait) cannot take this step"
    );
    scheduler.stop().await;
    ns.cleanup().await;
}

/// A Service and its MiniService over the pods of one Deployment (in the same file), through
/// the default steps (scale up, delete two pods, scale back): the same addresses throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_and_its_miniservice_keep_the_same_endpoints() {
    let ns = TestNamespace::new("compare-svc").await;
    let _controllers = Controllers::start(&ns.name, None);
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    });
    let backend = deployment("web", 3, 1);
    let manifest = write_manifest(&scratch_dir("compare-svc"), "web.yaml", &[service, backend]);
    let output = compare(&[
        "-f",
        manifest.to_str().unwrap(),
        "--namespace",
        &ns.name,
        "--strict",
        "-o",
        "json",
    ])
    .await;
    let json = json_output(&output);
    assert_eq!(differences(&json), Vec::<String>::new());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let steps: Vec<&str> = json["summary"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "create",
            "wait",
            "scale 5",
            "wait",
            "delete-pods 2",
            "wait",
            "scale 3",
            "wait"
        ]
    );
    for side in json["summary"]["final_state"].as_array().unwrap() {
        let endpoints = &side["endpoints"];
        assert_eq!(endpoints["ready"].as_array().unwrap().len(), 3, "{side}");
        assert_eq!(endpoints["ports"], json!(["http/8080/TCP"]), "{side}");
    }
    ns.cleanup().await;
}
