//! Pure EndpointSlice reconciler: given the Service, the selected pods, the nodes and the
//! existing slices, the smallest set of slices to create, update and delete — upstream
//! `k8s.io/endpointslice` `reconciler.go` and `utils.go`, without the topology hints and
//! traffic distribution parts (minik8s sets no hints, as the built-in controller does for a
//! Service without them).
//!
//! Deliberate differences, none visible in the endpoints a slice carries:
//! - Upstream's endpoint set is a hash map and `PopAny` takes an arbitrary endpoint; here the
//!   set is ordered (by address, hostname, pod), so the same input always gives the same
//!   slices.
//! - Upstream orders a slice's ports by a hash of each port; here they keep the Service's
//!   port order. Consumers treat ports as a set.

use std::collections::{BTreeMap, BTreeSet};

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::api::core::v1::{ObjectReference, Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::controllers::pod;

/// `discovery.LabelServiceName`
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// `discovery.LabelManagedBy`
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// `v1.IsHeadlessService`
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
/// `v1.LabelTopologyZone`
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

pub const IPV4: &str = "IPv4";
pub const IPV6: &str = "IPv6";

/// What the reconciler knows about the node a pod runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeInfo {
    /// The node is not (or not yet) in the cache.
    NotFound,
    /// The node exists; its zone label, if set.
    Found { zone: Option<String> },
}

/// The writes one sync makes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// New slices, without names (`generateName` is set).
    pub create: Vec<EndpointSlice>,
    /// Existing slices with new content, carrying their names and resource versions.
    pub update: Vec<EndpointSlice>,
    /// Names of slices to delete.
    pub delete: Vec<String>,
    /// Pods left out because their node is unknown (upstream returns an error for them after
    /// writing the rest, so the sync is retried).
    pub skipped: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// Identity of an endpoint (upstream `hashEndpoint`): its addresses, hostname and pod. Other
/// attributes (conditions, node, zone) can change in place.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct EndpointKey {
    addresses: Vec<String>,
    hostname: String,
    namespace: String,
    name: String,
}

fn endpoint_key(endpoint: &Endpoint) -> EndpointKey {
    let mut addresses = endpoint.addresses.clone();
    addresses.sort();
    let target = endpoint.target_ref.as_ref();
    EndpointKey {
        addresses,
        hostname: endpoint.hostname.clone().unwrap_or_default(),
        namespace: target.and_then(|t| t.namespace.clone()).unwrap_or_default(),
        name: target.and_then(|t| t.name.clone()).unwrap_or_default(),
    }
}

type EndpointSet = BTreeMap<EndpointKey, Endpoint>;

/// Identity of a port set (upstream `PortMapKey`): the ports, order ignored.
type PortMapKey = BTreeSet<(String, i32, String, String)>;

fn port_map_key(ports: &[EndpointPort]) -> PortMapKey {
    ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or_default(),
                p.protocol.clone().unwrap_or_default(),
                p.app_protocol.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Upstream `EndpointsEqualBeyondHash`: the attributes the identity does not cover.
pub fn endpoints_equal_beyond_hash(a: &Endpoint, b: &Endpoint) -> bool {
    let target = |e: &Endpoint| {
        e.target_ref.clone().map(|mut t| {
            t.resource_version = None;
            t
        })
    };
    a.node_name == b.node_name
        && a.zone == b.zone
        && a.conditions.as_ref().and_then(|c| c.ready)
            == b.conditions.as_ref().and_then(|c| c.ready)
        && a.conditions.as_ref().and_then(|c| c.serving)
            == b.conditions.as_ref().and_then(|c| c.serving)
        && a.conditions.as_ref().and_then(|c| c.terminating)
            == b.conditions.as_ref().and_then(|c| c.terminating)
        && target(a) == target(b)
}

/// Upstream `ShouldPodBeInEndpoints(pod, includeTerminating=true)`: not Succeeded or Failed,
/// and with an IP.
pub fn should_pod_be_in_endpoints(pod: &CachedPod) -> bool {
    let phase = pod::phase(pod);
    if phase == "Succeeded" || phase == "Failed" {
        return false;
    }
    let status = pod.status.as_ref();
    status
        .and_then(|s| s.pod_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty())
        || status
            .and_then(|s| s.pod_ips.as_ref())
            .is_some_and(|ips| !ips.is_empty())
}

/// Upstream `ShouldSetHostname`.
pub fn should_set_hostname(pod: &CachedPod, service: &Service) -> bool {
    let spec = pod.spec.as_ref();
    let hostname = spec.and_then(|s| s.hostname.as_deref()).unwrap_or_default();
    let subdomain = spec
        .and_then(|s| s.subdomain.as_deref())
        .unwrap_or_default();
    !hostname.is_empty()
        && subdomain == service.metadata.name.as_deref().unwrap_or_default()
        && pod.metadata.namespace == service.metadata.namespace
}

/// Upstream `FindPort`: an integer target port as is; a named one is the first container port
/// with that name and protocol, in the containers and then in restartable (sidecar) init
/// containers.
pub fn find_port(pod: &CachedPod, port: &ServicePort) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match port.target_port.as_ref() {
        Some(IntOrString::String(name)) => crate::controllers::pod::named_port(pod, name, protocol),
        Some(IntOrString::Int(number)) => Some(*number),
        // The API server defaults an unset targetPort to the port.
        None => Some(port.port),
    }
}

fn is_headless(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// Upstream `isServiceIPSet`.
fn is_service_ip_set(service: &Service) -> bool {
    let ip = service
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .unwrap_or_default();
    ip != "None" && !ip.is_empty()
}

/// Upstream `getEndpointPorts`: the ports this pod serves, per service port; a port the pod
/// does not have is left out.
pub fn endpoint_ports(service: &Service, pod: &CachedPod) -> Vec<EndpointPort> {
    let ports: &[ServicePort] = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    if ports.is_empty() && is_headless(service) {
        return Vec::new();
    }
    ports
        .iter()
        .filter_map(|port| {
            let number = find_port(pod, port)?;
            Some(EndpointPort {
                name: Some(port.name.clone().unwrap_or_default()),
                port: Some(number),
                protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: port.app_protocol.clone(),
            })
        })
        .collect()
}

fn is_ipv6(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_ipv6())
}

/// Upstream `getEndpointAddresses`: the pod IPs of the slice's address type.
pub fn endpoint_addresses(pod: &CachedPod, address_type: &str) -> Vec<String> {
    let status = pod.status.as_ref();
    status
        .and_then(|s| s.pod_ips.as_ref())
        .into_iter()
        .flatten()
        .map(|ip| ip.ip.clone())
        .filter(|ip| is_ipv6(ip) == (address_type == IPV6))
        // Upstream normalises through ParseIPSloppy; kept as written when it does not parse.
        .map(|ip| ip.parse::<std::net::IpAddr>().map_or(ip, |a| a.to_string()))
        .collect()
}

/// Upstream `podToEndpoint`.
pub fn pod_to_endpoint(
    pod: &CachedPod,
    node: &NodeInfo,
    service: &Service,
    address_type: &str,
) -> Endpoint {
    let serving = pod::is_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let publish_not_ready = service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let ready = publish_not_ready || (serving && !terminating);
    let node_name = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty());
    let zone = match node {
        NodeInfo::Found { zone } => zone.clone().filter(|z| !z.is_empty()),
        NodeInfo::NotFound => None,
    };
    let hostname = should_set_hostname(pod, service)
        .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
        .flatten();
    Endpoint {
        addresses: endpoint_addresses(pod, address_type),
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..ObjectReference::default()
        }),
        node_name,
        zone,
        hostname,
        ..Endpoint::default()
    }
}

/// Upstream `getAddressTypesForService`: from `ipFamilies`; else from the family of the
/// cluster IP; else both.
pub fn address_types(service: &Service) -> BTreeSet<&'static str> {
    let spec = service.spec.as_ref();
    let mut types: BTreeSet<&'static str> = spec
        .and_then(|s| s.ip_families.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|family| match family.as_str() {
            "IPv4" => Some(IPV4),
            "IPv6" => Some(IPV6),
            _ => None,
        })
        .collect();
    if !types.is_empty() {
        return types;
    }
    if is_service_ip_set(service) {
        let ip = spec
            .and_then(|s| s.cluster_ip.as_deref())
            .unwrap_or_default();
        types.insert(if is_ipv6(ip) { IPV6 } else { IPV4 });
        return types;
    }
    BTreeSet::from([IPV4, IPV6])
}

fn is_reserved_label(key: &str) -> bool {
    key == LABEL_SERVICE_NAME || key == LABEL_MANAGED_BY || key == LABEL_HEADLESS
}

/// Upstream `setEndpointSliceLabels`: the Service's labels (reserved keys skipped), the
/// headless label, the service name and the manager; and whether the copied Service labels
/// differ from the slice's.
pub fn slice_labels(
    slice_labels: Option<&BTreeMap<String, String>>,
    service: &Service,
    controller: &str,
) -> (BTreeMap<String, String>, bool) {
    let own = |labels: Option<&BTreeMap<String, String>>| -> BTreeMap<String, String> {
        labels
            .into_iter()
            .flatten()
            .filter(|(k, _)| !is_reserved_label(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let existing = own(slice_labels);
    let mut labels = own(service.metadata.labels.as_ref());
    let updated = existing != labels;
    if !is_service_ip_set(service) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels.insert(
        LABEL_SERVICE_NAME.into(),
        service.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(LABEL_MANAGED_BY.into(), controller.into());
    (labels, updated)
}

/// Upstream `ownedBy`.
pub fn owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    slice.metadata.owner_references.iter().flatten().any(|o| {
        Some(&o.uid) == service.metadata.uid.as_ref()
            && o.kind == "Service"
            && o.api_version == "v1"
    })
}

/// Upstream `getEndpointSlicePrefix`: `<service>-`, or the bare name when that is too long
/// to be a valid name prefix.
pub fn slice_prefix(service_name: &str) -> String {
    let prefix = format!("{service_name}-");
    // NameIsDNSSubdomain with prefix=true: the prefix must leave room for the generated
    // suffix (5 characters) within 253.
    if prefix.len() > 253 - 5 {
        service_name.into()
    } else {
        prefix
    }
}

/// Upstream `newEndpointSlice`.
pub fn new_slice(
    service: &Service,
    ports: Vec<EndpointPort>,
    address_type: &str,
    controller: &str,
) -> EndpointSlice {
    let (labels, _) = slice_labels(None, service, controller);
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(slice_prefix(
                service.metadata.name.as_deref().unwrap_or_default(),
            )),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name: service.metadata.name.clone().unwrap_or_default(),
                uid: service.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        address_type: address_type.into(),
        endpoints: Some(Vec::new()),
        ports: Some(ports),
    }
}

/// Upstream `getSliceToFill`: the unchanged slice the endpoints fit into most closely.
fn slice_to_fill<'a>(
    slices: impl Iterator<Item = &'a EndpointSlice>,
    num_endpoints: usize,
    max: usize,
) -> Option<&'a EndpointSlice> {
    let mut closest_diff = max;
    let mut closest = None;
    for slice in slices {
        let total = num_endpoints + endpoints_of(slice).len();
        if total <= max {
            let diff = max - total;
            if diff < closest_diff {
                closest_diff = diff;
                closest = Some(slice);
                if diff == 0 {
                    return closest;
                }
            }
        }
    }
    closest
}

fn pop_first(set: &mut EndpointSet) -> Option<Endpoint> {
    set.pop_first().map(|(_, e)| e)
}

/// Upstream `Reconcile`: the plan for `service` given the pods its selector matches (terminating
/// ones included), the nodes, and the existing slices managed by this controller for it.
pub fn reconcile(
    service: &Service,
    pods: &[&CachedPod],
    node: &dyn Fn(&str) -> NodeInfo,
    existing: &[EndpointSlice],
    max_per_slice: usize,
    controller: &str,
) -> Plan {
    let supported = address_types(service);
    let mut plan = Plan::default();
    let mut by_type: BTreeMap<&str, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        if supported.contains(slice.address_type.as_str()) {
            by_type
                .entry(slice.address_type.as_str())
                .or_default()
                .push(slice);
        } else {
            plan.delete.push(name_of(slice));
        }
    }
    for address_type in supported {
        let slices = by_type.remove(address_type).unwrap_or_default();
        reconcile_by_address_type(
            service,
            pods,
            node,
            &slices,
            address_type,
            max_per_slice,
            controller,
            &mut plan,
        );
    }
    plan
}

/// Whether the plan's only change is to drop endpoints that its slices list as terminating
/// already: pods that ended, or stopped matching, after they were written as terminating.
/// Such a write changes no ready or serving-only endpoint (see `hold.rs`).
pub fn only_drops_terminating(plan: &Plan, existing: &[EndpointSlice]) -> bool {
    if plan.update.is_empty() || !plan.create.is_empty() || !plan.delete.is_empty() {
        return false;
    }
    plan.update.iter().all(|new| {
        let Some(old) = existing
            .iter()
            .find(|s| s.metadata.name == new.metadata.name)
        else {
            return false;
        };
        let same_frame = old.address_type == new.address_type
            && old.ports == new.ports
            && old.metadata.labels == new.metadata.labels
            && old.metadata.annotations == new.metadata.annotations
            && old.metadata.owner_references == new.metadata.owner_references;
        let old_by_key: BTreeMap<EndpointKey, &Endpoint> = endpoints_of(old)
            .iter()
            .map(|e| (endpoint_key(e), e))
            .collect();
        let new_keys: BTreeSet<EndpointKey> = endpoints_of(new).iter().map(endpoint_key).collect();
        let kept_as_they_were = endpoints_of(new).iter().all(|e| {
            old_by_key
                .get(&endpoint_key(e))
                .is_some_and(|o| endpoints_equal_beyond_hash(o, e))
        });
        let dropped_were_terminating = old_by_key
            .iter()
            .filter(|(key, _)| !new_keys.contains(*key))
            .all(|(_, e)| e.conditions.as_ref().and_then(|c| c.terminating) == Some(true));
        same_frame && kept_as_they_were && dropped_were_terminating
    })
}

/// A slice's endpoints; absent and empty are the same.
pub fn endpoints_of(slice: &EndpointSlice) -> &[Endpoint] {
    slice.endpoints.as_deref().unwrap_or_default()
}

fn endpoints_mut(slice: &mut EndpointSlice) -> &mut Vec<Endpoint> {
    slice.endpoints.get_or_insert_with(Vec::new)
}

fn name_of(slice: &EndpointSlice) -> String {
    slice.metadata.name.clone().unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn reconcile_by_address_type(
    service: &Service,
    pods: &[&CachedPod],
    node: &dyn Fn(&str) -> NodeInfo,
    existing: &[&EndpointSlice],
    address_type: &str,
    max: usize,
    controller: &str,
    plan: &mut Plan,
) {
    let publish_not_ready = service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut to_create: Vec<EndpointSlice> = Vec::new();
    let mut to_update: Vec<EndpointSlice> = Vec::new();
    let mut to_delete: Vec<&EndpointSlice> = Vec::new();

    // Slices by port set; slices of another owner go.
    let mut existing_by_ports: BTreeMap<PortMapKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        if owned_by(slice, service) {
            let key = port_map_key(slice.ports.as_deref().unwrap_or_default());
            existing_by_ports.entry(key).or_default().push(slice);
        } else {
            to_delete.push(slice);
        }
    }

    // Desired endpoints by port set.
    let mut desired: BTreeMap<PortMapKey, (Vec<EndpointPort>, EndpointSet)> = BTreeMap::new();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod) {
            continue;
        }
        let ports = endpoint_ports(service, pod);
        let key = port_map_key(&ports);
        let entry = desired
            .entry(key)
            .or_insert_with(|| (ports, EndpointSet::new()));
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default();
        let info = node(node_name);
        if info == NodeInfo::NotFound && !publish_not_ready {
            plan.skipped
                .push(pod.metadata.name.clone().unwrap_or_default());
            continue;
        }
        let endpoint = pod_to_endpoint(pod, &info, service, address_type);
        if !endpoint.addresses.is_empty() {
            entry.1.insert(endpoint_key(&endpoint), endpoint);
        }
    }

    for (key, (ports, endpoints)) in &mut desired {
        let slices = existing_by_ports.get(key).cloned().unwrap_or_default();
        let (create, update, delete) = reconcile_by_port_mapping(
            service,
            &slices,
            std::mem::take(endpoints),
            ports,
            address_type,
            max,
            controller,
        );
        to_create.extend(create);
        to_update.extend(update);
        to_delete.extend(delete);
    }
    // Port sets no pod has any more.
    for (key, slices) in &existing_by_ports {
        if !desired.contains_key(key) {
            to_delete.extend(slices.iter().copied());
        }
    }

    // A service with no endpoints keeps one empty placeholder slice.
    if existing.len() == to_delete.len() && to_create.is_empty() {
        let placeholder = new_slice(service, Vec::new(), address_type, controller);
        if to_delete.len() == 1 && is_placeholder_like(to_delete[0], &placeholder) {
            to_delete.clear();
        } else {
            to_create.push(placeholder);
        }
    }

    // Upstream `finalize`: rather than delete one slice and create another, reuse the name.
    let mut i = 0;
    while i < to_delete.len() && !to_create.is_empty() {
        if to_delete[i].address_type == address_type && owned_by(to_delete[i], service) {
            let mut slice = to_create.pop().expect("not empty");
            slice.metadata.name = to_delete[i].metadata.name.clone();
            slice.metadata.resource_version = to_delete[i].metadata.resource_version.clone();
            slice.metadata.generate_name = to_delete[i].metadata.generate_name.clone();
            to_update.push(slice);
            to_delete.remove(i);
        } else {
            i += 1;
        }
    }

    plan.create.extend(to_create);
    plan.update.extend(to_update);
    plan.delete.extend(to_delete.iter().map(|s| name_of(s)));
}

/// Upstream `placeholderSliceCompare`: same namespace, labels, owners, ports, address type
/// and endpoints (names, annotations and the like aside).
fn is_placeholder_like(slice: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    let labels = |s: &EndpointSlice| s.metadata.labels.clone().unwrap_or_default();
    slice.metadata.namespace == placeholder.metadata.namespace
        && labels(slice) == labels(placeholder)
        && slice.metadata.owner_references.clone().unwrap_or_default()
            == placeholder
                .metadata
                .owner_references
                .clone()
                .unwrap_or_default()
        && slice.address_type == placeholder.address_type
        && slice.ports.clone().unwrap_or_default() == placeholder.ports.clone().unwrap_or_default()
        && endpoints_of(slice) == endpoints_of(placeholder)
}

/// Upstream `reconcileByPortMapping`: keep what can stay, fill slices being updated anyway,
/// then the closest unchanged slice, then new slices.
fn reconcile_by_port_mapping<'a>(
    service: &Service,
    existing: &[&'a EndpointSlice],
    mut desired: EndpointSet,
    ports: &[EndpointPort],
    address_type: &str,
    max: usize,
    controller: &str,
) -> (
    Vec<EndpointSlice>,
    Vec<EndpointSlice>,
    Vec<&'a EndpointSlice>,
) {
    let mut by_name: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut unchanged: BTreeSet<String> = BTreeSet::new();
    let mut to_update: BTreeSet<String> = BTreeSet::new();
    let mut to_delete: Vec<&'a EndpointSlice> = Vec::new();

    // 1. Compare each existing slice's endpoints with the desired ones.
    for slice in existing {
        let name = name_of(slice);
        let mut kept = Vec::new();
        let mut endpoint_updated = false;
        for endpoint in endpoints_of(slice) {
            if let Some(want) = desired.remove(&endpoint_key(endpoint)) {
                if !endpoints_equal_beyond_hash(&want, endpoint) {
                    endpoint_updated = true;
                }
                kept.push(want);
            }
        }
        let (labels, labels_changed) =
            slice_labels(slice.metadata.labels.as_ref(), service, controller);
        if endpoint_updated || endpoints_of(slice).len() != kept.len() {
            if kept.is_empty() {
                to_delete.push(slice);
            } else {
                let mut updated = (*slice).clone();
                updated.endpoints = Some(kept);
                updated.metadata.labels = Some(labels);
                by_name.insert(name.clone(), updated);
                to_update.insert(name);
            }
        } else if labels_changed {
            let mut updated = (*slice).clone();
            updated.metadata.labels = Some(labels);
            by_name.insert(name.clone(), updated);
            to_update.insert(name);
        } else {
            by_name.insert(name.clone(), (*slice).clone());
            unchanged.insert(name);
        }
    }

    // 2. Fill the slices being updated anyway, fullest first.
    if !desired.is_empty() && !to_update.is_empty() {
        let mut names: Vec<&String> = to_update.iter().collect();
        names.sort_by_key(|n| std::cmp::Reverse(endpoints_of(&by_name[*n]).len()));
        let names: Vec<String> = names.into_iter().cloned().collect();
        for name in names {
            let slice = by_name.get_mut(&name).expect("slice to update");
            while !desired.is_empty() && endpoints_of(slice).len() < max {
                endpoints_mut(slice).extend(pop_first(&mut desired));
            }
        }
    }

    // 3. Then the unchanged slice they fit into most closely, else new slices.
    let mut to_create = Vec::new();
    while !desired.is_empty() {
        let mut fill_name = None;
        if desired.len() < max && !unchanged.is_empty() {
            fill_name = slice_to_fill(unchanged.iter().map(|n| &by_name[n]), desired.len(), max)
                .map(name_of);
        }
        match fill_name {
            Some(name) => {
                let slice = by_name.get_mut(&name).expect("unchanged slice");
                while !desired.is_empty() && endpoints_of(slice).len() < max {
                    endpoints_mut(slice).extend(pop_first(&mut desired));
                }
                unchanged.remove(&name);
                to_update.insert(name);
            }
            None => {
                let mut slice = new_slice(service, ports.to_vec(), address_type, controller);
                while !desired.is_empty() && endpoints_of(&slice).len() < max {
                    endpoints_mut(&mut slice).extend(pop_first(&mut desired));
                }
                to_create.push(slice);
            }
        }
    }

    let updates = to_update
        .iter()
        .map(|n| by_name.remove(n).expect("slice to update"))
        .collect();
    (to_create, updates, to_delete)
}
