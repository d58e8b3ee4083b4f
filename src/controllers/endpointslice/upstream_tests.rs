//! Upstream `k8s.io/endpointslice` `reconciler_test.go` and `utils_test.go` cases that apply
//! (topology hints, traffic distribution, metrics and the slice tracker have no counterpart),
//! run against the pure reconciler. The fake clientset's actions are the plan's writes; a
//! small `apply` plays the API server so that several syncs can follow each other. Other
//! tests of this controller (`hold.rs`) build on the same helpers.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Pod, PodCondition, PodIP, PodSpec, PodStatus, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::api::discovery::v1::{EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::reconciler::*;
use crate::controllers::cached_pod::{CachedContainer, CachedPod};

const CONTROLLER: &str = "endpointslice-controller.minik8s.dev";

/// Upstream `newPod`.
pub(super) fn new_pod(n: usize, ready: bool, terminating: bool) -> CachedPod {
    Pod {
        metadata: ObjectMeta {
            namespace: Some("test".into()),
            name: Some(format!("pod{n}")),
            uid: Some(format!("uid-pod{n}")),
            labels: Some(BTreeMap::from([("foo".into(), "bar".into())])),
            deletion_timestamp: terminating.then(|| Time(k8s_openapi::jiff::Timestamp::now())),
            resource_version: Some(n.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "container-1".into(),
                ..Container::default()
            }],
            node_name: Some("node-1".into()),
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            pod_ip: Some(format!("1.2.{}.{}", 3 + (4 + n) / 250, (4 + n) % 250)),
            pod_ips: Some(vec![PodIP {
                ip: format!("1.2.{}.{}", 3 + (4 + n) / 250, (4 + n) % 250),
            }]),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..PodCondition::default()
            }]),
            phase: Some("Running".into()),
            ..PodStatus::default()
        }),
    }
    .into()
}

/// Upstream `newServiceAndEndpointMeta`.
pub(super) fn new_service(name: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("test".into()),
            uid: Some(format!("test-{name}")),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                name: Some(name.into()),
                port: 80,
                target_port: Some(IntOrString::Int(80)),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            selector: Some(BTreeMap::from([("foo".into(), "bar".into())])),
            ip_families: Some(vec!["IPv4".into()]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn endpoint_ports(name: &str) -> Vec<EndpointPort> {
    vec![EndpointPort {
        name: Some(name.into()),
        port: Some(80),
        protocol: Some("TCP".into()),
        app_protocol: None,
    }]
}

/// Upstream `newEmptyEndpointSlice`.
fn new_empty_slice(n: usize, service: &Service, ports: Vec<EndpointPort>) -> EndpointSlice {
    let mut slice = new_slice(service, ports, IPV4, CONTROLLER);
    slice.metadata.name = Some(format!("{}-{n}", service.metadata.name.as_ref().unwrap()));
    slice.metadata.generate_name = None;
    slice.metadata.labels = None;
    slice
}

fn node_1(name: &str) -> NodeInfo {
    if name == "node-1" {
        NodeInfo::Found { zone: None }
    } else {
        NodeInfo::NotFound
    }
}

pub(super) fn found(_: &str) -> NodeInfo {
    NodeInfo::Found { zone: None }
}

pub(super) fn run(
    service: &Service,
    pods: &[CachedPod],
    existing: &[EndpointSlice],
    max: usize,
    nodes: &dyn Fn(&str) -> NodeInfo,
) -> Plan {
    let pods: Vec<&CachedPod> = pods.iter().collect();
    reconcile(service, &pods, nodes, existing, max, CONTROLLER)
}

/// Plays the API server: the slices after the plan's writes.
pub(super) fn apply(
    existing: &[EndpointSlice],
    plan: &Plan,
    counter: &mut usize,
) -> Vec<EndpointSlice> {
    let mut slices: BTreeMap<String, EndpointSlice> = existing
        .iter()
        .map(|s| (s.metadata.name.clone().unwrap(), s.clone()))
        .collect();
    for name in &plan.delete {
        assert!(
            slices.remove(name).is_some(),
            "delete of unknown slice {name}"
        );
    }
    for slice in &plan.update {
        let name = slice.metadata.name.clone().unwrap();
        assert!(slices.contains_key(&name), "update of unknown slice {name}");
        slices.insert(name, slice.clone());
    }
    for slice in &plan.create {
        *counter += 1;
        let mut slice = slice.clone();
        let name = format!(
            "{}gen{counter}",
            slice.metadata.generate_name.take().unwrap()
        );
        slice.metadata.name = Some(name.clone());
        slices.insert(name, slice);
    }
    slices.into_values().collect()
}

fn lengths(slices: &[EndpointSlice]) -> Vec<usize> {
    let mut l: Vec<usize> = slices.iter().map(|s| endpoints_of(s).len()).collect();
    l.sort();
    l
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort();
    v
}

fn actions(plan: &Plan) -> (usize, usize, usize) {
    (plan.create.len(), plan.update.len(), plan.delete.len())
}

fn pods(n: usize) -> Vec<CachedPod> {
    (0..n).map(|i| new_pod(i, i % 3 != 0, false)).collect()
}

#[test]
fn reconcile_empty() {
    let svc = new_service("foo");
    let plan = run(&svc, &[], &[], 100, &node_1);
    assert_eq!(actions(&plan), (1, 0, 0));
    let slice = &plan.create[0];
    assert!(
        slice
            .metadata
            .generate_name
            .as_deref()
            .unwrap()
            .starts_with("foo")
    );
    assert_eq!(
        slice.metadata.labels.as_ref().unwrap()[LABEL_SERVICE_NAME],
        "foo"
    );
    assert_eq!(slice.ports, Some(vec![]));
    assert!(endpoints_of(slice).is_empty());
}

#[test]
fn reconcile_1_pod_conditions_and_target() {
    let svc = new_service("foo");
    let pod = new_pod(1, true, false);
    let plan = run(&svc, &[pod], &[], 100, &node_1);
    assert_eq!(actions(&plan), (1, 0, 0));
    let slice = &plan.create[0];
    assert_eq!(slice.address_type, IPV4);
    assert_eq!(slice.ports, Some(endpoint_ports("foo")));
    let ep = &endpoints_of(slice)[0];
    assert_eq!(ep.addresses, vec!["1.2.3.5"]);
    let c = ep.conditions.as_ref().unwrap();
    assert_eq!(
        (c.ready, c.serving, c.terminating),
        (Some(true), Some(true), Some(false))
    );
    assert_eq!(ep.node_name.as_deref(), Some("node-1"));
    let target = ep.target_ref.as_ref().unwrap();
    assert_eq!(target.kind.as_deref(), Some("Pod"));
    assert_eq!(target.name.as_deref(), Some("pod1"));
    assert_eq!(target.uid.as_deref(), Some("uid-pod1"));
    let labels = slice.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[LABEL_MANAGED_BY], CONTROLLER);
    // The test Service has no cluster IP, so upstream labels it headless too.
    assert_eq!(labels[LABEL_HEADLESS], "");
    let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.api_version.as_str()),
        ("Service", "v1")
    );
    assert_eq!(owner.controller, Some(true));
}

#[test]
fn reconcile_1_endpoint_slice_placeholder() {
    let svc = new_service("foo");
    // No existing placeholder: create one.
    assert_eq!(actions(&run(&svc, &[], &[], 100, &node_1)), (1, 0, 0));
    // An existing placeholder that is the same: nothing.
    let mut same = new_slice(&svc, vec![], IPV4, CONTROLLER);
    same.metadata.name = Some("foo-abc".into());
    assert_eq!(actions(&run(&svc, &[], &[same], 100, &node_1)), (0, 0, 0));
    // The API server returns an empty port list as absent: still the same.
    let mut absent = new_slice(&svc, vec![], IPV4, CONTROLLER);
    absent.metadata.name = Some("foo-abc".into());
    absent.ports = None;
    absent.endpoints = None;
    assert_eq!(actions(&run(&svc, &[], &[absent], 100, &node_1)), (0, 0, 0));
    // One that differs (labels): replaced in place, an update.
    let mut different = new_empty_slice(1, &svc, endpoint_ports("foo"));
    different.metadata.labels = Some(BTreeMap::from([("bar".into(), "baz".into())]));
    let plan = run(&svc, &[], &[different], 100, &node_1);
    assert_eq!(actions(&plan), (0, 1, 0));
    assert_eq!(plan.update[0].metadata.name.as_deref(), Some("foo-1"));
}

#[test]
fn reconcile_1_endpoint_slice_publish_not_ready_addresses() {
    let mut svc = new_service("foo");
    svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    let plan = run(&svc, &pods(250), &[], 100, &node_1);
    for slice in &plan.create {
        for ep in endpoints_of(slice) {
            assert_eq!(ep.conditions.as_ref().unwrap().ready, Some(true));
        }
    }
}

#[test]
fn reconcile_many_pods() {
    let plan = run(&new_service("foo"), &pods(250), &[], 100, &node_1);
    assert_eq!(actions(&plan), (3, 0, 0));
    assert_eq!(lengths(&plan.create), sorted(vec![100, 100, 50]));
}

fn preexisting(svc: &Service, pods: &[CachedPod]) -> Vec<EndpointSlice> {
    let mut s1 = new_empty_slice(1, svc, endpoint_ports("foo"));
    let mut s2 = new_empty_slice(2, svc, endpoint_ports("foo"));
    let found = NodeInfo::Found { zone: None };
    for i in (1..pods.len() - 4).step_by(4) {
        s1.endpoints
            .get_or_insert_with(Vec::new)
            .push(pod_to_endpoint(&pods[i], &found, svc, IPV4));
    }
    for i in (3..pods.len() - 4).step_by(4) {
        s2.endpoints
            .get_or_insert_with(Vec::new)
            .push(pod_to_endpoint(&pods[i], &found, svc, IPV4));
    }
    vec![s1, s2]
}

#[test]
fn reconcile_endpoint_slices_some_preexisting() {
    let svc = new_service("foo");
    let pods = pods(250);
    let existing = preexisting(&svc, &pods);
    let plan = run(&svc, &pods, &existing, 100, &node_1);
    assert_eq!(actions(&plan), (1, 1, 0));
    let after = apply(&existing, &plan, &mut 0);
    assert_eq!(lengths(&after), sorted(vec![89, 61, 100]));
}

#[test]
fn reconcile_endpoint_slices_some_preexisting_worse_allocation() {
    let svc = new_service("foo");
    let pods = pods(300);
    let existing = preexisting(&svc, &pods);
    let plan = run(&svc, &pods, &existing, 100, &node_1);
    assert_eq!(actions(&plan), (2, 0, 0));
    let after = apply(&existing, &plan, &mut 0);
    assert_eq!(lengths(&after), sorted(vec![74, 74, 100, 52]));
}

#[test]
fn reconcile_endpoint_slices_updating() {
    let mut svc = new_service("foo");
    let pods = pods(250);
    let mut n = 0;
    let slices = apply(&[], &run(&svc, &pods, &[], 100, &node_1), &mut n);
    assert_eq!(lengths(&slices), sorted(vec![100, 100, 50]));
    svc.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port = Some(IntOrString::Int(81));
    let plan = run(&svc, &pods, &slices, 100, &node_1);
    assert_eq!(actions(&plan), (0, 3, 0));
    assert_eq!(
        lengths(&apply(&slices, &plan, &mut n)),
        sorted(vec![100, 100, 50])
    );
}

#[test]
fn reconcile_endpoint_slices_services_labels_updating() {
    let mut svc = new_service("foo");
    let pods = pods(250);
    let slices = apply(&[], &run(&svc, &pods, &[], 100, &node_1), &mut 0);
    svc.metadata.labels = Some(BTreeMap::from([("foo".into(), "bar".into())]));
    let plan = run(&svc, &pods, &slices, 100, &node_1);
    assert_eq!(actions(&plan), (0, 3, 0));
    for slice in &plan.update {
        assert_eq!(slice.metadata.labels.as_ref().unwrap()["foo"], "bar");
    }
}

#[test]
fn reconcile_endpoint_slices_services_reserved_labels() {
    let mut svc = new_service("foo");
    let pods = pods(250);
    let slices = apply(&[], &run(&svc, &pods, &[], 100, &node_1), &mut 0);
    svc.metadata.labels = Some(BTreeMap::from([
        (LABEL_SERVICE_NAME.into(), "bad".into()),
        (LABEL_MANAGED_BY.into(), "actor".into()),
        (LABEL_HEADLESS.into(), "invalid".into()),
    ]));
    assert_eq!(actions(&run(&svc, &pods, &slices, 100, &node_1)), (0, 0, 0));
}

#[test]
fn reconcile_endpoint_slices_recycling() {
    let mut svc = new_service("foo");
    let pods = pods(300);
    let found = NodeInfo::Found { zone: None };
    let mut existing: Vec<EndpointSlice> = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        if i % 30 == 0 {
            existing.push(new_empty_slice(i / 30, &svc, endpoint_ports("foo")));
        }
        existing[i / 30]
            .endpoints
            .get_or_insert_with(Vec::new)
            .push(pod_to_endpoint(pod, &found, &svc, IPV4));
    }
    assert_eq!(
        actions(&run(&svc, &pods, &existing, 100, &node_1)),
        (0, 0, 0)
    );
    svc.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port = Some(IntOrString::Int(81));
    let plan = run(&svc, &pods, &existing, 100, &node_1);
    assert_eq!(actions(&plan), (0, 3, 7));
    assert_eq!(
        lengths(&apply(&existing, &plan, &mut 0)),
        vec![100, 100, 100]
    );
}

#[test]
fn reconcile_endpoint_slices_update_packing() {
    let svc = new_service("foo");
    let found = NodeInfo::Found { zone: None };
    let mut pods = Vec::new();
    let mut s1 = new_empty_slice(1, &svc, endpoint_ports("foo"));
    for i in 0..80 {
        let pod = new_pod(i, true, false);
        s1.endpoints
            .get_or_insert_with(Vec::new)
            .push(pod_to_endpoint(&pod, &found, &svc, IPV4));
        pods.push(pod);
    }
    let mut s2 = new_empty_slice(2, &svc, endpoint_ports("foo"));
    for i in 100..120 {
        let pod = new_pod(i, true, false);
        s2.endpoints
            .get_or_insert_with(Vec::new)
            .push(pod_to_endpoint(&pod, &found, &svc, IPV4));
        pods.push(pod);
    }
    // Some pods become not ready: slice 1 is updated anyway, and takes the new endpoints.
    for (i, pod) in pods.iter_mut().enumerate() {
        if i % 10 == 0 {
            pod.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "False".into();
        }
    }
    for i in 200..215 {
        pods.push(new_pod(i, true, false));
    }
    let existing = vec![s1, s2];
    let plan = run(&svc, &pods, &existing, 100, &node_1);
    assert_eq!(actions(&plan), (0, 2, 0));
    assert_eq!(lengths(&apply(&existing, &plan, &mut 0)), vec![20, 95]);
}

#[test]
fn reconcile_endpoint_slices_replace_deprecated() {
    let svc = new_service("foo");
    let found = NodeInfo::Found { zone: None };
    let mut pods = Vec::new();
    let mut s1 = new_empty_slice(1, &svc, endpoint_ports("foo"));
    s1.address_type = "IP".into();
    for i in 0..80 {
        let pod = new_pod(i, true, false);
        s1.endpoints
            .get_or_insert_with(Vec::new)
            .push(pod_to_endpoint(&pod, &found, &svc, IPV4));
        pods.push(pod);
    }
    let mut s2 = new_empty_slice(2, &svc, endpoint_ports("foo"));
    s2.address_type = "IP".into();
    for i in 100..150 {
        let pod = new_pod(i, true, false);
        s2.endpoints
            .get_or_insert_with(Vec::new)
            .push(pod_to_endpoint(&pod, &found, &svc, IPV4));
        pods.push(pod);
    }
    let existing = vec![s1, s2];
    let plan = run(&svc, &pods, &existing, 100, &node_1);
    assert_eq!(actions(&plan), (2, 0, 2));
    let after = apply(&existing, &plan, &mut 0);
    assert_eq!(lengths(&after), vec![30, 100]);
    assert!(after.iter().all(|s| s.address_type == IPV4));
}

#[test]
fn reconcile_endpoint_slices_recreation() {
    for (owned, expect) in [(true, (0, 0, 0)), (false, (1, 0, 1))] {
        let svc = new_service("foo");
        let pod = new_pod(1, true, false);
        let mut slice = new_empty_slice(1, &svc, endpoint_ports("foo"));
        let plain = Service::default();
        slice.endpoints = Some(vec![pod_to_endpoint(
            &pod,
            &NodeInfo::Found { zone: None },
            &plain,
            IPV4,
        )]);
        if !owned {
            slice.metadata.owner_references.as_mut().unwrap()[0].uid = "different".into();
        }
        let plan = run(&svc, &[pod], &[slice], 100, &node_1);
        assert_eq!(actions(&plan), expect, "owned by the service: {owned}");
    }
}

#[test]
fn reconcile_endpoint_slices_named_ports() {
    let mut svc = new_service("named-port-example");
    let port = &mut svc.spec.as_mut().unwrap().ports.as_mut().unwrap()[0];
    port.target_port = Some(IntOrString::String("http".into()));
    port.name = None;
    let pods: Vec<CachedPod> = (0..300)
        .map(|i| {
            let mut pod = new_pod(i, i % 3 != 0, false);
            pod.spec.as_mut().unwrap().containers[0].ports = Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: 8080 + (i % 5) as i32,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            }]);
            pod
        })
        .collect();
    let plan = run(&svc, &pods, &[], 100, &node_1);
    assert_eq!(actions(&plan), (5, 0, 0));
    assert_eq!(lengths(&plan.create), vec![60; 5]);
    let mut ports: Vec<i32> = plan
        .create
        .iter()
        .map(|s| {
            let p = &s.ports.as_ref().unwrap()[0];
            assert_eq!(p.name.as_deref(), Some(""));
            assert_eq!(p.protocol.as_deref(), Some("TCP"));
            p.port.unwrap()
        })
        .collect();
    ports.sort();
    assert_eq!(ports, vec![8080, 8081, 8082, 8083, 8084]);
}

#[test]
fn reconcile_max_endpoints_per_slice() {
    let svc = new_service("foo");
    let pods = pods(250);
    for (max, want) in [
        (50, vec![50, 50, 50, 50, 50]),
        (80, vec![80, 80, 80, 10]),
        (150, vec![150, 100]),
        (250, vec![250]),
        (500, vec![250]),
    ] {
        let plan = run(&svc, &pods, &[], max, &node_1);
        assert_eq!(lengths(&plan.create), sorted(want), "max {max}");
    }
}

#[test]
fn reconciler_pod_missing_node() {
    let svc = new_service("foo");
    let mut pod0 = new_pod(0, true, false);
    pod0.spec.as_mut().unwrap().node_name = Some("node-0".into());
    let pod1 = new_pod(1, true, false);
    let pods = vec![pod0, pod1];
    let only_node_0 = |n: &str| {
        if n == "node-0" {
            NodeInfo::Found { zone: None }
        } else {
            NodeInfo::NotFound
        }
    };
    let none = |_: &str| NodeInfo::NotFound;
    let publishing = |on: bool| {
        let mut s = svc.clone();
        s.spec.as_mut().unwrap().publish_not_ready_addresses = Some(on);
        s
    };
    let existing = |s: &Service| {
        let mut slice = new_empty_slice(1, s, endpoint_ports("foo"));
        let f = NodeInfo::Found { zone: None };
        slice.endpoints = Some(
            pods.iter()
                .map(|p| pod_to_endpoint(p, &f, s, IPV4))
                .collect(),
        );
        slice
    };
    // (publishNotReady, nodes, existing slice) → (actions, endpoints written, error)
    let plan = run(&publishing(false), &pods, &[], 100, &only_node_0);
    assert_eq!(
        (
            actions(&plan),
            endpoints_of(&plan.create[0]).len(),
            plan.skipped.len()
        ),
        ((1, 0, 0), 1, 1)
    );
    let plan = run(&publishing(true), &pods, &[], 100, &only_node_0);
    assert_eq!(
        (
            actions(&plan),
            endpoints_of(&plan.create[0]).len(),
            plan.skipped.len()
        ),
        ((1, 0, 0), 2, 0)
    );
    let s = publishing(false);
    let plan = run(&s, &pods, &[existing(&s)], 100, &only_node_0);
    assert_eq!(
        (
            actions(&plan),
            endpoints_of(&plan.update[0]).len(),
            plan.skipped.len()
        ),
        ((0, 1, 0), 1, 1)
    );
    let s = publishing(true);
    let plan = run(&s, &pods, &[existing(&s)], 100, &none);
    assert_eq!((actions(&plan), plan.skipped.len()), ((0, 0, 0), 0));
    let plan = run(&s, &pods, &[existing(&s)], 100, &only_node_0);
    assert_eq!((actions(&plan), plan.skipped.len()), ((0, 0, 0), 0));
    let s = publishing(false);
    let plan = run(&s, &pods, &[existing(&s)], 100, &none);
    assert_eq!(
        (
            actions(&plan),
            endpoints_of(&plan.update[0]).len(),
            plan.skipped.len()
        ),
        ((0, 1, 0), 0, 2)
    );
}

#[test]
fn reconcile_headless_service_no_ports() {
    let mut svc = new_service("headless-no-ports");
    let spec = svc.spec.as_mut().unwrap();
    spec.cluster_ip = Some("None".into());
    spec.ports = None;
    let pod = new_pod(1, true, false);
    let plan = run(&svc, std::slice::from_ref(&pod), &[], 100, &found);
    assert_eq!(actions(&plan), (1, 0, 0));
    assert_eq!(
        plan.create[0].metadata.labels.as_ref().unwrap()[LABEL_HEADLESS],
        ""
    );
    let mut slices = apply(&[], &plan, &mut 0);
    // The API server returns the empty port list as absent.
    slices[0].ports = None;
    assert_eq!(actions(&run(&svc, &[pod], &slices, 100, &found)), (0, 0, 0));
}

// utils_test.go

#[test]
fn pod_to_endpoint_conditions_and_hostname() {
    let svc = new_service("foo");
    let zone = NodeInfo::Found {
        zone: Some("us-west-2a".into()),
    };
    // (ready, terminating, publishNotReady) → (ready, serving, terminating)
    for (ready, terminating, publish, want) in [
        (true, false, false, (true, true, false)),
        (false, false, false, (false, false, false)),
        (false, false, true, (true, false, false)),
        (true, true, false, (false, true, true)),
        (false, true, false, (false, false, true)),
        (true, true, true, (true, true, true)),
    ] {
        let mut s = svc.clone();
        s.spec.as_mut().unwrap().publish_not_ready_addresses = Some(publish);
        let ep = pod_to_endpoint(&new_pod(1, ready, terminating), &zone, &s, IPV4);
        let c = ep.conditions.unwrap();
        assert_eq!(
            (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap()),
            want,
            "ready {ready} terminating {terminating} publish {publish}"
        );
        assert_eq!(ep.zone.as_deref(), Some("us-west-2a"));
    }
    // Hostname only when the pod's subdomain is the service, in the same namespace.
    let mut pod = new_pod(1, true, false);
    let spec = pod.spec.as_mut().unwrap();
    spec.hostname = Some("example-hostname".into());
    spec.subdomain = Some("foo".into());
    let ep = pod_to_endpoint(&pod, &zone, &svc, IPV4);
    assert_eq!(ep.hostname.as_deref(), Some("example-hostname"));
    pod.spec.as_mut().unwrap().subdomain = Some("bar".into());
    assert_eq!(pod_to_endpoint(&pod, &zone, &svc, IPV4).hostname, None);
    pod.spec.as_mut().unwrap().subdomain = Some("foo".into());
    pod.metadata.namespace = Some("other".into());
    assert_eq!(pod_to_endpoint(&pod, &zone, &svc, IPV4).hostname, None);
}

#[test]
fn pods_terminal_or_without_ip_are_left_out() {
    let mut pod = new_pod(1, true, false);
    assert!(should_pod_be_in_endpoints(&pod));
    pod.status.as_mut().unwrap().phase = Some("Succeeded".into());
    assert!(!should_pod_be_in_endpoints(&pod));
    pod.status.as_mut().unwrap().phase = Some("Failed".into());
    assert!(!should_pod_be_in_endpoints(&pod));
    let mut pod = new_pod(1, true, false);
    pod.status.as_mut().unwrap().pod_ip = None;
    pod.status.as_mut().unwrap().pod_ips = None;
    assert!(!should_pod_be_in_endpoints(&pod));
    // Terminating pods stay.
    assert!(should_pod_be_in_endpoints(&new_pod(1, true, true)));
}

#[test]
fn addresses_follow_the_address_type() {
    let mut pod = new_pod(1, true, false);
    pod.status.as_mut().unwrap().pod_ips = Some(vec![
        PodIP {
            ip: "1.2.3.4".into(),
        },
        PodIP {
            ip: "1234::5678:0000:0000:9abc:def0".into(),
        },
    ]);
    assert_eq!(endpoint_addresses(&pod, IPV4), vec!["1.2.3.4"]);
    assert_eq!(
        endpoint_addresses(&pod, IPV6),
        vec!["1234::5678:0:0:9abc:def0"]
    );
}

#[test]
fn supported_service_address_type() {
    let svc = |families: Option<Vec<&str>>, ip: Option<&str>| Service {
        spec: Some(ServiceSpec {
            ip_families: families.map(|f| f.into_iter().map(String::from).collect()),
            cluster_ip: ip.map(String::from),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let set = |v: &[&'static str]| v.iter().copied().collect::<std::collections::BTreeSet<_>>();
    assert_eq!(address_types(&svc(Some(vec!["IPv4"]), None)), set(&[IPV4]));
    assert_eq!(address_types(&svc(Some(vec!["IPv6"]), None)), set(&[IPV6]));
    assert_eq!(
        address_types(&svc(Some(vec!["IPv6", "IPv4"]), None)),
        set(&[IPV4, IPV6])
    );
    assert_eq!(address_types(&svc(None, Some("10.0.0.10"))), set(&[IPV4]));
    assert_eq!(address_types(&svc(None, Some("2000::1"))), set(&[IPV6]));
    assert_eq!(address_types(&svc(None, Some("None"))), set(&[IPV4, IPV6]));
    assert_eq!(address_types(&svc(None, None)), set(&[IPV4, IPV6]));
}

#[test]
fn find_port_named_and_numbered() {
    let mut pod = new_pod(1, true, false);
    let spec = pod.spec.as_mut().unwrap();
    spec.containers[0].ports = Some(vec![
        ContainerPort {
            name: Some("foo".into()),
            container_port: 8080,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        },
        ContainerPort {
            name: Some("bar".into()),
            container_port: 9000,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        },
    ]);
    spec.init_containers = Some(vec![
        CachedContainer {
            name: "sidecar".into(),
            restart_policy: Some("Always".into()),
            ports: Some(vec![ContainerPort {
                name: Some("side".into()),
                container_port: 7000,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            }]),
        },
        CachedContainer {
            name: "init".into(),
            ports: Some(vec![ContainerPort {
                name: Some("init".into()),
                container_port: 6000,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            }]),
            ..CachedContainer::default()
        },
    ]);
    let port = |target: IntOrString, protocol: &str| ServicePort {
        port: 80,
        target_port: Some(target),
        protocol: Some(protocol.into()),
        ..ServicePort::default()
    };
    assert_eq!(
        find_port(&pod, &port(IntOrString::Int(93), "TCP")),
        Some(93)
    );
    assert_eq!(
        find_port(&pod, &port(IntOrString::String("foo".into()), "TCP")),
        Some(8080)
    );
    assert_eq!(
        find_port(&pod, &port(IntOrString::String("bar".into()), "TCP")),
        Some(9000)
    );
    // The protocol must match too.
    assert_eq!(
        find_port(&pod, &port(IntOrString::String("foo".into()), "UDP")),
        None
    );
    assert_eq!(
        find_port(&pod, &port(IntOrString::String("baz".into()), "TCP")),
        None
    );
    // Sidecars count; plain init containers do not.
    assert_eq!(
        find_port(&pod, &port(IntOrString::String("side".into()), "TCP")),
        Some(7000)
    );
    assert_eq!(
        find_port(&pod, &port(IntOrString::String("init".into()), "TCP")),
        None
    );
}

#[test]
fn endpoint_ports_leave_out_ports_the_pod_lacks() {
    let mut svc = new_service("foo");
    svc.spec.as_mut().unwrap().ports = Some(vec![
        ServicePort {
            name: Some("http".into()),
            port: 80,
            target_port: Some(IntOrString::String("http".into())),
            protocol: Some("TCP".into()),
            ..ServicePort::default()
        },
        ServicePort {
            name: Some("metrics".into()),
            port: 9090,
            target_port: Some(IntOrString::Int(9090)),
            protocol: Some("TCP".into()),
            app_protocol: Some("http".into()),
            ..ServicePort::default()
        },
    ]);
    let pod = new_pod(1, true, false);
    let ports = super::reconciler::endpoint_ports(&svc, &pod);
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].name.as_deref(), Some("metrics"));
    assert_eq!(ports[0].app_protocol.as_deref(), Some("http"));
}

#[test]
fn set_endpoint_slice_labels() {
    let mut svc = new_service("foo");
    svc.metadata.labels = Some(BTreeMap::from([
        ("foo".into(), "bar".into()),
        (LABEL_SERVICE_NAME.into(), "bad".into()),
    ]));
    // A new slice: the service's labels, minus reserved ones, plus ours.
    let (labels, updated) = slice_labels(None, &svc, CONTROLLER);
    assert!(updated);
    assert_eq!(labels["foo"], "bar");
    assert_eq!(labels[LABEL_SERVICE_NAME], "foo");
    assert_eq!(labels[LABEL_MANAGED_BY], CONTROLLER);
    // Same labels: not updated; a headless service gets the headless label.
    svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
    let (labels2, updated) = slice_labels(Some(&labels), &svc, CONTROLLER);
    assert!(!updated);
    assert_eq!(labels2[LABEL_HEADLESS], "");
    // A slice label the service dropped: updated.
    let mut extra = labels.clone();
    extra.insert("gone".into(), "x".into());
    assert!(slice_labels(Some(&extra), &svc, CONTROLLER).1);
}

#[test]
fn endpoints_equal_beyond_hash_ignores_the_resource_version() {
    let svc = new_service("foo");
    let f = NodeInfo::Found { zone: None };
    let a = pod_to_endpoint(&new_pod(1, true, false), &f, &svc, IPV4);
    let mut b = a.clone();
    b.target_ref.as_mut().unwrap().resource_version = Some("2".into());
    assert!(endpoints_equal_beyond_hash(&a, &b));
    b.node_name = Some("node-2".into());
    assert!(!endpoints_equal_beyond_hash(&a, &b));
    let c = pod_to_endpoint(&new_pod(1, false, false), &f, &svc, IPV4);
    assert!(!endpoints_equal_beyond_hash(&a, &c));
}
