//! The scenarios. Each starts minik8s as processes (so that SIGKILL is a real crash), checks
//! the invariants at every pod event while the fault runs, and then exact convergence.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams};
use minik8s::api::{MiniDeployment, MiniService};
use serde_json::json;

use super::invariants::{Bounds, Invariants};
use super::proxy::FaultyProxy;
use super::*;
use crate::common::{TestNamespace, eventually, unique_name, within};

async fn service_for(ns: &TestNamespace, name: &str) {
    let service = json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": "http"}]}
    });
    ns.create::<MiniService>(service).await.unwrap();
}

/// The controller manager and the scheduler SIGKILLed every few seconds while a MiniDeployment
/// rolls (rolled again whenever a rollout completes, so that every kill lands mid-rollout),
/// then left running: never more than replicas + maxSurge pods, never fewer available than
/// replicas − maxUnavailable, no pod bound twice; then the rollout completes, the sets and
/// revisions are those of the same rollouts without kills, and the MiniEndpoints lists exactly
/// the pods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_and_scheduler_killed_during_rollouts() {
    let size = size();
    let ns = TestNamespace::new("chaos-kill").await;
    let name = "web";
    let scheduler_name = unique_name("chaos-scheduler");
    let replicas = size.replicas;
    let namespace = ns.name.clone();
    // QPS 20: a rollout takes long enough for several kills to land in it.
    let mut controllers = Restartable::start(move || controller_manager(&namespace, 20, None));
    let scheduler_for = scheduler_name.clone();
    let mut scheduler_process = Restartable::start(move || scheduler(&scheduler_for));

    let mut images = vec!["app:1".to_owned()];
    ns.create::<MiniDeployment>(deployment(
        name,
        replicas,
        &images[0],
        Some(&scheduler_name),
    ))
    .await
    .unwrap();
    service_for(&ns, name).await;
    eventually(Duration::from_secs(180), "the first rollout", || {
        rolled_out(&ns, name, &images[0], replicas)
    })
    .await;

    let (most, fewest) = rolling_bounds(replicas);
    let invariants = Invariants::watch(&ns, name, Bounds::rolling(replicas)).await;
    images.push("app:2".into());
    set_image(&ns, name, images.last().unwrap()).await;
    for _ in 0..size.kills {
        tokio::time::sleep(size.kill_every).await;
        assert!(
            controllers.is_running(),
            "the controller manager exited by itself"
        );
        assert!(
            scheduler_process.is_running(),
            "the scheduler exited by itself"
        );
        controllers.kill_and_restart();
        scheduler_process.kill_and_restart();
        if rolled_out(&ns, name, images.last().unwrap(), replicas).await {
            images.push(format!("app:{}", images.len() + 1));
            set_image(&ns, name, images.last().unwrap()).await;
        }
    }
    let last_kill = Instant::now();
    eventually(
        Duration::from_secs(180),
        "convergence after the kills",
        || async {
            rolled_out(&ns, name, images.last().unwrap(), replicas).await
                && endpoints_match_pods(&ns, name).await
        },
    )
    .await;
    let converged = last_kill.elapsed();
    let seen = invariants.seen();
    record(
        "controller-and-scheduler-kills",
        json!({
            "replicas": replicas, "kills": controllers.restarts, "scheduler_kills": scheduler_process.restarts,
            "rollouts": images.len() - 1, "max_pods": seen.max_active, "bound": most,
            "min_available": seen.min_available, "available_bound": fewest,
            "events_checked": seen.events, "converged_seconds": converged.as_secs_f64(),
        }),
    );
    assert_held("kills", &seen);
    sets_as_without_faults(&ns, &images, replicas).await;
    ns.cleanup().await;
}

/// 10 % of a MiniDeployment's pods deleted every second while the controllers run at QPS 20:
/// never more pods than replicas, and exactly replicas afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_deleted_at_random_every_second() {
    let size = size();
    let ns = TestNamespace::new("chaos-pods").await;
    let name = "web";
    let replicas = if size.full { 100 } else { 40 };
    let namespace = ns.name.clone();
    let mut controllers = Restartable::start(move || controller_manager(&namespace, 20, None));
    ns.create::<MiniDeployment>(deployment(name, replicas, "app:1", None))
        .await
        .unwrap();
    eventually(Duration::from_secs(120), "the rollout", || {
        rolled_out(&ns, name, "app:1", replicas)
    })
    .await;
    let invariants = Invariants::watch(
        &ns,
        name,
        Bounds::at_most(&Arc::new(AtomicUsize::new(replicas as usize))),
    )
    .await;
    let pods = ns.api::<Pod>();
    let (mut deleted, mut round) = (0usize, 0usize);
    let start = Instant::now();
    while start.elapsed() < size.pod_chaos {
        let mut names: Vec<String> = active_pods(&ns, name)
            .await
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect();
        names.sort();
        // A different tenth each round: every stride-th pod from a rotating offset.
        let stride = 10;
        for victim in names.iter().skip(round % stride).step_by(stride) {
            if pods.delete(victim, &DeleteParams::default()).await.is_ok() {
                deleted += 1;
            }
        }
        round += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let stopped = Instant::now();
    eventually(
        Duration::from_secs(120),
        "exactly the replicas again",
        || rolled_out(&ns, name, "app:1", replicas),
    )
    .await;
    let converged = stopped.elapsed();
    assert!(controllers.is_running(), "the controller manager exited");
    let seen = invariants.seen();
    record(
        "pod-chaos",
        json!({
            "replicas": replicas, "rounds": round, "pods_deleted": deleted, "max_pods": seen.max_active,
            "bound": replicas, "events_checked": seen.events, "converged_seconds": converged.as_secs_f64(),
        }),
    );
    assert!(deleted >= round, "the chaos deleted pods");
    assert_held("pod chaos", &seen);
    ns.cleanup().await;
}

/// The controller manager talks to the API server through a proxy that stalls every
/// connection for a while, then cuts them all, during two scale-ups: no pod is created twice
/// (never more than the replicas asked for), the watches recover (a later scale-up is
/// served), and the count is exact afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_that_stalls_and_cuts_connections() {
    let ns = TestNamespace::new("chaos-net").await;
    let name = "web";
    let upstream = api_server_address();
    let proxy = FaultyProxy::start(upstream).await;
    let kubeconfig = kubeconfig_through(&proxy, &ns.name);
    let namespace = ns.name.clone();
    let config = kubeconfig.clone();
    let _controllers =
        Restartable::start(move || controller_manager(&namespace, 20, Some(&config)));
    let steps = [20, 40, 60];
    ns.create::<MiniDeployment>(deployment(name, steps[0], "app:1", None))
        .await
        .unwrap();
    eventually(Duration::from_secs(120), "the first pods", || {
        rolled_out(&ns, name, "app:1", steps[0])
    })
    .await;
    let bound = Arc::new(AtomicUsize::new(steps[0] as usize));
    let invariants = Invariants::watch(&ns, name, Bounds::at_most(&bound)).await;
    let mut cut = 0;
    for replicas in &steps[1..] {
        bound.store(*replicas as usize, std::sync::atomic::Ordering::SeqCst);
        let scale = json!({"spec": {"replicas": replicas}});
        ns.api::<MiniDeployment>()
            .patch(name, &PatchParams::default(), &Patch::Merge(&scale))
            .await
            .unwrap();
        cut += proxy.stall_mid_flight_then_cut().await;
        let back = Instant::now();
        eventually(
            Duration::from_secs(120),
            "the scale-up after the faults",
            || rolled_out(&ns, name, "app:1", *replicas),
        )
        .await;
        println!(
            "scaled to {replicas} {:?} after the network came back",
            back.elapsed()
        );
    }
    let seen = invariants.seen();
    record(
        "network-faults",
        json!({
            "replicas": steps, "connections_cut": cut, "max_pods": seen.max_active,
            "events_checked": seen.events,
        }),
    );
    assert!(cut > 0, "the proxy carried the controller's connections");
    assert_held("network faults", &seen);
    let _ = std::fs::remove_file(&kubeconfig);
    ns.cleanup().await;
}

/// minik8s-scheduler and the MiniService controllers (alone in a controller manager of their
/// own) talk to the API server through a proxy that stalls every connection for a while and
/// then cuts them all, during a scale-up, a rollout and another scale-up; the workload's own
/// controllers talk to it directly. At every event: no pod bound twice, no more pods than
/// asked for (at most the surge in the rollout), no slice over its limit (10 endpoints here,
/// so the pods spread over several slices), no address listed twice in a slice, no endpoint
/// naming a pod that never had its address. Afterwards every pod is bound and the
/// MiniEndpoints and the slices list exactly the pods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_fault_between_the_scheduler_and_endpoints_controllers_and_the_api_server() {
    use super::slices::{SliceInvariants, serving_state, slices_match_pods};
    const PER_SLICE: usize = 10;
    let ns = TestNamespace::new("chaos-serving-net").await;
    let name = "web";
    let service = format!("mini-{name}");
    let scheduler_name = unique_name("chaos-net-scheduler");
    let proxy = FaultyProxy::start(api_server_address()).await;
    let kubeconfig = kubeconfig_through(&proxy, &ns.name);
    let namespace = ns.name.clone();
    let _workload = Restartable::start(move || {
        let mut command = controller_manager(&namespace, 20, None);
        command.args(["--controllers", "replicaset,deployment"]);
        command
    });
    let (namespace, config) = (ns.name.clone(), kubeconfig.clone());
    let mut serving = Restartable::start(move || {
        let mut command = controller_manager(&namespace, 20, Some(&config));
        command
            .args(["--controllers", "endpoints,endpointslice"])
            .args(["--max-endpoints-per-slice", &PER_SLICE.to_string()]);
        command
    });
    let (scheduler_for, config) = (scheduler_name.clone(), kubeconfig.clone());
    let mut placer = Restartable::start(move || {
        let mut command = scheduler(&scheduler_for);
        command.env("KUBECONFIG", &config);
        command
    });

    let first = 20;
    ns.create::<MiniDeployment>(deployment(name, first, "app:1", Some(&scheduler_name)))
        .await
        .unwrap();
    service_for(&ns, name).await;
    let (ns_ref, service_ref) = (&ns, service.as_str());
    let all_serve = move |replicas: i32, image: &'static str| async move {
        rolled_out(ns_ref, name, image, replicas).await
            && endpoints_match_pods(ns_ref, name).await
            && slices_match_pods(ns_ref, service_ref, name, PER_SLICE).await
    };
    eventually(Duration::from_secs(120), "the first pods served", || {
        all_serve(first, "app:1")
    })
    .await;
    let bound = Arc::new(AtomicUsize::new(first as usize));
    let invariants = Invariants::watch(&ns, name, Bounds::at_most(&bound)).await;
    let slices = SliceInvariants::watch(&ns, &service, name, PER_SLICE).await;

    // (replicas, image): a scale-up, a rollout (surge: 25 % more pods at most), a scale-up.
    let steps = [(40, "app:1"), (40, "app:2"), (60, "app:2")];
    let (mut cut, mut recovered) = (0, Vec::new());
    for (replicas, image) in steps {
        bound.store(
            rolling_bounds(replicas).0,
            std::sync::atomic::Ordering::SeqCst,
        );
        scale_and_set_image(&ns, name, replicas, image).await;
        cut += proxy.stall_mid_flight_then_cut().await;
        let back = Instant::now();
        let served = within(Duration::from_secs(120), async {
            while !all_serve(replicas, image).await {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(
            served.is_some(),
            "timed out after 120 s waiting for {replicas} pods of {image} bound and served \
             after the faults; what the cluster holds:\n{}",
            serving_state(&ns, name, &service).await
        );
        recovered.push(back.elapsed().as_secs_f64());
    }
    assert!(serving.is_running(), "the MiniService controllers exited");
    assert!(placer.is_running(), "the scheduler exited");
    let seen = invariants.seen();
    let slices_seen = slices.seen();
    let slice_breaches = slices_seen.breaches();
    record(
        "serving-network-faults",
        json!({
            "steps": steps.iter().map(|(r, i)| format!("{r} × {i}")).collect::<Vec<_>>(),
            "connections_cut": cut, "served_again_seconds": recovered,
            "max_pods": seen.max_active, "pod_events_checked": seen.events,
            "slice_events_checked": slices_seen.events, "most_slices": slices_seen.most_slices,
            "most_in_a_slice": slices_seen.most_in_a_slice, "slice_limit": PER_SLICE,
        }),
    );
    assert!(
        cut > 0,
        "the proxy carried the scheduler's and the controllers' connections"
    );
    assert!(
        slices_seen.most_slices > 1,
        "the pods spread over several slices"
    );
    assert_held("serving network faults", &seen);
    assert!(
        slice_breaches.is_empty(),
        "slice invariants broken ({} times), first: {:?}",
        slice_breaches.len(),
        &slice_breaches[..slice_breaches.len().min(5)]
    );
    let _ = std::fs::remove_file(&kubeconfig);
    ns.cleanup().await;
}

/// The API server's address from KUBECONFIG (the local control plane serves on 127.0.0.1).
pub(super) fn api_server_address() -> std::net::SocketAddr {
    use std::net::ToSocketAddrs;
    let server = crate::common::kubectl(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let authority = server
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/');
    authority
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("API server address {authority}: {e}"))
        .next()
        .unwrap()
}

/// A copy of the current kubeconfig whose server is the proxy (same host, so the API
/// server's certificate still matches).
pub(super) fn kubeconfig_through(proxy: &FaultyProxy, namespace: &str) -> std::path::PathBuf {
    let raw = crate::common::kubectl(&[
        "config",
        "view",
        "--minify",
        "--raw",
        "--flatten",
        "-o",
        "json",
    ]);
    let mut config: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let server = config["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_owned();
    let host = server
        .trim_start_matches("https://")
        .rsplit_once(':')
        .unwrap()
        .0
        .to_owned();
    config["clusters"][0]["cluster"]["server"] =
        json!(format!("https://{host}:{}", proxy.address.port()));
    let path = std::env::temp_dir().join(format!("{namespace}-proxied-kubeconfig.json"));
    std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
    path
}

/// The API server restarted in the middle of a rollout and of a scale-up, then etcd in the
/// middle of another rollout: the controllers re-list, resume and converge within 30 s of
/// the API server serving again, with no surplus pods at any event. It restarts the shared
/// API server, so `make chaos` runs it alone (`--include-ignored`, one test at a time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared API server and etcd: `make chaos` runs it on a cluster of its own"]
async fn api_server_and_etcd_restarted_mid_rollout_and_mid_scale_up() {
    use super::control_plane::{ControlPlaneProcess, Supervised};
    let size = size();
    // kube-controller-manager and kube-scheduler exit when the API server is away longer than
    // their lease; the kubelet of a control-plane node would start them again.
    let supervised = std::sync::Arc::new(std::sync::Mutex::new(Supervised::of(&[
        "kube-controller-manager",
        "kube-scheduler",
    ])));
    let supervisor = {
        let supervised = supervised.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                supervised.lock().unwrap().restart_exited();
            }
        })
    };
    let ns = TestNamespace::new("chaos-apiserver").await;
    let name = "web";
    let replicas = size.replicas;
    let namespace = ns.name.clone();
    let mut controllers = Restartable::start(move || controller_manager(&namespace, 0, None));
    ns.create::<MiniDeployment>(deployment(name, replicas, "app:1", None))
        .await
        .unwrap();
    service_for(&ns, name).await;
    eventually(Duration::from_secs(180), "the first rollout", || {
        rolled_out(&ns, name, "app:1", replicas)
    })
    .await;
    let (most, _) = rolling_bounds(2 * replicas);
    let bound = Arc::new(AtomicUsize::new(rolling_bounds(replicas).0));
    let invariants = Invariants::watch(&ns, name, Bounds::at_most(&bound)).await;

    let mut converged = Vec::new();
    let steps: [(&str, &str, i32, &str); 3] = [
        ("rollout", "kube-apiserver", replicas, "app:2"),
        ("scale-up", "kube-apiserver", 2 * replicas, "app:2"),
        ("rollout", "etcd", 2 * replicas, "app:3"),
    ];
    for (change, component, replicas, image) in steps {
        bound.store(
            rolling_bounds(replicas).0,
            std::sync::atomic::Ordering::SeqCst,
        );
        scale_and_set_image(&ns, name, replicas, image).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let process = ControlPlaneProcess::of(component);
        tokio::task::spawn_blocking(move || process.restart(Duration::from_secs(3)))
            .await
            .unwrap();
        eventually(Duration::from_secs(60), "the API server back", || async {
            ns.client.apiserver_version().await.is_ok()
                && ns.api::<MiniDeployment>().get(name).await.is_ok()
        })
        .await;
        let back = Instant::now();
        eventually(
            Duration::from_secs(30),
            &format!("convergence after the {component} restart mid-{change}"),
            || async {
                rolled_out(&ns, name, image, replicas).await
                    && endpoints_match_pods(&ns, name).await
            },
        )
        .await;
        converged.push(
            json!({"restarted": component, "during": change, "replicas": replicas,
                              "converged_seconds": back.elapsed().as_secs_f64()}),
        );
    }
    assert!(controllers.is_running(), "the controller manager exited");
    controllers.kill();
    supervisor.abort();
    let seen = invariants.seen();
    let restarted = supervised.lock().unwrap().restarted.clone();
    record(
        "api-server-and-etcd-restarts",
        json!({"steps": converged, "max_pods": seen.max_active, "bound": most, "events_checked": seen.events,
               "built_in_components_restarted": restarted}),
    );
    assert_held("API server restarts", &seen);
    ns.cleanup().await;
}
