//! The MiniService controller (Endpoints half) against the real API server: each rule of the
//! built-in endpoints controller that users can observe in a MiniEndpoints.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{EndpointSubset, Endpoints, Pod};
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use minik8s::api::{MiniEndpoints, MiniService};
use minik8s::controllers::endpoints::CONTROLLER_NAME;
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace, eventually, eventually_explained};

const TIMEOUT: Duration = Duration::from_secs(60);
const MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";

/// A bare pod labelled `labels`, with a container port `http` on 8080 and any `annotations`
/// (kwok behaviours).
pub fn pod(name: &str, labels: Value, annotations: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                 "ports": [{"name": "http", "containerPort": 8080}]}]},
    })
}

pub fn mini_service(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
           "metadata": {"name": name, "labels": {"team": "blue"}}, "spec": spec})
}

pub async fn create_pod(ns: &TestNamespace, manifest: Value) {
    ns.create::<Pod>(manifest).await.expect("pod created");
}

/// Fails unless the cluster keeps a deleted `terminate-after` pod Terminating (a cluster made
/// from an older tests/cluster/kwok.yaml does not).
pub async fn assert_slow_terminations(ns: &TestNamespace, behaviour: &Value) {
    create_pod(ns, pod("probe", json!({}), behaviour.clone())).await;
    // Only a pod bound to a node is deleted gracefully; an unbound one goes at once.
    eventually(Duration::from_secs(60), "the probe pod running", || async {
        let probe = ns.api::<Pod>().get("probe").await.unwrap();
        probe.status.and_then(|s| s.phase).as_deref() == Some("Running")
    })
    .await;
    ns.api::<Pod>()
        .delete("probe", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        ns.api::<Pod>().get_opt("probe").await.unwrap().is_some(),
        "a deleted pod should stay Terminating: the cluster lacks the terminate-after kwok \
         stage; recreate it (tests/cluster/down.sh; tests/cluster/up.sh) to load \
         tests/cluster/kwok.yaml"
    );
}

pub async fn endpoints_of(ns: &TestNamespace, name: &str) -> Option<MiniEndpoints> {
    ns.api::<MiniEndpoints>().get_opt(name).await.unwrap()
}

/// (ready, not ready) pod names over all subsets, each once.
pub fn names(subsets: &[EndpointSubset]) -> (Vec<String>, Vec<String>) {
    let name = |a: &k8s_openapi::api::core::v1::EndpointAddress| {
        a.target_ref.as_ref().and_then(|r| r.name.clone()).unwrap()
    };
    let (mut ready, mut not_ready): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for s in subsets {
        ready.extend(s.addresses.iter().flatten().map(name));
        not_ready.extend(s.not_ready_addresses.iter().flatten().map(name));
    }
    ready.sort();
    ready.dedup();
    not_ready.sort();
    not_ready.dedup();
    (ready, not_ready)
}

async fn wait_names(ns: &TestNamespace, svc: &str, ready: &[&str], not_ready: &[&str]) {
    let want = (
        ready.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        not_ready.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    );
    eventually_explained(
        TIMEOUT,
        &format!("MiniEndpoints {svc} to list {want:?}"),
        || async {
            match endpoints_of(ns, svc).await {
                Some(ep) if names(&ep.subsets) == want => Ok(()),
                Some(ep) => Err(format!("{:?}", names(&ep.subsets))),
                None => Err("no MiniEndpoints".into()),
            }
        },
    )
    .await;
}

async fn patch_pod(ns: &TestNamespace, name: &str, patch: Value) {
    ns.api::<Pod>()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test]
async fn endpoints_list_ready_and_not_ready_pods_and_follow_them() {
    let ns = TestNamespace::new("ep-follow").await;
    let _controllers = Controllers::start(&ns.name, None);
    let web = json!({"app": "web"});
    create_pod(&ns, pod("ready", web.clone(), json!({}))).await;
    create_pod(
        &ns,
        pod(
            "never",
            web.clone(),
            json!({"sim.minik8s.dev/behavior": "never-ready"}),
        ),
    )
    .await;
    create_pod(&ns, pod("other", json!({"app": "other"}), json!({}))).await;
    // Pods settled first, so that the first sync is the only write until the pods change: a
    // later write whose sync saw no pod become Ready carries no trigger time (upstream too;
    // e.g. a sync refused as stale after it had moved the tracker on).
    eventually(TIMEOUT, "pods running, one ready", || async {
        let pods = ns.api::<Pod>().list(&Default::default()).await.unwrap();
        pods.items.iter().all(|p| {
            let status = p.status.clone().unwrap_or_default();
            let ready = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            status.pod_ip.is_some() && (ready || p.name_any() == "never")
        })
    })
    .await;
    ns.create::<MiniService>(mini_service(
        "web",
        json!({"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}),
    ))
    .await
    .unwrap();
    wait_names(&ns, "web", &["ready"], &["never"]).await;

    let svc: MiniService = ns.api().get("web").await.unwrap();
    let ep = endpoints_of(&ns, "web").await.unwrap();
    // Labels of the service, plus ours; owned by the service.
    let labels = ep.labels();
    assert_eq!(labels.get("team").map(String::as_str), Some("blue"));
    assert_eq!(
        labels.get(MANAGED_BY).map(String::as_str),
        Some(CONTROLLER_NAME)
    );
    assert!(!labels.contains_key("service.kubernetes.io/headless"));
    let owner = &ep.owner_references()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.name.as_str(),
            Some(owner.uid.clone()),
            owner.controller
        ),
        ("MiniService", "web", svc.uid(), Some(true))
    );
    assert!(
        ep.annotations()
            .contains_key("endpoints.kubernetes.io/last-change-trigger-time")
    );
    // The address: pod IP, node, target reference; port resolved.
    let p: Pod = ns.api().get("ready").await.unwrap();
    let subset = &ep.subsets[0];
    let address = &subset.addresses.as_ref().unwrap()[0];
    assert_eq!(Some(address.ip.clone()), p.status.unwrap().pod_ip);
    assert_eq!(address.node_name, p.spec.unwrap().node_name);
    let target = address.target_ref.as_ref().unwrap();
    assert_eq!(
        (
            target.kind.as_deref(),
            target.name.as_deref(),
            target.uid.clone()
        ),
        (Some("Pod"), Some("ready"), p.metadata.uid)
    );
    assert_eq!(subset.ports.as_ref().unwrap()[0].port, 8080);

    // A sync that changes nothing writes nothing (a service annotation wakes it).
    let before = endpoints_of(&ns, "web").await.unwrap().resource_version();
    let note = json!({"metadata": {"annotations": {"note": "x"}}});
    ns.api::<MiniService>()
        .patch("web", &PatchParams::default(), &Patch::Merge(&note))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        endpoints_of(&ns, "web").await.unwrap().resource_version(),
        before
    );

    // A pod that turns ready moves to addresses.
    create_pod(
        &ns,
        pod(
            "later",
            web.clone(),
            json!({
        "sim.minik8s.dev/behavior": "ready-after", "sim.minik8s.dev/ready-after": "3s"}),
        ),
    )
    .await;
    wait_names(&ns, "web", &["ready"], &["later", "never"]).await;
    wait_names(&ns, "web", &["later", "ready"], &["never"]).await;

    // A pod losing its label leaves; one gaining it joins.
    patch_pod(
        &ns,
        "later",
        json!({"metadata": {"labels": {"app": "gone"}}}),
    )
    .await;
    patch_pod(
        &ns,
        "other",
        json!({"metadata": {"labels": {"app": "web"}}}),
    )
    .await;
    wait_names(&ns, "web", &["other", "ready"], &["never"]).await;

    // A deleted pod leaves.
    ns.api::<Pod>()
        .delete("never", &DeleteParams::default())
        .await
        .unwrap();
    wait_names(&ns, "web", &["other", "ready"], &[]).await;

    // publishNotReadyAddresses lists not-ready pods as ready.
    create_pod(
        &ns,
        pod(
            "never2",
            web.clone(),
            json!({"sim.minik8s.dev/behavior": "never-ready"}),
        ),
    )
    .await;
    wait_names(&ns, "web", &["other", "ready"], &["never2"]).await;
    ns.api::<MiniService>()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"publishNotReadyAddresses": true}})),
        )
        .await
        .unwrap();
    wait_names(&ns, "web", &["never2", "other", "ready"], &[]).await;
    ns.cleanup().await;
}

#[tokio::test]
async fn named_ports_hostnames_and_headless_services() {
    let ns = TestNamespace::new("ep-ports").await;
    let _controllers = Controllers::start(&ns.name, None);
    let web = json!({"app": "web"});
    create_pod(&ns, pod("plain", web.clone(), json!({}))).await;
    let mut with_metrics = pod("metrics", web.clone(), json!({}));
    with_metrics["spec"]["hostname"] = json!("host-m");
    with_metrics["spec"]["subdomain"] = json!("headless");
    with_metrics["spec"]["containers"][0]["ports"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "metrics", "containerPort": 9100}));
    create_pod(&ns, with_metrics).await;
    ns.create::<MiniService>(mini_service(
        "named",
        json!({"selector": {"app": "web"}, "ports": [
        {"name": "http", "port": 80, "targetPort": "http"},
        {"name": "metrics", "port": 9090, "targetPort": "metrics"}]}),
    ))
    .await
    .unwrap();
    eventually(
        TIMEOUT,
        "two subsets: both pods on http, one on metrics",
        || async {
            let Some(ep) = endpoints_of(&ns, "named").await else {
                return false;
            };
            let by_port: BTreeMap<String, (Vec<String>, i32)> = ep
                .subsets
                .iter()
                .flat_map(|s| {
                    let pods = names(std::slice::from_ref(s)).0;
                    s.ports
                        .iter()
                        .flatten()
                        .map(move |p| (p.name.clone().unwrap(), (pods.clone(), p.port)))
                })
                .collect();
            by_port
                == BTreeMap::from([
                    (
                        "http".into(),
                        (vec!["metrics".into(), "plain".into()], 8080),
                    ),
                    ("metrics".into(), (vec!["metrics".into()], 9100)),
                ])
        },
    )
    .await;
    // The hostname is only set for the service named in the pod's subdomain.
    let ep = endpoints_of(&ns, "named").await.unwrap();
    assert!(
        ep.subsets
            .iter()
            .flat_map(|s| s.addresses.iter().flatten())
            .all(|a| a.hostname.is_none())
    );

    // Headless without ports: addresses without ports, headless label, hostname.
    ns.create::<MiniService>(mini_service(
        "headless",
        json!({"selector": {"app": "web"}, "clusterIP": "None"}),
    ))
    .await
    .unwrap();
    wait_names(&ns, "headless", &["metrics", "plain"], &[]).await;
    let ep = endpoints_of(&ns, "headless").await.unwrap();
    assert_eq!(ep.subsets.len(), 1);
    assert!(ep.subsets[0].ports.is_none());
    assert_eq!(
        ep.labels()
            .get("service.kubernetes.io/headless")
            .map(String::as_str),
        Some("")
    );
    let hostnames: Vec<_> = ep.subsets[0]
        .addresses
        .iter()
        .flatten()
        .map(|a| a.hostname.clone())
        .collect();
    assert!(hostnames.contains(&Some("host-m".into())), "{hostnames:?}");

    // Headless with ports.
    ns.create::<MiniService>(mini_service(
        "headless-ports",
        json!({"selector": {"app": "web"},
        "clusterIP": "None", "ports": [{"port": 80, "targetPort": "http"}]}),
    ))
    .await
    .unwrap();
    wait_names(&ns, "headless-ports", &["metrics", "plain"], &[]).await;
    let ep = endpoints_of(&ns, "headless-ports").await.unwrap();
    assert_eq!(ep.subsets[0].ports.as_ref().unwrap()[0].port, 8080);
    assert!(ep.labels().contains_key("service.kubernetes.io/headless"));
    ns.cleanup().await;
}

#[tokio::test]
async fn services_without_selector_or_external_name_are_left_alone() {
    let ns = TestNamespace::new("ep-alone").await;
    let _controllers = Controllers::start(&ns.name, None);
    create_pod(&ns, pod("p", json!({"app": "web"}), json!({}))).await;
    // The user's MiniEndpoints of a selector-less service.
    let user: MiniEndpoints = serde_json::from_value(json!({
        "metadata": {"name": "manual"},
        "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]
    }))
    .unwrap();
    ns.api::<MiniEndpoints>()
        .create(&PostParams::default(), &user)
        .await
        .unwrap();
    ns.create::<MiniService>(mini_service("manual", json!({"ports": [{"port": 80}]})))
        .await
        .unwrap();
    ns.create::<MiniService>(mini_service(
        "external",
        json!({"type": "ExternalName",
        "externalName": "example.com", "selector": {"app": "web"}}),
    ))
    .await
    .unwrap();
    // A service with a selector is synced meanwhile: the controller is running.
    ns.create::<MiniService>(mini_service(
        "web",
        json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
    ))
    .await
    .unwrap();
    wait_names(&ns, "web", &["p"], &[]).await;
    let manual = endpoints_of(&ns, "manual").await.unwrap();
    assert_eq!(
        manual.subsets[0].addresses.as_ref().unwrap()[0].ip,
        "192.0.2.1"
    );
    assert!(manual.labels().get(MANAGED_BY).is_none());
    assert!(endpoints_of(&ns, "external").await.is_none());

    // Deleting the selector-less service leaves the user's MiniEndpoints.
    ns.api::<MiniService>()
        .delete("manual", &DeleteParams::default())
        .await
        .unwrap();
    ns.api::<MiniService>()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually(TIMEOUT, "the managed MiniEndpoints removed", || async {
        endpoints_of(&ns, "web").await.is_none()
    })
    .await;
    assert!(endpoints_of(&ns, "manual").await.is_some());
    ns.cleanup().await;
}

/// A MiniEndpoints of ours whose MiniService is gone is removed at start-up; others stay.
/// (Without owner references, so the garbage collector cannot be what removes it.)
#[tokio::test]
async fn leftover_endpoints_are_removed_at_start_up() {
    let ns = TestNamespace::new("ep-leftover").await;
    let api = ns.api::<MiniEndpoints>();
    for (name, labels) in [
        ("ours", json!({MANAGED_BY: CONTROLLER_NAME})),
        ("theirs", json!({MANAGED_BY: "someone-else"})),
        ("unlabelled", json!({})),
    ] {
        let ep: MiniEndpoints =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap();
        api.create(&PostParams::default(), &ep).await.unwrap();
    }
    let _controllers = Controllers::start(&ns.name, None);
    eventually(TIMEOUT, "the leftover MiniEndpoints removed", || async {
        endpoints_of(&ns, "ours").await.is_none()
    })
    .await;
    // Give the controller time to do anything wrong with the others.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(endpoints_of(&ns, "theirs").await.is_some());
    assert!(endpoints_of(&ns, "unlabelled").await.is_some());
    ns.cleanup().await;
}

/// Deleted MiniEndpoints are written again; a MiniEndpoints of a deleted service goes.
#[tokio::test]
async fn endpoints_are_recreated_and_removed_with_their_service() {
    let ns = TestNamespace::new("ep-delete").await;
    let _controllers = Controllers::start(&ns.name, None);
    create_pod(&ns, pod("p", json!({"app": "web"}), json!({}))).await;
    ns.create::<MiniService>(mini_service(
        "web",
        json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
    ))
    .await
    .unwrap();
    wait_names(&ns, "web", &["p"], &[]).await;
    let first = endpoints_of(&ns, "web").await.unwrap();
    ns.api::<MiniEndpoints>()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually(TIMEOUT, "MiniEndpoints written again", || async {
        endpoints_of(&ns, "web")
            .await
            .is_some_and(|ep| ep.uid() != first.uid() && !ep.subsets.is_empty())
    })
    .await;
    // Deleted with orphan propagation, so that the garbage collector does not remove it.
    ns.api::<MiniService>()
        .delete("web", &DeleteParams::orphan())
        .await
        .unwrap();
    eventually(
        TIMEOUT,
        "MiniEndpoints removed with the service",
        || async { endpoints_of(&ns, "web").await.is_none() },
    )
    .await;
    ns.cleanup().await;
}

/// Pods being deleted leave the endpoints, unless publishNotReadyAddresses keeps them. Needs
/// the `terminate-after` kwok behaviour (tests/cluster/kwok.yaml).
#[tokio::test]
async fn terminating_pods() {
    let ns = TestNamespace::new("ep-terminating").await;
    let _controllers = Controllers::start(&ns.name, None);
    let slow = json!({"sim.minik8s.dev/behavior": "terminate-after", "sim.minik8s.dev/terminate-after": "20s"});
    assert_slow_terminations(&ns, &slow).await;
    create_pod(&ns, pod("a", json!({"app": "web"}), slow.clone())).await;
    create_pod(&ns, pod("b", json!({"app": "web"}), slow.clone())).await;
    ns.create::<MiniService>(mini_service(
        "web",
        json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
    ))
    .await
    .unwrap();
    ns.create::<MiniService>(mini_service(
        "publish",
        json!({"selector": {"app": "web"},
        "ports": [{"port": 80}], "publishNotReadyAddresses": true}),
    ))
    .await
    .unwrap();
    wait_names(&ns, "web", &["a", "b"], &[]).await;
    wait_names(&ns, "publish", &["a", "b"], &[]).await;
    ns.api::<Pod>()
        .delete("a", &DeleteParams::default())
        .await
        .unwrap();
    wait_names(&ns, "web", &["b"], &[]).await;
    // Still listed by the service that publishes not-ready addresses, while Terminating.
    wait_names(&ns, "publish", &["a", "b"], &[]).await;
    let a: Pod = ns.api().get("a").await.unwrap();
    assert!(a.metadata.deletion_timestamp.is_some());
    // And gone from both once the pod is.
    wait_names(&ns, "publish", &["b"], &[]).await;
    ns.cleanup().await;
}

/// What the MiniEndpoints schema refuses, the Endpoints API refuses too.
#[tokio::test]
async fn bad_endpoints_are_refused_at_admission() {
    let ns = TestNamespace::new("ep-admission").await;
    let bad = json!({"subsets": [{"addresses": [{"hostname": "no-ip"}]}]});
    let mut mini = bad.clone();
    mini["apiVersion"] = json!("minik8s.dev/v1alpha1");
    mini["kind"] = json!("MiniEndpoints");
    mini["metadata"] = json!({"name": "bad"});
    let mut builtin = bad;
    builtin["apiVersion"] = json!("v1");
    builtin["kind"] = json!("Endpoints");
    builtin["metadata"] = json!({"name": "bad"});
    let refused = ns.create::<MiniEndpoints>(mini).await.expect_err("refused");
    assert_eq!(refused.code, 422, "{refused:?}");
    assert!(refused.message.contains("ip"), "{}", refused.message);
    let refused = ns.create::<Endpoints>(builtin).await.expect_err("refused");
    assert_eq!(refused.code, 422);
    ns.cleanup().await;
}
