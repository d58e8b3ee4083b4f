//! The endpointslice controller against the API server: the Service `mini-<name>` each
//! MiniService gets, and its EndpointSlices following the selected pods.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use minik8s::api::MiniService;
use minik8s::controllers::endpointslice::MANAGED_BY;
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace, eventually};

pub const TIMEOUT: Duration = Duration::from_secs(60);

/// One endpoint as consumers see it: the attributes that matter, and the ports of its slice.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub pod: String,
    pub uid: String,
    pub addresses: Vec<String>,
    /// (ready, serving, terminating)
    pub conditions: (Option<bool>, Option<bool>, Option<bool>),
    pub node: Option<String>,
    pub zone: Option<String>,
    pub hostname: Option<String>,
    /// (name, port, protocol)
    pub ports: BTreeSet<(String, i32, String)>,
}

/// The slices of Service `service` written by `managed_by`.
pub async fn slices(ns: &TestNamespace, service: &str, managed_by: &str) -> Vec<EndpointSlice> {
    let selector = format!(
        "kubernetes.io/service-name={service},endpointslice.kubernetes.io/managed-by={managed_by}"
    );
    ns.api::<EndpointSlice>()
        .list(&ListParams::default().labels(&selector))
        .await
        .unwrap()
        .items
}

/// Every endpoint of every slice, whatever the slicing.
pub fn endpoints(slices: &[EndpointSlice]) -> BTreeSet<Seen> {
    let mut seen = BTreeSet::new();
    for slice in slices {
        let ports: BTreeSet<_> = slice
            .ports
            .iter()
            .flatten()
            .map(|p| {
                (
                    p.name.clone().unwrap_or_default(),
                    p.port.unwrap_or_default(),
                    p.protocol.clone().unwrap_or_default(),
                )
            })
            .collect();
        for e in slice.endpoints.iter().flatten() {
            let target = e.target_ref.clone().unwrap_or_default();
            let c = e.conditions.clone().unwrap_or_default();
            let mut addresses = e.addresses.clone();
            addresses.sort();
            seen.insert(Seen {
                pod: target.name.unwrap_or_default(),
                uid: target.uid.unwrap_or_default(),
                addresses,
                conditions: (c.ready, c.serving, c.terminating),
                node: e.node_name.clone(),
                zone: e.zone.clone(),
                hostname: e.hostname.clone(),
                ports: ports.clone(),
            });
        }
    }
    seen
}

pub async fn ours(ns: &TestNamespace, mini: &str) -> BTreeSet<Seen> {
    endpoints(&slices(ns, &format!("mini-{mini}"), MANAGED_BY).await)
}

/// A bare pod with `labels`, a container port named `http` when `http` is set, and KWOK's
/// `behavior` annotation when given.
pub fn pod(name: &str, labels: Value, http: Option<i32>, behavior: Option<&str>) -> Value {
    let mut annotations = serde_json::Map::new();
    if let Some(b) = behavior {
        annotations.insert("sim.minik8s.dev/behavior".into(), b.into());
    }
    let ports = match http {
        Some(p) => json!([{"name": "http", "containerPort": p}]),
        None => json!([]),
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "app:v1", "ports": ports}]}
    })
}

fn port_set(ports: &[(&str, i32)]) -> Ports {
    ports
        .iter()
        .map(|(n, p)| (n.to_string(), *p, "TCP".to_string()))
        .collect()
}

/// (name, port, protocol) of each port of an endpoint.
type Ports = BTreeSet<(String, i32, String)>;
/// The expected endpoints: (pod, ready, its ports).
type Expected<'a> = [(&'a str, bool, &'a [(&'a str, i32)])];

/// (pod, ready, ports) of each endpoint.
fn summary(seen: &BTreeSet<Seen>) -> BTreeSet<(String, Option<bool>, Ports)> {
    seen.iter()
        .map(|s| (s.pod.clone(), s.conditions.0, s.ports.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_and_its_slices_follow_the_pods() {
    let ns = TestNamespace::new("eps-follow").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniService>(json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": "web", "labels": {"team": "a"}},
        "spec": {"selector": {"app": "web"}, "sessionAffinity": "ClientIP",
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                           {"name": "metrics", "port": 9090}]}
    }))
    .await
    .unwrap();

    // The Service: selector-less, same ports, owned by the MiniService; status reports it.
    let services = ns.api::<Service>();
    eventually(TIMEOUT, "the Service mini-web", || async {
        services.get_opt("mini-web").await.unwrap().is_some()
    })
    .await;
    let svc = services.get("mini-web").await.unwrap();
    let mini = ns.api::<MiniService>().get("web").await.unwrap();
    let spec = svc.spec.clone().unwrap();
    assert_eq!(spec.selector, None);
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(spec.session_affinity.as_deref(), Some("ClientIP"));
    let ports: Vec<_> = spec
        .ports
        .unwrap()
        .into_iter()
        .map(|p| (p.name.unwrap(), p.port, p.target_port.unwrap()))
        .collect();
    assert_eq!(
        ports,
        vec![
            (
                "http".into(),
                80,
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("http".into())
            ),
            (
                "metrics".into(),
                9090,
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(9090)
            ),
        ]
    );
    let owner = &svc.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("MiniService", mini.uid().unwrap().as_str(), Some(true))
    );
    assert_eq!(svc.labels().get("team").map(String::as_str), Some("a"));
    let cluster_ip = spec.cluster_ip.clone().unwrap();
    assert!(
        cluster_ip.parse::<std::net::IpAddr>().is_ok(),
        "{cluster_ip}"
    );
    eventually(TIMEOUT, "the status to report the Service", || async {
        let status = ns.api::<MiniService>().get("web").await.unwrap().status;
        status.is_some_and(|s| {
            s.service_name.as_deref() == Some("mini-web")
                && s.cluster_ip.as_deref() == Some(cluster_ip.as_str())
        })
    })
    .await;
    // kubectl prints the first value of a JSONPath column only: the first port.
    let table = ns.kubectl(&["get", "msvc", "web"]);
    assert!(
        table.contains("PORT(S)") && table.contains("CLUSTER-IP"),
        "{table}"
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..4],
        &["web", "ClusterIP", cluster_ip.as_str(), "80"],
        "{table}"
    );

    // No pods: one empty placeholder slice, as the built-in writes.
    eventually(TIMEOUT, "the placeholder slice", || async {
        let s = slices(&ns, "mini-web", MANAGED_BY).await;
        s.len() == 1 && s[0].endpoints.as_ref().is_none_or(|e| e.is_empty())
    })
    .await;

    // p1 has the named port; p2 does not (its endpoint carries only metrics); p3 never Ready.
    let web = json!({"app": "web"});
    ns.create::<Pod>(pod("p1", web.clone(), Some(8080), None))
        .await
        .unwrap();
    ns.create::<Pod>(pod("p2", web.clone(), None, None))
        .await
        .unwrap();
    ns.create::<Pod>(pod("p3", web.clone(), Some(8080), Some("never-ready")))
        .await
        .unwrap();
    ns.create::<Pod>(pod("other", json!({"app": "other"}), Some(8080), None))
        .await
        .unwrap();
    let want = |entries: &Expected| {
        entries
            .iter()
            .map(|(p, r, ports)| (p.to_string(), Some(*r), port_set(ports)))
            .collect::<BTreeSet<_>>()
    };
    let check = |expected: BTreeSet<_>, what: &'static str| {
        let ns = &ns;
        async move {
            eventually(TIMEOUT, what, || {
                let expected = expected.clone();
                async move { summary(&ours(ns, "web").await) == expected }
            })
            .await
        }
    };
    check(
        want(&[
            ("p1", true, &[("http", 8080), ("metrics", 9090)]),
            ("p2", true, &[("metrics", 9090)]),
            ("p3", false, &[("http", 8080), ("metrics", 9090)]),
        ]),
        "three endpoints in two port sets",
    )
    .await;
    // Labels, owner, addresses, node and zone of the slices.
    let svc_uid = svc.uid().unwrap();
    let all = slices(&ns, "mini-web", MANAGED_BY).await;
    assert_eq!(all.len(), 2, "one slice per port set");
    for slice in &all {
        assert_eq!(slice.labels()["team"], "a");
        assert_eq!(slice.owner_references()[0].uid, svc_uid);
        assert_eq!(slice.owner_references()[0].kind, "Service");
        assert_eq!(slice.address_type, "IPv4");
    }
    let p1 = ns.api::<Pod>().get("p1").await.unwrap();
    let seen = ours(&ns, "web").await;
    let e1 = seen.iter().find(|s| s.pod == "p1").unwrap();
    let status = p1.status.unwrap();
    assert_eq!(e1.addresses, vec![status.pod_ip.unwrap()]);
    assert_eq!(e1.uid, p1.metadata.uid.unwrap());
    let node = p1.spec.unwrap().node_name.unwrap();
    assert_eq!(e1.node.as_deref(), Some(node.as_str()));
    assert!(
        e1.zone.as_deref().is_some_and(|z| z.starts_with("zone-")),
        "{e1:?}"
    );

    // Relabel p1 away, delete p2.
    ns.api::<Pod>()
        .patch(
            "p1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "gone"}}})),
        )
        .await
        .unwrap();
    ns.api::<Pod>()
        .delete("p2", &DeleteParams::default())
        .await
        .unwrap();
    check(
        want(&[("p3", false, &[("http", 8080), ("metrics", 9090)])]),
        "p1 relabelled and p2 deleted",
    )
    .await;
    // publishNotReadyAddresses makes p3 ready.
    ns.api::<MiniService>()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"publishNotReadyAddresses": true}})),
        )
        .await
        .unwrap();
    check(
        want(&[("p3", true, &[("http", 8080), ("metrics", 9090)])]),
        "publishNotReadyAddresses",
    )
    .await;
    assert_eq!(
        services
            .get("mini-web")
            .await
            .unwrap()
            .spec
            .unwrap()
            .publish_not_ready_addresses,
        Some(true)
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_and_deletion() {
    let ns = TestNamespace::new("eps-headless").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniService>(json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": "db"},
        "spec": {"selector": {"app": "db"}, "clusterIP": "None"}
    }))
    .await
    .unwrap();
    for name in ["db-0", "db-1"] {
        ns.create::<Pod>(pod(name, json!({"app": "db"}), None, None))
            .await
            .unwrap();
    }
    eventually(TIMEOUT, "two endpoints without ports", || async {
        let seen = ours(&ns, "db").await;
        seen.len() == 2
            && seen
                .iter()
                .all(|s| s.ports.is_empty() && s.conditions.0 == Some(true))
    })
    .await;
    let svc = ns.api::<Service>().get("mini-db").await.unwrap();
    assert_eq!(svc.spec.unwrap().cluster_ip.as_deref(), Some("None"));
    let slice = &slices(&ns, "mini-db", MANAGED_BY).await[0];
    assert_eq!(
        slice
            .labels()
            .get("service.kubernetes.io/headless")
            .map(String::as_str),
        Some("")
    );
    eventually(TIMEOUT, "status clusterIP None", || async {
        let m = ns.api::<MiniService>().get("db").await.unwrap();
        m.status.and_then(|s| s.cluster_ip).as_deref() == Some("None")
    })
    .await;

    // Deleting the MiniService: the garbage collector removes the Service, then its slices.
    ns.api::<MiniService>()
        .delete("db", &DeleteParams::background())
        .await
        .unwrap();
    eventually(
        TIMEOUT,
        "the Service and slices to be collected",
        || async {
            ns.api::<Service>()
                .get_opt("mini-db")
                .await
                .unwrap()
                .is_none()
                && slices(&ns, "mini-db", MANAGED_BY).await.is_empty()
        },
    )
    .await;
    ns.cleanup().await;
}

/// Upstream's slice and Service handlers: a slice or Service that somebody else edits or
/// deletes is written again at once (well before the 5-minute resync), while the echo of the
/// controller's own writes costs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_others_make_are_repaired_at_once() {
    const REPAIR: Duration = Duration::from_secs(15);
    let ns = TestNamespace::new("eps-repair").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniService>(json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    }))
    .await
    .unwrap();
    ns.create::<Pod>(pod("p1", json!({"app": "web"}), None, None))
        .await
        .unwrap();
    eventually(TIMEOUT, "one ready endpoint", || async {
        let seen = ours(&ns, "web").await;
        seen.len() == 1 && seen.iter().all(|s| s.conditions.0 == Some(true))
    })
    .await;
    let one_ready = ours(&ns, "web").await;

    // Someone empties the slice: its next generation is not the controller's, so it is
    // rewritten.
    let slice = slices(&ns, "mini-web", MANAGED_BY).await.remove(0);
    let name = slice.name_any();
    ns.api::<EndpointSlice>()
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"endpoints": []})),
        )
        .await
        .unwrap();
    eventually(REPAIR, "the edited slice rewritten", || async {
        ours(&ns, "web").await == one_ready
    })
    .await;

    // Someone deletes it: a deletion the controller did not make is repaired.
    ns.api::<EndpointSlice>()
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    eventually(REPAIR, "the deleted slice written again", || async {
        ours(&ns, "web").await == one_ready
    })
    .await;

    // Someone edits the Service: put back as the MiniService says.
    ns.api::<Service>()
        .patch(
            "mini-web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"sessionAffinity": "ClientIP"}})),
        )
        .await
        .unwrap();
    eventually(REPAIR, "the Service repaired", || async {
        let svc = ns.api::<Service>().get("mini-web").await.unwrap();
        svc.spec.unwrap().session_affinity.as_deref() == Some("None")
    })
    .await;

    // Someone deletes the Service (its slices go with it): both come back.
    ns.api::<Service>()
        .delete("mini-web", &DeleteParams::foreground())
        .await
        .unwrap();
    eventually(REPAIR, "the Service and its slice back", || async {
        let svc = ns.api::<Service>().get_opt("mini-web").await.unwrap();
        svc.is_some_and(|s| s.metadata.deletion_timestamp.is_none())
            && ours(&ns, "web").await.len() == 1
    })
    .await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_100_endpoints_split_into_slices() {
    let ns = TestNamespace::new("eps-split").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniService>(json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": "many"},
        "spec": {"selector": {"app": "many"}, "ports": [{"port": 80}]}
    }))
    .await
    .unwrap();
    ns.create::<ReplicaSet>(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "many"},
        "spec": {"replicas": 101, "selector": {"matchLabels": {"app": "many"}},
                 "template": {"metadata": {"labels": {"app": "many"}},
                              "spec": {"containers": [{"name": "app", "image": "app:v1"}]}}}
    }))
    .await
    .unwrap();
    let lengths = || async {
        let mut l: Vec<usize> = slices(&ns, "mini-many", MANAGED_BY)
            .await
            .iter()
            .map(|s| s.endpoints.as_ref().map_or(0, Vec::len))
            .collect();
        l.sort();
        l
    };
    // Pods arrive a few at a time, so the split depends on timing (upstream fills the
    // closest slice with room, else starts a new one): 101 endpoints, none over 100 a slice.
    eventually(
        Duration::from_secs(120),
        "101 endpoints in slices of at most 100",
        || async {
            let l = lengths().await;
            l.iter().sum::<usize>() == 101 && l.len() >= 2 && l.iter().all(|n| *n <= 100)
        },
    )
    .await;
    // Scaling down: slices left empty go; the rest are not repacked (minimal churn).
    ns.api::<ReplicaSet>()
        .patch_scale(
            "many",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    eventually(
        Duration::from_secs(120),
        "3 endpoints, no empty slice",
        || async {
            let l = lengths().await;
            l.iter().sum::<usize>() == 3 && l.iter().all(|n| *n > 0)
        },
    )
    .await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_of_that_name_not_owned_is_left_alone() {
    let ns = TestNamespace::new("eps-clash").await;
    let taken = ns
        .create::<Service>(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "mini-web"},
            "spec": {"ports": [{"port": 1234}]}
        }))
        .await
        .unwrap();
    ns.create::<Pod>(pod("p1", json!({"app": "web"}), Some(8080), None))
        .await
        .unwrap();
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniService>(json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    }))
    .await
    .unwrap();
    eventually(TIMEOUT, "the ServiceNameTaken condition", || async {
        let m = ns.api::<MiniService>().get("web").await.unwrap();
        m.status
            .and_then(|s| s.conditions)
            .into_iter()
            .flatten()
            .any(|c| {
                c.type_ == "ServiceSynced"
                    && c.status == "False"
                    && c.reason == "ServiceNameTaken"
                    && c.message.contains("mini-web")
            })
    })
    .await;
    eventually(TIMEOUT, "the Warning event", || async {
        ns.api::<Event>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(|e| {
                e.type_.as_deref() == Some("Warning")
                    && e.reason.as_deref() == Some("ServiceNameTaken")
                    && e.involved_object.name.as_deref() == Some("web")
                    && e.message.as_deref().is_some_and(|m| m.contains("Rename"))
            })
    })
    .await;
    // Nothing touched: the Service is as created, and no slices were written for it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let now = ns.api::<Service>().get("mini-web").await.unwrap();
    assert_eq!(now.resource_version(), taken.resource_version());
    assert!(now.owner_references().is_empty());
    assert!(slices(&ns, "mini-web", MANAGED_BY).await.is_empty());
    let status = ns
        .api::<MiniService>()
        .get("web")
        .await
        .unwrap()
        .status
        .unwrap();
    assert_eq!((status.service_name, status.cluster_ip), (None, None));

    // Once the name is free, the MiniService takes it.
    ns.api::<Service>()
        .delete("mini-web", &DeleteParams::default())
        .await
        .unwrap();
    // The deletion is watched: no waiting for the 30 s recheck.
    eventually(Duration::from_secs(15), "the name taken over", || async {
        let m = ns.api::<MiniService>().get("web").await.unwrap();
        let synced = m
            .status
            .and_then(|s| s.conditions)
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "ServiceSynced" && c.status == "True");
        synced && ours(&ns, "web").await.len() == 1
    })
    .await;
    ns.cleanup().await;
}

/// A deleted pod turns terminating in the slices, then leaves them once it is gone, also when
/// the controller waits for rate-limit tokens: the write that only drops an ended terminating
/// endpoint is held back for at most a second (`hold.rs`), never for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_terminating_pod_leaves_the_slices_at_a_rate_limit() {
    use crate::endpoints::{assert_slow_terminations, create_pod, mini_service, pod};
    use minik8s::runtime::client::RateLimit;
    let ns = TestNamespace::new("eps-ended").await;
    let _controllers = Controllers::start(&ns.name, Some(RateLimit::CONTROLLER_MANAGER));
    let slow = json!({"sim.minik8s.dev/behavior": "terminate-after",
                      "sim.minik8s.dev/terminate-after": "5s"});
    assert_slow_terminations(&ns, &slow).await;
    for name in ["a", "b"] {
        create_pod(&ns, pod(name, json!({"app": "web"}), slow.clone())).await;
    }
    ns.create::<MiniService>(mini_service(
        "web",
        json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
    ))
    .await
    .unwrap();
    // (pod, ready, terminating) of each endpoint.
    let listed = || async {
        ours(&ns, "web")
            .await
            .into_iter()
            .map(|s| (s.pod, s.conditions.0, s.conditions.2 == Some(true)))
            .collect::<Vec<_>>()
    };
    let ready = |pod: &str| (pod.to_string(), Some(true), false);
    eventually(TIMEOUT, "a and b ready in the slices", || async {
        listed().await == [ready("a"), ready("b")]
    })
    .await;
    ns.api::<Pod>()
        .delete("a", &DeleteParams::default())
        .await
        .unwrap();
    eventually(TIMEOUT, "a listed as terminating", || async {
        listed().await == [("a".to_string(), Some(false), true), ready("b")]
    })
    .await;
    eventually(TIMEOUT, "pod a gone", || async {
        ns.api::<Pod>().get_opt("a").await.unwrap().is_none()
    })
    .await;
    eventually(
        Duration::from_secs(15),
        "a's endpoint dropped once its pod is gone (held 1 s at most)",
        || async { listed().await == [ready("b")] },
    )
    .await;
    ns.cleanup().await;
}
