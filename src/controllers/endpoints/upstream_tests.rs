//! Tables ported from upstream `pkg/controller/endpoint/endpoints_controller_test.go`,
//! `pkg/api/v1/endpoints/util_test.go` and `k8s.io/endpointslice` (util and `FindPort`), run
//! against the pure planner. Test names follow the upstream ones.

use std::collections::BTreeMap;

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::plan::{self, Desired};
use super::trigger_time::TriggerTimeTracker;
use crate::api::{MiniEndpoints, MiniService};

const MANAGED_BY: &str = "miniendpoints-controller";

fn service(spec: serde_json::Value) -> MiniService {
    serde_json::from_value(json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": "foo", "namespace": "ns", "uid": "svc-uid",
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": spec,
    }))
    .unwrap()
}

fn basic_service() -> MiniService {
    service(
        json!({"selector": {"foo": "bar"}, "ports": [{"port": 80, "targetPort": 8080}],
                   "clusterIP": "1.1.1.1", "ipFamilies": ["IPv4"]}),
    )
}

/// Upstream `testPod`-like: Running, Ready as asked, one IPv4 (and optionally IPv6) IP.
fn pod(name: &str, ip: &str, ready: bool) -> CachedPod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                     "labels": {"foo": "bar"}, "resourceVersion": "1"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "ports": [
            {"name": "port1", "containerPort": 8080, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                   "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"},
                                   "lastTransitionTime": "2026-01-01T00:00:10Z"}]},
    }))
    .unwrap()
}

fn address(name: &str, ip: &str) -> EndpointAddress {
    EndpointAddress {
        ip: ip.into(),
        hostname: None,
        node_name: Some("node-1".into()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: Some("ns".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        }),
    }
}

fn tcp(name: Option<&str>, port: i32) -> EndpointPort {
    EndpointPort {
        name: name.map(Into::into),
        port,
        protocol: Some("TCP".into()),
        app_protocol: None,
    }
}

fn counts(desired: &Desired) -> (usize, usize) {
    let mut counts = (0, 0);
    for s in &desired.subsets {
        counts.0 += s.addresses.as_ref().map_or(0, Vec::len);
        counts.1 += s.not_ready_addresses.as_ref().map_or(0, Vec::len);
    }
    counts
}

#[test]
fn sync_service_addresses() {
    // (phase, ready, terminating, publishNotReadyAddresses) → (ready, not ready)
    let table = [
        ("Running", true, false, false, (1, 0)),
        ("Running", true, true, false, (0, 0)),
        ("Unknown", true, false, false, (1, 0)),
        ("Unknown", true, true, false, (0, 0)),
        ("Pending", true, false, false, (1, 0)),
        ("Pending", true, true, false, (0, 0)),
        ("Unknown", false, false, false, (0, 1)),
        ("Pending", false, false, false, (0, 1)),
        ("Failed", false, false, false, (0, 0)),
        ("Succeeded", false, false, false, (0, 0)),
        ("Running", false, false, true, (1, 0)),
        ("Running", false, true, true, (1, 0)),
        ("Unknown", false, false, true, (1, 0)),
        ("Unknown", false, true, true, (1, 0)),
        ("Pending", false, false, true, (1, 0)),
        ("Pending", false, true, true, (1, 0)),
        ("Failed", false, false, true, (0, 0)),
        ("Succeeded", false, false, true, (0, 0)),
    ];
    for (phase, ready, terminating, tolerate, expected) in table {
        let mut svc = basic_service();
        svc.spec.publish_not_ready_addresses = tolerate;
        let mut p = pod("fakepod", "10.1.1.1", ready);
        p.status.as_mut().unwrap().phase = Some(phase.into());
        if terminating {
            p.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        }
        let desired = plan::desired_subsets(&svc, [&p]);
        assert_eq!(
            counts(&desired),
            expected,
            "{phase} ready={ready} terminating={terminating} tolerate={tolerate}"
        );
    }
}

#[test]
fn pod_without_ip_is_left_out() {
    let mut p = pod("a", "10.1.1.1", true);
    let status = p.status.as_mut().unwrap();
    status.pod_ip = None;
    status.pod_ips = None;
    assert!(!plan::should_pod_be_in_endpoints(&p, true));
}

#[test]
fn pod_to_endpoint_address_for_service() {
    // (service ipFamilies / clusterIP, pod IPs) → address IP
    let dual = |p: &mut CachedPod| {
        let s = p.status.as_mut().unwrap();
        s.pod_ips = Some(vec![
            k8s_openapi::api::core::v1::PodIP {
                ip: "1.2.3.4".into(),
            },
            k8s_openapi::api::core::v1::PodIP {
                ip: "2000::0".into(),
            },
        ]);
    };
    let cases: Vec<(serde_json::Value, bool, Option<&str>)> = vec![
        (
            json!({"ipFamilies": ["IPv4"], "clusterIP": "10.0.0.1"}),
            true,
            Some("1.2.3.4"),
        ),
        (
            json!({"ipFamilies": ["IPv6"], "clusterIP": "3000::1"}),
            true,
            Some("2000::"),
        ),
        (
            json!({"ipFamilies": ["IPv6", "IPv4"]}),
            true,
            Some("2000::"),
        ),
        (json!({"clusterIP": "3000::1"}), true, Some("2000::")),
        (json!({"clusterIP": "None"}), true, Some("1.2.3.4")),
        (json!({"clusterIP": "None"}), false, Some("1.2.3.4")),
        // IPv6 service, IPv4-only pod: no address.
        (json!({"ipFamilies": ["IPv6"]}), false, None),
        // Empty ipFamilies (upstream `TestPodToEndpointAddressForServiceEmptyIPFamilies`).
        (json!({}), false, Some("1.2.3.4")),
    ];
    for (extra, dual_stack, expected) in cases {
        let mut spec = json!({"selector": {"foo": "bar"}, "ports": [{"port": 80}]});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let svc = service(spec.clone());
        let mut p = pod("a", "1.2.3.4", true);
        if dual_stack {
            dual(&mut p);
        }
        let got = plan::pod_address(&svc, &p).map(|a| a.ip);
        assert_eq!(got.as_deref(), expected, "{spec}");
    }
    let got = plan::pod_address(&basic_service(), &pod("a", "1.2.3.4", true)).unwrap();
    assert_eq!(got, address("a", "1.2.3.4"));
}

#[test]
fn hostname_only_when_subdomain_is_the_service() {
    let svc = basic_service();
    let mut p = pod("a", "1.2.3.4", true);
    let spec = p.spec.as_mut().unwrap();
    spec.hostname = Some("host-a".into());
    spec.subdomain = Some("other".into());
    assert_eq!(plan::hostname_for(&svc, &p), None);
    p.spec.as_mut().unwrap().subdomain = Some("foo".into());
    assert_eq!(plan::hostname_for(&svc, &p).as_deref(), Some("host-a"));
    let desired = plan::desired_subsets(&svc, [&p]);
    let a = &desired.subsets[0].addresses.as_ref().unwrap()[0];
    assert_eq!(a.hostname.as_deref(), Some("host-a"));
}

/// `FindPort` (k8s.io/endpointslice utils_test.go): name and protocol must both match;
/// containers first, then restartable init containers only.
#[test]
fn find_port() {
    let p: CachedPod = serde_json::from_value(json!({
        "metadata": {"name": "a", "namespace": "ns"},
        "spec": {
            "initContainers": [
                {"name": "plain-init", "ports": [{"name": "init-only", "containerPort": 7000}]},
                {"name": "sidecar", "restartPolicy": "Always", "ports": [
                    {"name": "side", "containerPort": 7001},
                    {"name": "both", "containerPort": 7002}]},
            ],
            "containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                {"name": "dns", "containerPort": 5353, "protocol": "UDP"},
                {"name": "both", "containerPort": 8081}]}],
        },
    }))
    .unwrap();
    let port = |target: serde_json::Value, protocol: &str| -> crate::api::service::ServicePort {
        serde_json::from_value(json!({"port": 80, "targetPort": target, "protocol": protocol}))
            .unwrap()
    };
    assert_eq!(plan::find_port(&p, &port(json!(9376), "TCP")), Some(9376));
    assert_eq!(plan::find_port(&p, &port(json!("http"), "TCP")), Some(8080));
    assert_eq!(plan::find_port(&p, &port(json!("http"), "UDP")), None);
    assert_eq!(plan::find_port(&p, &port(json!("dns"), "UDP")), Some(5353));
    assert_eq!(plan::find_port(&p, &port(json!("dns"), "TCP")), None);
    assert_eq!(plan::find_port(&p, &port(json!("side"), "TCP")), Some(7001));
    assert_eq!(plan::find_port(&p, &port(json!("both"), "TCP")), Some(8081));
    assert_eq!(plan::find_port(&p, &port(json!("init-only"), "TCP")), None);
    assert_eq!(plan::find_port(&p, &port(json!("missing"), "TCP")), None);
    // Unset targetPort is the service port.
    let unset: crate::api::service::ServicePort =
        serde_json::from_value(json!({"port": 81})).unwrap();
    assert_eq!(plan::find_port(&p, &unset), Some(81));
}

/// A pod without the named port is left out of that port only (upstream
/// `TestSyncEndpointsAddDeletePorts` and the per-port loop of `syncService`).
#[test]
fn named_port_only_some_pods_have() {
    let svc = service(json!({"selector": {"foo": "bar"}, "ports": [
        {"name": "http", "port": 80, "targetPort": "port1"},
        {"name": "metrics", "port": 9090, "targetPort": "metrics"}]}));
    let a = pod("a", "10.0.0.1", true);
    let mut b = pod("b", "10.0.0.2", true);
    b.spec.as_mut().unwrap().containers[0]
        .ports
        .as_mut()
        .unwrap()
        .push(
            serde_json::from_value(
                json!({"name": "metrics", "containerPort": 9100, "protocol": "TCP"}),
            )
            .unwrap(),
        );
    let desired = plan::desired_subsets(&svc, [&a, &b]);
    assert_eq!(
        desired.subsets,
        vec![
            EndpointSubset {
                addresses: Some(vec![address("a", "10.0.0.1"), address("b", "10.0.0.2")]),
                not_ready_addresses: None,
                ports: Some(vec![tcp(Some("http"), 8080)]),
            },
            EndpointSubset {
                addresses: Some(vec![address("b", "10.0.0.2")]),
                not_ready_addresses: None,
                ports: Some(vec![tcp(Some("metrics"), 9100)]),
            },
        ]
    );
}

#[test]
fn sync_endpoints_protocol_multi_protocol_same_port() {
    let svc = service(json!({"selector": {"foo": "bar"}, "ports": [
        {"name": "tcp", "port": 53, "targetPort": 53, "protocol": "TCP"},
        {"name": "udp", "port": 53, "targetPort": 53, "protocol": "UDP"}]}));
    let desired = plan::desired_subsets(&svc, [&pod("a", "1.2.3.4", true)]);
    assert_eq!(desired.subsets.len(), 1);
    let ports = desired.subsets[0].ports.as_ref().unwrap();
    let protocols: Vec<_> = ports.iter().map(|p| p.protocol.clone().unwrap()).collect();
    assert_eq!(protocols, ["TCP", "UDP"]);
}

#[test]
fn sync_endpoints_headless_without_port() {
    let svc = service(json!({"selector": {"foo": "bar"}, "clusterIP": "None"}));
    let desired = plan::desired_subsets(
        &svc,
        [&pod("a", "1.2.3.4", true), &pod("b", "1.2.3.5", false)],
    );
    assert_eq!(
        desired.subsets,
        vec![EndpointSubset {
            addresses: Some(vec![address("a", "1.2.3.4")]),
            not_ready_addresses: Some(vec![address("b", "1.2.3.5")]),
            ports: None,
        }]
    );
    // Not headless and no ports: nothing listed.
    let svc = service(json!({"selector": {"foo": "bar"}}));
    assert!(
        plan::desired_subsets(&svc, [&pod("a", "1.2.3.4", true)])
            .subsets
            .is_empty()
    );
}

#[test]
fn sync_endpoints_headless_service_label() {
    let svc = service(json!({"selector": {"foo": "bar"}, "clusterIP": "None",
                             "ports": [{"port": 80}]}));
    let desired = plan::desired_subsets(&svc, [&pod("a", "1.2.3.4", true)]);
    let next = plan::plan(&svc, &desired, None, None, MANAGED_BY).unwrap();
    let labels = next.metadata.labels.unwrap();
    assert_eq!(
        labels.get(plan::LABEL_HEADLESS).map(String::as_str),
        Some("")
    );
    assert_eq!(
        labels.get(plan::LABEL_MANAGED_BY).map(String::as_str),
        Some(MANAGED_BY)
    );
    // And it goes when the service stops being headless.
    let svc = basic_service();
    let current = MiniEndpoints {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("foo".into()),
            labels: Some(BTreeMap::from([(
                plan::LABEL_HEADLESS.into(),
                String::new(),
            )])),
            ..Default::default()
        },
        subsets: vec![],
    };
    let next = plan::plan(&svc, &Desired::default(), Some(&current), None, MANAGED_BY).unwrap();
    assert!(
        !next
            .metadata
            .labels
            .unwrap()
            .contains_key(plan::LABEL_HEADLESS)
    );
}

/// Addresses sort by the IP string byte-wise ("10.0.0.10" < "10.0.0.9"), then target UID.
#[test]
fn addresses_sort_by_ip_string_then_uid() {
    let svc = basic_service();
    let pods = [
        pod("c", "10.0.0.9", true),
        pod("b", "10.0.0.10", true),
        pod("a", "10.0.0.10", true),
    ];
    let desired = plan::desired_subsets(&svc, pods.iter());
    let ips: Vec<_> = desired.subsets[0]
        .addresses
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a.ip.clone(),
                a.target_ref.as_ref().unwrap().uid.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ips,
        [
            ("10.0.0.10".to_string(), "uid-a".to_string()),
            ("10.0.0.10".into(), "uid-b".into()),
            ("10.0.0.9".into(), "uid-c".into())
        ]
    );
}

/// Upstream `TestPackSubsets` (api/v1/endpoints/util_test.go), the cases that do not depend on
/// the hash order of subsets.
#[test]
fn pack_subsets() {
    let addr = |ip: &str| EndpointAddress {
        ip: ip.into(),
        ..Default::default()
    };
    let port = |n: i32| tcp(None, n);
    let subset = |ready: Vec<EndpointAddress>,
                  not_ready: Vec<EndpointAddress>,
                  ports: Vec<EndpointPort>| EndpointSubset {
        addresses: (!ready.is_empty()).then_some(ready),
        not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
        ports: (!ports.is_empty()).then_some(ports),
    };
    let cases: Vec<(&str, Vec<EndpointSubset>, Vec<EndpointSubset>)> = vec![
        ("empty everything", vec![], vec![]),
        (
            "empty ports",
            vec![subset(vec![addr("1.2.3.4")], vec![], vec![])],
            vec![subset(vec![addr("1.2.3.4")], vec![], vec![])],
        ),
        (
            "one set, one ip, one port",
            vec![subset(vec![addr("1.2.3.4")], vec![], vec![port(111)])],
            vec![subset(vec![addr("1.2.3.4")], vec![], vec![port(111)])],
        ),
        (
            "one set, dup ips, one port",
            vec![subset(
                vec![addr("1.2.3.4"), addr("1.2.3.4")],
                vec![],
                vec![port(111)],
            )],
            vec![subset(vec![addr("1.2.3.4")], vec![], vec![port(111)])],
        ),
        (
            "one set, one ip, dup ports",
            vec![subset(
                vec![addr("1.2.3.4")],
                vec![],
                vec![port(111), port(111)],
            )],
            vec![subset(vec![addr("1.2.3.4")], vec![], vec![port(111)])],
        ),
        (
            "two sets, dup ip, dup port",
            vec![
                subset(vec![addr("1.2.3.4")], vec![], vec![port(111)]),
                subset(vec![addr("1.2.3.4")], vec![], vec![port(111)]),
            ],
            vec![subset(vec![addr("1.2.3.4")], vec![], vec![port(111)])],
        ),
        (
            "two sets, dup ip, two ports",
            vec![
                subset(vec![addr("1.2.3.4")], vec![], vec![port(111)]),
                subset(vec![addr("1.2.3.4")], vec![], vec![port(222)]),
            ],
            vec![subset(
                vec![addr("1.2.3.4")],
                vec![],
                vec![port(111), port(222)],
            )],
        ),
        (
            "two sets, two ips, dup port",
            vec![
                subset(vec![addr("1.2.3.4")], vec![], vec![port(111)]),
                subset(vec![addr("5.6.7.8")], vec![], vec![port(111)]),
            ],
            vec![subset(
                vec![addr("1.2.3.4"), addr("5.6.7.8")],
                vec![],
                vec![port(111)],
            )],
        ),
        (
            "one set, one ip, not ready and ready",
            vec![subset(
                vec![addr("1.2.3.4")],
                vec![addr("1.2.3.4")],
                vec![port(111)],
            )],
            vec![subset(vec![], vec![addr("1.2.3.4")], vec![port(111)])],
        ),
        (
            "two sets, ready and not ready, dup port",
            vec![
                subset(vec![addr("1.2.3.4")], vec![], vec![port(111)]),
                subset(vec![], vec![addr("5.6.7.8")], vec![port(111)]),
            ],
            vec![subset(
                vec![addr("1.2.3.4")],
                vec![addr("5.6.7.8")],
                vec![port(111)],
            )],
        ),
    ];
    for (name, given, expected) in cases {
        assert_eq!(plan::repack(plan::entries_of(&given)), expected, "{name}");
    }
}

/// Upstream `TestTruncateEndpoints`.
#[test]
fn truncate_endpoints() {
    type Case<'a> = (&'a [usize], &'a [usize], &'a [usize], &'a [usize]);
    let cases: [Case; 5] = [
        (&[], &[], &[], &[]),
        (
            &[50, 100, 100, 100, 100],
            &[50, 100, 100, 100, 100],
            &[50, 100, 100, 100, 100],
            &[50, 100, 100, 100, 100],
        ),
        (
            &[100, 100, 100, 100, 100],
            &[100, 100, 100, 100, 100],
            &[100, 100, 100, 100, 100],
            &[100, 100, 100, 100, 100],
        ),
        (
            &[90, 110, 50, 10, 20],
            &[101, 200, 200, 201, 298],
            &[90, 110, 50, 10, 20],
            &[73, 144, 144, 145, 214],
        ),
        (
            &[205, 400, 402, 400, 693],
            &[100, 200, 200, 200, 300],
            &[98, 191, 192, 191, 328],
            &[0, 0, 0, 0, 0],
        ),
    ];
    for (ready, not_ready, expected_ready, expected_not_ready) in cases {
        let mut subsets: Vec<EndpointSubset> = ready
            .iter()
            .zip(not_ready)
            .map(|(&r, &n)| EndpointSubset {
                addresses: Some(vec![EndpointAddress::default(); r]),
                not_ready_addresses: Some(vec![EndpointAddress::default(); n]),
                ports: None,
            })
            .collect();
        plan::truncate(&mut subsets);
        let got_ready: Vec<usize> = subsets
            .iter()
            .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
            .collect();
        let got_not_ready: Vec<usize> = subsets
            .iter()
            .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
            .collect();
        assert_eq!(
            (got_ready.as_slice(), got_not_ready.as_slice()),
            (expected_ready, expected_not_ready),
            "{ready:?} {not_ready:?}"
        );
    }
}

fn many_pods(ready: usize, not_ready: usize) -> Vec<CachedPod> {
    (0..ready + not_ready)
        .map(|i| {
            pod(
                &format!("p{i}"),
                &format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
                i < ready,
            )
        })
        .collect()
}

fn existing(
    svc: &MiniService,
    pods: &[CachedPod],
    n: usize,
    annotation: Option<&str>,
) -> MiniEndpoints {
    let addresses: Vec<_> = pods[..n]
        .iter()
        .map(|p| plan::pod_address(svc, p).unwrap())
        .collect();
    let mut annotations = BTreeMap::new();
    if let Some(value) = annotation {
        annotations.insert(
            plan::ANNOTATION_OVER_CAPACITY.to_string(),
            value.to_string(),
        );
    }
    MiniEndpoints {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("foo".into()),
            namespace: Some("ns".into()),
            resource_version: Some("1".into()),
            annotations: Some(annotations),
            ..Default::default()
        },
        subsets: vec![EndpointSubset {
            addresses: (!addresses.is_empty()).then_some(addresses),
            not_ready_addresses: None,
            ports: Some(vec![tcp(None, 8080)]),
        }],
    }
}

/// Upstream `TestSyncServiceOverCapacity`.
#[test]
fn sync_service_over_capacity() {
    let max = plan::MAX_CAPACITY;
    // (starting annotation, existing, desired ready, desired not ready, expected ready,
    //  expected not ready, annotation expected)
    let cases = [
        (None, 0, 0, 0, 0, 0, false),
        (None, max - 1, max - 3, 4, max - 3, 3, true),
        (None, max - 1, max, 10, max, 0, true),
        (Some("truncated"), max - 1, max - 1, 0, max - 1, 0, false),
        (Some("warning"), max, max, 0, max, 0, false),
        (Some("warning"), max + 1, max + 1, 0, max, 0, true),
        (Some("truncated"), max, max, 0, max, 0, false),
        (Some("invalid"), max + 1, max + 1, 0, max, 0, true),
    ];
    for (annotation, n_existing, ready, not_ready, want_ready, want_not_ready, want_annotation) in
        cases
    {
        let svc = basic_service();
        let pods = many_pods(ready, not_ready);
        let current = existing(&svc, &pods, n_existing, annotation);
        let desired = plan::desired_subsets(&svc, pods.iter());
        let written =
            plan::plan(&svc, &desired, Some(&current), None, MANAGED_BY).unwrap_or(current);
        let (mut got_ready, mut got_not_ready) = (0, 0);
        for s in &written.subsets {
            got_ready += s.addresses.as_ref().map_or(0, Vec::len);
            got_not_ready += s.not_ready_addresses.as_ref().map_or(0, Vec::len);
        }
        let got_annotation = written
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(plan::ANNOTATION_OVER_CAPACITY))
            .cloned();
        assert_eq!(
            (got_ready, got_not_ready, got_annotation),
            (
                want_ready,
                want_not_ready,
                want_annotation.then(|| "truncated".to_string())
            ),
            "{annotation:?} {n_existing} {ready} {not_ready}"
        );
    }
}

/// Upstream `TestSyncEndpointsItemsPreexistingIdentical` and `...IdenticalUnsorted`, and
/// `TestSyncEndpointsWithPodResourceVersionUpdateOnly`: no write when nothing changed, even if
/// the stored subsets are packed in another order or carry pod resource versions.
#[test]
fn no_write_when_nothing_changed() {
    let svc = basic_service();
    let pods = [pod("a", "10.0.0.2", true), pod("b", "10.0.0.1", false)];
    let desired = plan::desired_subsets(&svc, pods.iter());
    let written = plan::plan(&svc, &desired, None, None, MANAGED_BY).unwrap();
    assert_eq!(
        plan::plan(&svc, &desired, Some(&written), None, MANAGED_BY),
        None
    );

    // Unsorted and split, with resource versions on the target references.
    let mut unsorted = written.clone();
    let mut a = address("a", "10.0.0.2");
    a.target_ref.as_mut().unwrap().resource_version = Some("7".into());
    unsorted.subsets = vec![
        EndpointSubset {
            addresses: None,
            not_ready_addresses: Some(vec![address("b", "10.0.0.1")]),
            ports: Some(vec![tcp(None, 8080)]),
        },
        EndpointSubset {
            addresses: Some(vec![a]),
            not_ready_addresses: None,
            ports: Some(vec![tcp(None, 8080)]),
        },
    ];
    assert_eq!(
        plan::plan(&svc, &desired, Some(&unsorted), None, MANAGED_BY),
        None
    );

    // A label change on the service is written.
    let mut relabelled = svc.clone();
    relabelled.metadata.labels = Some(BTreeMap::from([("team".into(), "x".into())]));
    let next = plan::plan(&relabelled, &desired, Some(&written), None, MANAGED_BY).unwrap();
    assert_eq!(
        next.metadata
            .labels
            .unwrap()
            .get("team")
            .map(String::as_str),
        Some("x")
    );

    // Without our label (someone else's MiniEndpoints of that name): taken over, as upstream.
    let mut foreign = written.clone();
    foreign.metadata.labels = None;
    assert!(plan::plan(&svc, &desired, Some(&foreign), None, MANAGED_BY).is_some());
}

#[test]
fn written_endpoints_carry_owner_and_labels() {
    let mut svc = basic_service();
    svc.metadata.labels = Some(BTreeMap::from([("app".into(), "web".into())]));
    let desired = plan::desired_subsets(&svc, [&pod("a", "10.0.0.1", true)]);
    let time: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let next = plan::plan(&svc, &desired, None, Some(time), MANAGED_BY).unwrap();
    let owner = &next.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.name.as_str(),
            owner.uid.as_str(),
            owner.controller
        ),
        ("MiniService", "foo", "svc-uid", Some(true))
    );
    assert_eq!(
        next.metadata.labels.unwrap(),
        BTreeMap::from([
            ("app".into(), "web".into()),
            (plan::LABEL_MANAGED_BY.into(), MANAGED_BY.into())
        ])
    );
    assert_eq!(
        next.metadata
            .annotations
            .unwrap()
            .get(plan::ANNOTATION_TRIGGER_TIME)
            .map(String::as_str),
        Some("2026-01-01T00:00:00Z")
    );
}

/// Upstream `TestLastTriggerChangeTimeAnnotation_AnnotationCleared`: no new trigger time
/// removes the annotation.
#[test]
fn last_trigger_change_time_annotation_cleared() {
    let svc = basic_service();
    let desired = plan::desired_subsets(&svc, [&pod("a", "10.0.0.1", true)]);
    let mut current = plan::plan(
        &svc,
        &Desired::default(),
        None,
        Some(Timestamp::UNIX_EPOCH),
        MANAGED_BY,
    )
    .unwrap();
    current.metadata.resource_version = Some("1".into());
    let next = plan::plan(&svc, &desired, Some(&current), None, MANAGED_BY).unwrap();
    assert!(
        !next
            .metadata
            .annotations
            .unwrap()
            .contains_key(plan::ANNOTATION_TRIGGER_TIME)
    );
}

/// Upstream `trigger_time_tracker_test.go`.
#[test]
fn trigger_time_tracker() {
    let tracker = TriggerTimeTracker::default();
    let svc = basic_service();
    let at = |p: &mut CachedPod, t: &str| {
        p.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].last_transition_time =
            Some(Time(t.parse().unwrap()));
    };
    let mut a = pod("a", "10.0.0.1", true);
    let mut b = pod("b", "10.0.0.2", true);
    at(&mut a, "2026-01-01T00:00:10Z");
    at(&mut b, "2026-01-01T00:00:20Z");
    // First sight: the service's creation time.
    let first = tracker.compute("ns/foo", &svc, [&a, &b]);
    assert_eq!(first, Some("2026-01-01T00:00:00Z".parse().unwrap()));
    // Nothing changed: none.
    assert_eq!(tracker.compute("ns/foo", &svc, [&a, &b]), None);
    // Both moved: the earliest change.
    at(&mut a, "2026-01-01T00:01:00Z");
    at(&mut b, "2026-01-01T00:00:50Z");
    assert_eq!(
        tracker.compute("ns/foo", &svc, [&a, &b]),
        Some("2026-01-01T00:00:50Z".parse().unwrap())
    );
    // A new pod counts as changed.
    let mut c = pod("c", "10.0.0.3", true);
    at(&mut c, "2026-01-01T00:02:00Z");
    assert_eq!(
        tracker.compute("ns/foo", &svc, [&a, &b, &c]),
        Some("2026-01-01T00:02:00Z".parse().unwrap())
    );
    tracker.forget("ns/foo");
    assert_eq!(
        tracker.compute("ns/foo", &svc, [&a]),
        Some("2026-01-01T00:00:00Z".parse().unwrap())
    );
}

#[test]
fn format_time_as_rfc3339_nano() {
    assert_eq!(
        plan::format_time("2026-01-01T00:00:00Z".parse().unwrap()),
        "2026-01-01T00:00:00Z"
    );
    assert_eq!(
        plan::format_time("2026-01-01T00:00:00.120Z".parse().unwrap()),
        "2026-01-01T00:00:00.12Z"
    );
}
