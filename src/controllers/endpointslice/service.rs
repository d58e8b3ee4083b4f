//! Pure: the core/v1 Service a MiniService stands for, whether an existing Service is ours
//! and still matches, and the MiniService status that reports it.
//!
//! The Service is named `mini-<name>`, not `<name>`: the point of minik8s is to run beside
//! the built-ins, and the built-in twin of a MiniService is usually a Service of the same
//! name. The prefix keeps the two apart, and DNS tells them apart as well
//! (`mini-<name>.<namespace>`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};

use crate::api::service::{Protocol, ServiceType};
use crate::api::{MiniService, MiniServiceStatus};

/// Prefix of the Service each MiniService gets.
pub const SERVICE_PREFIX: &str = "mini-";
/// Longest Service name (a DNS-1035 label).
pub const MAX_SERVICE_NAME: usize = 63;

/// Condition this controller sets on the MiniService.
pub const CONDITION_SERVICE: &str = "ServiceSynced";
/// Reason when a Service of that name exists and belongs to something else.
pub const REASON_NAME_TAKEN: &str = "ServiceNameTaken";
pub const REASON_SYNCED: &str = "Synced";

/// `mini-<name>`, cut to 63 characters (without a trailing `-`).
pub fn service_name(mini: &str) -> String {
    let mut name: String = format!("{SERVICE_PREFIX}{mini}")
        .chars()
        .take(MAX_SERVICE_NAME)
        .collect();
    while name.ends_with('-') || name.ends_with('.') {
        name.pop();
    }
    name
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Sctp => "SCTP",
    }
}

fn type_name(t: ServiceType) -> &'static str {
    match t {
        ServiceType::ClusterIP => "ClusterIP",
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
        ServiceType::ExternalName => "ExternalName",
    }
}

pub fn is_headless(mini: &MiniService) -> bool {
    mini.spec.cluster_ip.as_deref() == Some("None")
}

fn session_affinity(mini: &MiniService) -> String {
    mini.spec
        .other
        .get("sessionAffinity")
        .and_then(|v| v.as_str())
        .unwrap_or("None")
        .to_string()
}

/// The controller owner reference to the MiniService.
pub fn owner_reference(mini: &MiniService) -> OwnerReference {
    OwnerReference {
        api_version: MiniService::api_version(&()).into(),
        kind: MiniService::kind(&()).into(),
        name: mini.name_any(),
        uid: mini.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The selector-less Service: type, ports (targetPort as given, defaulted to the port as the
/// API server would), publishNotReadyAddresses, sessionAffinity, clusterIP None when
/// headless. The API server allocates the cluster IP and node ports.
pub fn desired(mini: &MiniService) -> Service {
    let ports = mini
        .spec
        .ports
        .iter()
        .map(|p| ServicePort {
            name: p.name.clone(),
            protocol: Some(protocol(p.protocol).into()),
            app_protocol: p.app_protocol.clone(),
            port: p.port,
            target_port: Some(p.effective_target_port()),
            node_port: p.node_port.filter(|n| *n != 0),
        })
        .collect::<Vec<_>>();
    Service {
        metadata: ObjectMeta {
            name: Some(service_name(&mini.name_any())),
            namespace: mini.namespace(),
            labels: Some(mini.labels().clone()),
            owner_references: Some(vec![owner_reference(mini)]),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some(type_name(mini.spec.type_).into()),
            ports: (!ports.is_empty()).then_some(ports),
            publish_not_ready_addresses: Some(mini.spec.publish_not_ready_addresses),
            session_affinity: Some(session_affinity(mini)),
            cluster_ip: is_headless(mini).then(|| "None".into()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// Whether `service` is controlled by this MiniService.
pub fn owned_by(service: &Service, mini: &MiniService) -> bool {
    let uid = mini.uid().unwrap_or_default();
    service
        .owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// The fields this controller manages, as the API server returns them; comparing these
/// avoids a write when nothing changed.
fn managed_view(service: &Service) -> serde_json::Value {
    let spec = service.spec.clone().unwrap_or_default();
    let ports: Vec<_> = spec
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            (
                p.name.unwrap_or_default(),
                p.protocol.unwrap_or_else(|| "TCP".into()),
                p.app_protocol,
                p.port,
                p.target_port.unwrap_or(IntOrString::Int(p.port)),
            )
        })
        .collect();
    serde_json::json!({
        "labels": service.metadata.labels.clone().unwrap_or_default(),
        "type": spec.type_.unwrap_or_else(|| "ClusterIP".into()),
        "ports": ports,
        "publishNotReadyAddresses": spec.publish_not_ready_addresses.unwrap_or(false),
        "sessionAffinity": spec.session_affinity.unwrap_or_else(|| "None".into()),
        "headless": spec.cluster_ip.as_deref() == Some("None"),
    })
}

/// Whether `existing` needs an update to match `desired`: node ports are compared only
/// where the MiniService asks for one, as the API server allocates the rest.
pub fn needs_update(existing: &Service, desired: &Service) -> bool {
    if managed_view(existing) != managed_view(desired) {
        return true;
    }
    let asked: BTreeMap<(i32, String), i32> = desired
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .filter_map(|p| Some(((p.port, p.protocol.clone()?), p.node_port?)))
        .collect();
    let has: BTreeMap<(i32, String), i32> = existing
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .filter_map(|p| Some(((p.port, p.protocol.clone()?), p.node_port?)))
        .collect();
    asked.iter().any(|(k, v)| has.get(k) != Some(v))
}

/// The new status: the Service's name and cluster IP (None while there is no Service of
/// ours), and this controller's condition, keeping its transition time when the status
/// does not change. Conditions of other controllers are kept.
// `..old` keeps status fields other controllers own, present or future.
#[allow(clippy::needless_update)]
pub fn status(
    mini: &MiniService,
    service: Option<&Service>,
    condition_status: bool,
    reason: &str,
    message: String,
    now: Time,
) -> MiniServiceStatus {
    let old = mini.status.clone().unwrap_or_default();
    let mut conditions = old.conditions.clone().unwrap_or_default();
    let status = if condition_status { "True" } else { "False" };
    let previous = conditions.iter().position(|c| c.type_ == CONDITION_SERVICE);
    let transition = previous
        .map(|i| &conditions[i])
        .filter(|c| c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(now);
    let condition = Condition {
        type_: CONDITION_SERVICE.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_transition_time: transition,
        observed_generation: mini.metadata.generation,
    };
    match previous {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
    MiniServiceStatus {
        conditions: Some(conditions),
        service_name: service.and_then(|s| s.metadata.name.clone()),
        cluster_ip: service
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.cluster_ip.clone()),
        ..old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mini(name: &str, spec: serde_json::Value) -> MiniService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
            "metadata": {"name": name, "namespace": "ns", "uid": "u1", "labels": {"team": "a"}},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn the_service_name_has_the_prefix_and_fits_a_dns_label() {
        assert_eq!(service_name("web"), "mini-web");
        let long = "a".repeat(70);
        assert_eq!(service_name(&long).len(), 63);
        // A cut that would end in '-' drops it.
        let cut = format!("{}-b", "a".repeat(57));
        assert_eq!(service_name(&cut), format!("mini-{}", "a".repeat(57)));
    }

    #[test]
    fn the_desired_service_carries_the_spec_and_the_controller_owner() {
        let m = mini(
            "web",
            serde_json::json!({
                "selector": {"app": "web"}, "type": "NodePort", "sessionAffinity": "ClientIP",
                "publishNotReadyAddresses": true,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                          {"name": "dns", "port": 53, "protocol": "UDP"}]
            }),
        );
        let svc = desired(&m);
        let spec = svc.spec.as_ref().unwrap();
        assert_eq!(svc.metadata.name.as_deref(), Some("mini-web"));
        assert_eq!(spec.selector, None, "the Service has no selector");
        assert_eq!(spec.type_.as_deref(), Some("NodePort"));
        assert_eq!(spec.session_affinity.as_deref(), Some("ClientIP"));
        assert_eq!(spec.publish_not_ready_addresses, Some(true));
        assert_eq!(spec.cluster_ip, None);
        let ports = spec.ports.as_ref().unwrap();
        assert_eq!(
            ports[0].target_port,
            Some(IntOrString::String("http".into()))
        );
        assert_eq!(ports[1].target_port, Some(IntOrString::Int(53)));
        assert_eq!(ports[1].protocol.as_deref(), Some("UDP"));
        let owner = &svc.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("MiniService", Some(true))
        );
        assert!(owned_by(&svc, &m));
        assert!(!needs_update(&svc, &desired(&m)));
    }

    #[test]
    fn headless_and_changes_are_seen() {
        let m = mini(
            "h",
            serde_json::json!({"clusterIP": "None", "selector": {"a": "b"}}),
        );
        let svc = desired(&m);
        assert_eq!(
            svc.spec.as_ref().unwrap().cluster_ip.as_deref(),
            Some("None")
        );
        assert_eq!(svc.spec.as_ref().unwrap().ports, None);
        let other = desired(&mini("h", serde_json::json!({"ports": [{"port": 80}]})));
        assert!(needs_update(&svc, &other));
    }

    #[test]
    fn status_keeps_the_transition_time_and_other_conditions() {
        let mut m = mini("web", serde_json::json!({"ports": [{"port": 80}]}));
        let t0 = Time(k8s_openapi::jiff::Timestamp::from_second(1000).unwrap());
        let t1 = Time(k8s_openapi::jiff::Timestamp::from_second(2000).unwrap());
        m.status = Some(MiniServiceStatus {
            conditions: Some(vec![Condition {
                type_: "Other".into(),
                status: "True".into(),
                reason: "X".into(),
                message: String::new(),
                last_transition_time: t0.clone(),
                observed_generation: None,
            }]),
            ..MiniServiceStatus::default()
        });
        let first = status(&m, None, true, REASON_SYNCED, String::new(), t0.clone());
        m.status = Some(first);
        let again = status(&m, None, true, REASON_SYNCED, String::new(), t1.clone());
        let conditions = again.conditions.unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[1].last_transition_time, t0);
    }
}
