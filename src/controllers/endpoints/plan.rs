//! Pure decisions of the endpoints controller: which pods a MiniService lists, as which
//! addresses and ports, packed into subsets as the built-in controller packs them, and whether
//! the stored MiniEndpoints already says so (upstream `syncService`, `RepackSubsets`,
//! `truncateEndpoints`, `ShouldPodBeInEndpoints`, `FindPort`, `podToEndpointAddressForService`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt};

use crate::api::service::{Protocol, ServicePort};
use crate::api::{MiniEndpoints, MiniService};
use crate::controllers::pod;

/// Upstream `maxCapacity`: an Endpoints lists at most this many addresses.
pub const MAX_CAPACITY: usize = 1000;
/// Label of every MiniEndpoints this controller writes (upstream `LabelManagedBy`).
pub const LABEL_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
/// Label of the MiniEndpoints of a headless service (upstream `v1.IsHeadlessService`).
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
/// Upstream `v1.EndpointsLastChangeTriggerTime`.
pub const ANNOTATION_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// Upstream `v1.EndpointsOverCapacity`.
pub const ANNOTATION_OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Value of [`ANNOTATION_OVER_CAPACITY`] once addresses were dropped.
pub const TRUNCATED: &str = "truncated";

/// Upstream `ShouldPodBeInEndpoints`: not finished, has an IP, and not being deleted unless
/// terminating pods are wanted (publishNotReadyAddresses).
pub fn should_pod_be_in_endpoints(p: &CachedPod, include_terminating: bool) -> bool {
    if matches!(pod::phase(p), "Succeeded" | "Failed") {
        return false;
    }
    let status = p.status.as_ref();
    let has_ip = status.is_some_and(|s| {
        s.pod_ip.as_deref().is_some_and(|ip| !ip.is_empty())
            || s.pod_ips.as_ref().is_some_and(|ips| !ips.is_empty())
    });
    if !has_ip {
        return false;
    }
    include_terminating || p.metadata.deletion_timestamp.is_none()
}

/// A service is headless when its clusterIP is "None". minik8s allocates no cluster IPs, so an
/// unset clusterIP means an ordinary (not headless) service, as a defaulted Service would be.
pub fn is_headless(svc: &MiniService) -> bool {
    svc.spec.cluster_ip.as_deref() == Some("None")
}

fn is_ipv6(ip: &str) -> bool {
    ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv6())
}

/// Upstream `podToEndpointAddressForService`: the pod's first IP of the service's first IP
/// family (`spec.ipFamilies[0]`, else the family of the clusterIP, else of the pod IP).
pub fn pod_address(svc: &MiniService, p: &CachedPod) -> Option<EndpointAddress> {
    let families = svc
        .spec
        .other
        .get("ipFamilies")
        .and_then(|f| f.as_array())
        .and_then(|f| f.first())
        .and_then(|f| f.as_str());
    let status = p.status.as_ref();
    let want_ipv6 = match (families, svc.spec.cluster_ip.as_deref()) {
        (Some(family), _) => family == "IPv6",
        (None, Some(ip)) if !ip.is_empty() && ip != "None" => is_ipv6(ip),
        _ => status
            .and_then(|s| s.pod_ip.as_deref())
            .is_some_and(is_ipv6),
    };
    let ip = status?.pod_ips.as_ref()?.iter().find_map(|pod_ip| {
        // Parsed and printed again, in case the pod's spelling is irregular.
        let ip = pod_ip.ip.parse::<IpAddr>().ok()?;
        (ip.is_ipv6() == want_ipv6).then(|| ip.to_string())
    })?;
    Some(EndpointAddress {
        ip,
        hostname: None,
        node_name: Some(
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default(),
        ),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: p.namespace(),
            name: Some(p.name_any()),
            uid: p.uid(),
            ..Default::default()
        }),
    })
}

/// Upstream `ShouldSetHostname`: the pod names a hostname and its subdomain is the service.
pub fn hostname_for(svc: &MiniService, p: &CachedPod) -> Option<String> {
    let spec = p.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    let same = spec.subdomain.as_deref() == Some(svc.name_any().as_str())
        && p.namespace() == svc.namespace();
    same.then(|| hostname.to_string())
}

fn protocol_str(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Sctp => "SCTP",
    }
}

/// Upstream `FindPort`: an integer targetPort as is; a named one is the first container port
/// with that name and protocol, in the containers and then in restartable (sidecar) init
/// containers. None when the pod has no such port.
pub fn find_port(p: &CachedPod, port: &ServicePort) -> Option<i32> {
    let name = match port.effective_target_port() {
        IntOrString::Int(number) => return Some(number),
        IntOrString::String(name) => name,
    };
    crate::controllers::pod::named_port(p, &name, protocol_str(port.protocol))
}

fn endpoint_port(port: &ServicePort, number: i32) -> EndpointPort {
    EndpointPort {
        name: port.name.clone(),
        port: number,
        protocol: Some(protocol_str(port.protocol).into()),
        app_protocol: port.app_protocol.clone(),
    }
}

/// What one sync computes for a service, before comparing it with what is stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    /// Repacked and sorted, not yet truncated.
    pub subsets: Vec<EndpointSubset>,
    pub ready: usize,
    pub not_ready: usize,
}

/// The subsets of `svc` over `pods` (the pods its selector matches): upstream's loop in
/// `syncService` and `RepackSubsets`.
pub fn desired_subsets<'a>(
    svc: &MiniService,
    pods: impl IntoIterator<Item = &'a CachedPod>,
) -> Desired {
    let tolerate_unready = svc.spec.publish_not_ready_addresses;
    let mut entries: Vec<Entry> = Vec::new();
    let (mut ready, mut not_ready) = (0, 0);
    for p in pods {
        if !should_pod_be_in_endpoints(p, tolerate_unready) {
            continue;
        }
        // Pods without an IP of the service's family are left out (dual-stack upgrades).
        let Some(mut address) = pod_address(svc, p) else {
            continue;
        };
        address.hostname = hostname_for(svc, p);
        let is_ready = tolerate_unready || pod::is_ready(p);
        if svc.spec.ports.is_empty() {
            // A headless service may have no ports; any other portless service lists nothing.
            if is_headless(svc) {
                entries.push(Entry {
                    address,
                    port: None,
                    ready: is_ready,
                });
                if is_ready { ready += 1 } else { not_ready += 1 }
            }
            continue;
        }
        for port in &svc.spec.ports {
            // A pod without the named port is left out of this port only.
            let Some(number) = find_port(p, port) else {
                continue;
            };
            entries.push(Entry {
                address: address.clone(),
                port: Some(endpoint_port(port, number)),
                ready: is_ready,
            });
            if is_ready { ready += 1 } else { not_ready += 1 }
        }
    }
    Desired {
        subsets: repack(entries),
        ready,
        not_ready,
    }
}

/// One address offering one port (or no port: headless without ports).
#[derive(Clone, Debug)]
pub struct Entry {
    pub address: EndpointAddress,
    pub port: Option<EndpointPort>,
    pub ready: bool,
}

/// Addresses are the same when IP and target UID are (upstream `addressKey`).
type AddressKey = (String, String);

fn address_key(address: &EndpointAddress) -> AddressKey {
    let uid = address
        .target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .unwrap_or_default();
    (address.ip.clone(), uid)
}

/// A port as a map key: name, number, protocol, appProtocol.
type PortKey = (Option<String>, i32, Option<String>, Option<String>);

fn port_key(port: &EndpointPort) -> PortKey {
    (
        port.name.clone(),
        port.port,
        port.protocol.clone(),
        port.app_protocol.clone(),
    )
}

/// A port (None: no port) and the addresses offering it, each ready or not.
type PortAddresses = (Option<EndpointPort>, BTreeMap<AddressKey, bool>);

/// Subsets written as Entries (each address with each of its ports), for repacking.
pub fn entries_of(subsets: &[EndpointSubset]) -> Vec<Entry> {
    let mut entries = Vec::new();
    for subset in subsets {
        let ports: Vec<Option<EndpointPort>> = match subset.ports.as_deref() {
            None | Some([]) => vec![None],
            Some(ports) => ports.iter().cloned().map(Some).collect(),
        };
        for port in &ports {
            for (addresses, ready) in [
                (&subset.addresses, true),
                (&subset.not_ready_addresses, false),
            ] {
                for address in addresses.iter().flatten() {
                    entries.push(Entry {
                        address: address.clone(),
                        port: port.clone(),
                        ready,
                    });
                }
            }
        }
    }
    entries
}

/// Upstream `RepackSubsets`: addresses that offer the same ports share a subset; an address
/// not ready on a port is not ready there even if another entry says ready; the result is
/// sorted so that the same endpoints always read the same.
pub fn repack(entries: Vec<Entry>) -> Vec<EndpointSubset> {
    // The first version seen of each address is kept (upstream `allAddrs`).
    let mut addresses: HashMap<AddressKey, EndpointAddress> = HashMap::new();
    // Port (None: no port) → address → ready.
    let mut by_port: BTreeMap<Option<PortKey>, PortAddresses> = BTreeMap::new();
    for entry in entries {
        let key = address_key(&entry.address);
        addresses.entry(key.clone()).or_insert(entry.address);
        let (_, set) = by_port
            .entry(entry.port.as_ref().map(port_key))
            .or_insert_with(|| (entry.port.clone(), BTreeMap::new()));
        // Not ready always trumps ready.
        let was = set.entry(key).or_insert(entry.ready);
        *was = *was && entry.ready;
    }
    // Address set (with readiness) → the ports offered by exactly that set.
    let mut by_set: BTreeMap<Vec<(AddressKey, bool)>, Vec<EndpointPort>> = BTreeMap::new();
    for (_, (port, set)) in by_port {
        let ports = by_set.entry(set.into_iter().collect()).or_default();
        ports.extend(port);
    }
    let mut subsets: Vec<EndpointSubset> = by_set
        .into_iter()
        .map(|(set, ports)| {
            let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
            for (key, is_ready) in set {
                let address = addresses[&key].clone();
                if is_ready {
                    ready.push(address);
                } else {
                    not_ready.push(address);
                }
            }
            EndpointSubset {
                addresses: non_empty(ready),
                not_ready_addresses: non_empty(not_ready),
                ports: non_empty(ports),
            }
        })
        .collect();
    sort_subsets(&mut subsets);
    subsets
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// Upstream `LessEndpointAddress`: IP string byte-wise, then target UID (no target first).
pub fn compare_addresses(a: &EndpointAddress, b: &EndpointAddress) -> std::cmp::Ordering {
    let uid = |x: &EndpointAddress| {
        x.target_ref
            .as_ref()
            .map(|r| r.uid.clone().unwrap_or_default())
    };
    a.ip.as_bytes()
        .cmp(b.ip.as_bytes())
        .then_with(|| uid(a).cmp(&uid(b)))
}

/// Upstream `SortSubsets`: addresses by [`compare_addresses`]; ports and subsets in a fixed
/// order. Upstream orders ports and subsets by a hash of their Go representation; minik8s
/// orders them by content (ports by name, number, protocol; subsets by their ports, then
/// first address), which is as stable but not the same order.
pub fn sort_subsets(subsets: &mut [EndpointSubset]) {
    for subset in subsets.iter_mut() {
        subset
            .addresses
            .iter_mut()
            .for_each(|a| a.sort_by(compare_addresses));
        subset
            .not_ready_addresses
            .iter_mut()
            .for_each(|a| a.sort_by(compare_addresses));
        subset
            .ports
            .iter_mut()
            .for_each(|p| p.sort_by_key(port_key));
    }
    subsets.sort_by_key(subset_key);
}

fn subset_key(subset: &EndpointSubset) -> (Vec<PortKey>, Option<AddressKey>, Option<AddressKey>) {
    let ports = subset.ports.iter().flatten().map(port_key).collect();
    let first =
        |a: &Option<Vec<EndpointAddress>>| a.as_ref().and_then(|a| a.first()).map(address_key);
    (
        ports,
        first(&subset.addresses),
        first(&subset.not_ready_addresses),
    )
}

fn count(subsets: &[EndpointSubset]) -> (usize, usize) {
    subsets.iter().fold((0, 0), |(r, n), s| {
        (
            r + s.addresses.as_ref().map_or(0, Vec::len),
            n + s.not_ready_addresses.as_ref().map_or(0, Vec::len),
        )
    })
}

/// Upstream `truncateEndpoints`: above [`MAX_CAPACITY`] addresses, keep ready ones first;
/// each subset keeps a share of the room proportional to its size, rounded up, the last ones
/// getting what is left. True when something was dropped.
pub fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let (total_ready, total_not_ready) = count(subsets);
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAX_CAPACITY;
    let (max, total) = if truncate_ready {
        (MAX_CAPACITY, total_ready)
    } else {
        (MAX_CAPACITY - total_ready, total_not_ready)
    };
    let mut room = max;
    for subset in subsets.iter_mut() {
        let in_subset = if truncate_ready {
            subset.addresses.as_ref().map_or(0, Vec::len)
        } else {
            subset.not_ready_addresses.as_ref().map_or(0, Vec::len)
        };
        let share = ((in_subset as f64 / total as f64) * max as f64).ceil() as usize;
        let keep = share.min(room);
        if truncate_ready {
            if let Some(addresses) = subset.addresses.as_mut() {
                addresses.truncate(keep);
            }
            subset.not_ready_addresses = None;
            room -= subset.addresses.as_ref().map_or(0, Vec::len);
        } else {
            if let Some(addresses) = subset.not_ready_addresses.as_mut() {
                addresses.truncate(keep);
            }
            room -= subset.not_ready_addresses.as_ref().map_or(0, Vec::len);
        }
        if subset.addresses.as_ref().is_some_and(Vec::is_empty) {
            subset.addresses = None;
        }
        if subset
            .not_ready_addresses
            .as_ref()
            .is_some_and(Vec::is_empty)
        {
            subset.not_ready_addresses = None;
        }
    }
    true
}

/// Upstream `capacityAnnotationSetCorrectly`: the stored subsets fit and are not marked.
fn capacity_annotation_set_correctly(
    annotations: &BTreeMap<String, String>,
    subsets: &[EndpointSubset],
) -> bool {
    let (ready, not_ready) = count(subsets);
    if ready + not_ready > MAX_CAPACITY {
        return false;
    }
    !annotations.contains_key(ANNOTATION_OVER_CAPACITY)
}

/// Upstream `labelsCorrectForEndpoints`: our managed-by label, and otherwise exactly the
/// service's labels (the headless label aside).
fn labels_correct(
    endpoints: &BTreeMap<String, String>,
    service: &BTreeMap<String, String>,
    managed_by: &str,
) -> bool {
    if endpoints.get(LABEL_MANAGED_BY).map(String::as_str) != Some(managed_by) {
        return false;
    }
    let mut skipped = 0;
    for (key, value) in endpoints {
        if key == LABEL_HEADLESS || key == LABEL_MANAGED_BY {
            skipped += 1;
        } else if service.get(key) != Some(value) {
            return false;
        }
    }
    service.len() == endpoints.len() - skipped
}

/// The owner reference of the MiniEndpoints to its MiniService.
pub fn owner_reference(svc: &MiniService) -> OwnerReference {
    OwnerReference {
        api_version: MiniService::api_version(&()).into_owned(),
        kind: MiniService::kind(&()).into_owned(),
        name: svc.name_any(),
        uid: svc.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn has_owner_reference(meta: &ObjectMeta, owner: &OwnerReference) -> bool {
    meta.owner_references.iter().flatten().any(|r| r == owner)
}

/// True when this controller wrote `endpoints` (the label it sets), so it may delete it.
pub fn is_managed(endpoints: &MiniEndpoints, managed_by: &str) -> bool {
    endpoints
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_MANAGED_BY))
        .is_some_and(|v| v == managed_by)
}

fn without_resource_versions(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let mut subsets = subsets.to_vec();
    for subset in &mut subsets {
        for addresses in [&mut subset.addresses, &mut subset.not_ready_addresses] {
            for address in addresses.iter_mut().flatten() {
                if let Some(target) = address.target_ref.as_mut() {
                    target.resource_version = None;
                }
            }
        }
    }
    subsets
}

/// The MiniEndpoints to write for `svc`, or None when `current` already says it all
/// (upstream: no write when subsets, labels and the capacity annotation are right).
/// `trigger_time` is what the trigger-time tracker computed for this sync.
pub fn plan(
    svc: &MiniService,
    desired: &Desired,
    current: Option<&MiniEndpoints>,
    trigger_time: Option<Timestamp>,
    managed_by: &str,
) -> Option<MiniEndpoints> {
    let service_labels = svc.metadata.labels.clone().unwrap_or_default();
    let owner = owner_reference(svc);
    if let Some(current) = current {
        let current_subsets = without_resource_versions(&current.subsets);
        let subsets_equal = current_subsets == desired.subsets
            || repack(entries_of(&current_subsets)) == desired.subsets;
        let labels = current.metadata.labels.clone().unwrap_or_default();
        let annotations = current.metadata.annotations.clone().unwrap_or_default();
        if subsets_equal
            && labels_correct(&labels, &service_labels, managed_by)
            && capacity_annotation_set_correctly(&annotations, &current.subsets)
            && has_owner_reference(&current.metadata, &owner)
        {
            return None;
        }
    }
    let mut next = current.cloned().unwrap_or_else(|| MiniEndpoints {
        metadata: ObjectMeta {
            name: Some(svc.name_any()),
            namespace: svc.namespace(),
            ..Default::default()
        },
        subsets: Vec::new(),
    });
    next.subsets = desired.subsets.clone();
    let mut annotations = next.metadata.annotations.take().unwrap_or_default();
    match trigger_time {
        Some(time) => {
            annotations.insert(ANNOTATION_TRIGGER_TIME.into(), format_time(time));
        }
        // No new trigger time: the annotation goes.
        None => {
            annotations.remove(ANNOTATION_TRIGGER_TIME);
        }
    }
    if truncate(&mut next.subsets) {
        annotations.insert(ANNOTATION_OVER_CAPACITY.into(), TRUNCATED.into());
    } else {
        annotations.remove(ANNOTATION_OVER_CAPACITY);
    }
    next.metadata.annotations = Some(annotations);
    let mut labels = service_labels;
    if is_headless(svc) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    } else {
        labels.remove(LABEL_HEADLESS);
    }
    labels.insert(LABEL_MANAGED_BY.into(), managed_by.into());
    next.metadata.labels = Some(labels);
    // The MiniEndpoints belongs to its MiniService: one controller reference, to this service.
    let mut owners: Vec<OwnerReference> = next
        .metadata
        .owner_references
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.controller != Some(true) && !(r.kind == owner.kind && r.name == owner.name))
        .collect();
    owners.push(owner);
    next.metadata.owner_references = Some(owners);
    Some(next)
}

/// Go's `time.RFC3339Nano` in UTC: fractional seconds only when there are some, without
/// trailing zeros.
pub fn format_time(time: Timestamp) -> String {
    let seconds = time.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = time.subsec_nanosecond();
    if nanos == 0 {
        return format!("{seconds}Z");
    }
    let fraction = format!("{nanos:09}");
    format!("{seconds}.{}Z", fraction.trim_end_matches('0'))
}
