//! MiniService: the selector half of `core/v1` Service. Its controller keeps a MiniEndpoints
//! of the same name listing the pods the selector matches.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

// `Rule`, `Reason` and `ListMerge` in the `x_kube` attributes come from the KubeSchema derive.

/// Desired state of a MiniService; fields and defaults as in `core/v1` ServiceSpec.
///
/// Service fields that only matter to kube-proxy or cloud load balancers (sessionAffinity,
/// externalTrafficPolicy, …) are accepted and kept as written, so a Service manifest is a
/// valid MiniService with only `apiVersion` and `kind` changed.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "minik8s.dev",
    version = "v1alpha1",
    kind = "MiniService",
    namespaced,
    shortname = "msvc",
    category = "minik8s",
    status = "MiniServiceStatus",
    derive = "PartialEq",
    doc = "MiniService selects pods; its controller lists them in a MiniEndpoints, like a Service.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    // kubectl get svc's columns. CLUSTER-IP is the allocated IP of the Service the
    // endpointslice controller keeps (a JSONPath column cannot fall back from spec to status);
    // PORT(S) lists the port numbers only: a JSONPath column cannot join `port/protocol`.
    printcolumn(name = "Cluster-IP", type_ = "string", json_path = ".status.clusterIP"),
    printcolumn(name = "Port(s)", type_ = "string", json_path = ".spec.ports[*].port"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Selector",
        type_ = "string",
        json_path = ".spec.selector",
        priority = 1
    )
)]
#[x_kube(validation = Rule::new(
        "self.type == 'ExternalName' || (has(self.clusterIP) && self.clusterIP == 'None') || \
         (has(self.ports) && size(self.ports) > 0)")
    .message("a service needs at least one port unless it is headless (clusterIP: None)")
    .field_path(".ports")
    .reason(Reason::FieldValueRequired))]
#[x_kube(validation = Rule::new(
        "!has(self.ports) || size(self.ports) <= 1 || self.ports.all(p, has(p.name) && p.name != '')")
    .message("every port needs a name when a service has more than one port")
    .field_path(".ports")
    .reason(Reason::FieldValueRequired))]
#[x_kube(validation = Rule::new(
        "!has(self.ports) || self.ports.all(p, !has(p.name) || self.ports.exists_one(q, has(q.name) && q.name == p.name))")
    .message("port names must be unique")
    .field_path(".ports")
    .reason(Reason::FieldValueInvalid))]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
#[serde(rename_all = "camelCase")]
pub struct MiniServiceSpec {
    /// Pods with these labels are this service's endpoints. Without a selector the
    /// MiniEndpoints is left to the user, as with a Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 100))]
    pub selector: Option<BTreeMap<String, String>>,

    /// Ports the service exposes. Unique by (port, protocol) and, when named, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["port".into(), "protocol".into()]))]
    pub ports: Vec<ServicePort>,

    /// ClusterIP (default), NodePort, LoadBalancer or ExternalName. ExternalName services have
    /// no endpoints.
    #[serde(rename = "type", default)]
    pub type_: ServiceType,

    /// "None" makes the service headless. Any other value is kept as written: the Service
    /// `mini-<name>` that the endpointslice controller keeps gets its cluster IP from the API
    /// server (reported in `status.clusterIP`).
    #[serde(rename = "clusterIP", default, skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<String>,

    /// List pods as ready addresses whether or not they are Ready.
    #[serde(default)]
    pub publish_not_ready_addresses: bool,

    /// Other Service fields, kept as written.
    #[serde(flatten)]
    #[schemars(skip)]
    pub other: BTreeMap<String, Value>,
}

/// One port of a MiniService.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Name of the port, a DNS label; required when there is more than one port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')")
        .message("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
                  and must start and end with an alphanumeric character"))]
    #[schemars(length(max = 63))]
    pub name: Option<String>,

    /// TCP (default), UDP or SCTP.
    #[serde(default)]
    pub protocol: Protocol,

    /// Application protocol of the port (e.g. `kubernetes.io/h2c`), kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,

    /// The port the service exposes.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,

    /// Port on the pods: a number, or the name of a container port. Unset or 0 means `port`,
    /// as in a Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("type(self) != int || (self >= 0 && self <= 65535)")
        .message("must be between 1 and 65535, inclusive"))]
    #[x_kube(validation = Rule::new("type(self) != string || self.matches('^[-a-z0-9]+$')")
        .message("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"))]
    #[x_kube(validation = Rule::new("type(self) != string || self.matches('[a-z]')")
        .message("must contain at least one letter (a-z)"))]
    #[x_kube(validation = Rule::new("type(self) != string || !self.contains('--')")
        .message("must not contain consecutive hyphens"))]
    #[x_kube(validation = Rule::new("type(self) != string || !(self.startsWith('-') || self.endsWith('-'))")
        .message("must not begin or end with a hyphen"))]
    #[schemars(extend("maxLength" = 15))]
    pub target_port: Option<IntOrString>,

    /// Node port, for NodePort and LoadBalancer services; kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 65535))]
    pub node_port: Option<i32>,
}

impl ServicePort {
    /// The port on the pods: `targetPort`, or `port` when it is unset or 0, as the Service API
    /// defaults it.
    pub fn effective_target_port(&self) -> IntOrString {
        match &self.target_port {
            None | Some(IntOrString::Int(0)) => IntOrString::Int(self.port),
            Some(target) => target.clone(),
        }
    }
}

/// Transport protocol of a port.
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord,
)]
pub enum Protocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
}

/// How the service is exposed.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
    ExternalName,
}

/// Observed state of a MiniService.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MiniServiceStatus {
    /// Conditions reported by the controllers (the endpoints controller, and the
    /// endpointslice controller's `ServiceSynced`). A map keyed by `type`, so that each
    /// controller applies its own conditions without removing the other's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,

    /// The core/v1 Service the endpointslice controller keeps for this MiniService
    /// (`mini-<name>`), once it exists and is owned by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,

    /// The cluster IP the API server allocated to that Service (`None` when headless).
    #[serde(rename = "clusterIP", default, skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(target: Option<IntOrString>) -> ServicePort {
        ServicePort {
            name: None,
            protocol: Protocol::Tcp,
            app_protocol: None,
            port: 80,
            target_port: target,
            node_port: None,
        }
    }

    #[test]
    fn target_port_defaults_to_port_when_unset_or_zero() {
        assert_eq!(port(None).effective_target_port(), IntOrString::Int(80));
        assert_eq!(
            port(Some(IntOrString::Int(0))).effective_target_port(),
            IntOrString::Int(80)
        );
        assert_eq!(
            port(Some(IntOrString::Int(8080))).effective_target_port(),
            IntOrString::Int(8080)
        );
        let named = IntOrString::String("http".into());
        assert_eq!(port(Some(named.clone())).effective_target_port(), named);
    }

    #[test]
    fn other_service_fields_are_kept_as_written() {
        let spec: MiniServiceSpec = serde_json::from_value(serde_json::json!({
            "selector": {"app": "web"},
            "ports": [{"port": 80}],
            "sessionAffinity": "ClientIP",
            "externalTrafficPolicy": "Local"
        }))
        .unwrap();
        assert_eq!(spec.other["sessionAffinity"], "ClientIP");
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(back["externalTrafficPolicy"], "Local");
        assert_eq!(back["ports"][0]["protocol"], "TCP");
    }
}
