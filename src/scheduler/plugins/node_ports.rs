//! NodePorts: a pod's host ports must be free on the node (upstream
//! `pkg/scheduler/framework/plugins/nodeports/node_ports.go`, with the conflict rule of
//! `HostPortInfo.CheckConflict` in `k8s.io/kube-scheduler/framework/types.go`).

use crate::scheduler::framework::{
    FilterPlugin, HostPort, NodeInfo, Snapshot, State, Status, host_ports,
};
use crate::scheduler::pod::Pod;

pub const NAME: &str = "NodePorts";

/// Upstream `ErrReason`.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// Upstream `DefaultBindAllHostIP`: a port bound on every address of the node.
const BIND_ALL_HOST_IP: &str = "0.0.0.0";

/// The pod's host ports, computed once in PreFilter (upstream `preFilterState`).
struct PreFilterState(Vec<HostPort>);

/// The protocol as upstream's `sanitize` reads it: none means TCP.
fn protocol(port: &HostPort) -> &str {
    if port.protocol.is_empty() {
        "TCP"
    } else {
        &port.protocol
    }
}

/// Upstream `CheckConflict`: the same protocol and port on the same address, where
/// `0.0.0.0` on either side is every address.
fn conflicts(wanted: &HostPort, used: &HostPort) -> bool {
    wanted.port == used.port
        && protocol(wanted) == protocol(used)
        && (wanted.ip == used.ip || wanted.ip == BIND_ALL_HOST_IP || used.ip == BIND_ALL_HOST_IP)
}

/// Upstream `fitsPorts`: none of the wanted ports conflicts with one in use.
fn fits_ports(wanted: &[HostPort], in_use: &[HostPort]) -> bool {
    !wanted
        .iter()
        .any(|w| w.port > 0 && in_use.iter().any(|u| conflicts(w, u)))
}

/// Upstream `Fits`: whether the pod's host ports are free on the node.
pub fn fits(pod: &Pod, node: &NodeInfo) -> bool {
    fits_ports(&host_ports(pod), &node.used_ports)
}

pub struct NodePorts;

impl FilterPlugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }

    /// A pod without host ports has nothing to check (upstream `Skip`).
    fn pre_filter(&self, pod: &Pod, _snapshot: &Snapshot) -> Result<Option<State>, Status> {
        let ports = host_ports(pod);
        if ports.is_empty() {
            return Ok(None);
        }
        Ok(Some(Box::new(PreFilterState(ports))))
    }

    fn filter(&self, state: &State, _pod: &Pod, node: &NodeInfo) -> Status {
        // Upstream fails the same way when PreFilter did not run.
        let Some(PreFilterState(wanted)) = state.downcast_ref::<PreFilterState>() else {
            return Status::error("reading \"PreFilterNodePorts\" from cycleState: not found");
        };
        if fits_ports(wanted, &node.used_ports) {
            Status::success()
        } else {
            Status::unschedulable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Node;
    use serde_json::{Value, json};

    use super::*;
    use crate::scheduler::framework::{Code, no_state};

    /// Container ports from upstream's "PROTOCOL/HOSTIP/PORT" notation.
    fn container_ports(ports: &[&str]) -> Value {
        ports
            .iter()
            .map(|p| {
                let [protocol, ip, port] = p.split('/').collect::<Vec<_>>()[..] else {
                    panic!("bad port {p}");
                };
                let port: i32 = port.parse().unwrap();
                json!({"containerPort": port, "hostPort": port, "hostIP": ip, "protocol": protocol})
            })
            .collect()
    }

    /// Upstream `newPod`.
    fn pod_with_ports(ports: &[&str]) -> Pod {
        pod_with_spec(json!({"containers": [{"name": "c", "ports": container_ports(ports)}]}))
    }

    fn pod_with_spec(spec: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "uid": "u"}, "spec": spec}))
            .unwrap()
    }

    /// A node running a pod that uses these host ports (upstream `newNodeInfo`).
    fn node_using(ports: &[&str]) -> NodeInfo {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": "m1"}})).unwrap();
        let mut info = NodeInfo::new(Arc::new(node));
        if !ports.is_empty() {
            info.add_pod(Arc::new(pod_with_ports(ports)));
        }
        info
    }

    /// An init container's host port; a sidecar (`restartPolicy: Always`) keeps it for the
    /// pod's whole life.
    fn pod_with_init_container_port(sidecar: bool) -> Pod {
        let mut init = json!({"name": "init", "ports": [
            {"containerPort": 8001, "hostPort": 8001, "protocol": "TCP"}]});
        if sidecar {
            init["restartPolicy"] = json!("Always");
        }
        pod_with_spec(json!({"containers": [], "initContainers": [init]}))
    }

    #[derive(Debug, PartialEq)]
    enum Want {
        Skip,
        Fits,
        Conflict,
    }

    fn check(name: &str, pod: &Pod, node: &NodeInfo, want: Want) {
        let state = NodePorts.pre_filter(pod, &Snapshot::default()).unwrap();
        let got = match state {
            None => Want::Skip,
            Some(state) => {
                let status = NodePorts.filter(&state, pod, node);
                match status.code {
                    Code::Success => Want::Fits,
                    Code::Unschedulable if status == Status::unschedulable(ERR_REASON) => {
                        Want::Conflict
                    }
                    _ => panic!("{name}: unexpected {status:?}"),
                }
            }
        };
        assert_eq!(got, want, "{name}");
    }

    /// Upstream `TestNodePorts`.
    #[test]
    fn pre_filter_and_filter() {
        use Want::*;
        let cases: [(&str, &[&str], &[&str], Want); 13] = [
            ("skip filter", &[], &[], Skip),
            (
                "other port",
                &["UDP/127.0.0.1/8080"],
                &["UDP/127.0.0.1/9090"],
                Fits,
            ),
            (
                "same udp port",
                &["UDP/127.0.0.1/8080"],
                &["UDP/127.0.0.1/8080"],
                Conflict,
            ),
            (
                "same tcp port",
                &["TCP/127.0.0.1/8080"],
                &["TCP/127.0.0.1/8080"],
                Conflict,
            ),
            (
                "different host ip",
                &["TCP/127.0.0.1/8080"],
                &["TCP/127.0.0.2/8080"],
                Fits,
            ),
            (
                "different protocol",
                &["UDP/127.0.0.1/8080"],
                &["TCP/127.0.0.1/8080"],
                Fits,
            ),
            (
                "second udp port conflict",
                &["UDP/127.0.0.1/8000", "UDP/127.0.0.1/8080"],
                &["UDP/127.0.0.1/8080"],
                Conflict,
            ),
            (
                "first tcp port conflict",
                &["TCP/127.0.0.1/8001", "UDP/127.0.0.1/8080"],
                &["TCP/127.0.0.1/8001", "UDP/127.0.0.1/8081"],
                Conflict,
            ),
            (
                "first tcp port conflict due to 0.0.0.0 hostIP",
                &["TCP/0.0.0.0/8001"],
                &["TCP/127.0.0.1/8001"],
                Conflict,
            ),
            (
                "TCP hostPort conflict due to 0.0.0.0 hostIP",
                &["TCP/10.0.10.10/8001", "TCP/0.0.0.0/8001"],
                &["TCP/127.0.0.1/8001"],
                Conflict,
            ),
            (
                "second tcp port conflict to 0.0.0.0 hostIP",
                &["TCP/127.0.0.1/8001"],
                &["TCP/0.0.0.0/8001"],
                Conflict,
            ),
            (
                "second different protocol",
                &["UDP/127.0.0.1/8001"],
                &["TCP/0.0.0.0/8001"],
                Fits,
            ),
            (
                "UDP hostPort conflict due to 0.0.0.0 hostIP",
                &["UDP/127.0.0.1/8001"],
                &["TCP/0.0.0.0/8001", "UDP/0.0.0.0/8001"],
                Conflict,
            ),
        ];
        for (name, wanted, in_use, want) in cases {
            check(name, &pod_with_ports(wanted), &node_using(in_use), want);
        }
        check(
            "TCP hostPort conflict from sidecar initContainer",
            &pod_with_init_container_port(true),
            &node_using(&["TCP/0.0.0.0/8001"]),
            Want::Conflict,
        );
    }

    /// Upstream `TestNodePorts`, "non-sidecar initContainer using hostPort": upstream's
    /// `GetHostPorts` ignores init containers that are not sidecars, `framework::host_ports`
    /// does not yet.
    #[test]
    fn non_sidecar_init_container_ports_are_ignored() {
        check(
            "non-sidecar initContainer using hostPort",
            &pod_with_init_container_port(false),
            &node_using(&["TCP/0.0.0.0/8001"]),
            Want::Skip,
        );
    }

    /// Upstream `TestPreFilterDisabled`.
    #[test]
    fn filter_without_pre_filter_is_an_error() {
        let status = NodePorts.filter(&no_state(), &pod_with_ports(&[]), &node_using(&[]));
        assert_eq!(status.code, Code::Error);
    }

    /// Upstream `TestFits`.
    #[test]
    fn fits_cases() {
        let cases: [(&str, &[&str], &[&str], bool); 5] = [
            (
                "non-conflicting ports",
                &["TCP/127.0.0.1/80"],
                &["TCP/127.0.0.1/9090"],
                true,
            ),
            (
                "multiple non-conflicting ports",
                &[
                    "TCP/127.0.0.1/80",
                    "TCP/127.0.1.1/80",
                    "TCP/127.0.1.1/90",
                    "TCP/127.0.1.1/100",
                ],
                &[
                    "TCP/127.0.0.1/9090",
                    "TCP/127.0.0.1/9191",
                    "TCP/127.0.1.1/8080",
                ],
                true,
            ),
            (
                "same ports on different protocols",
                &["TCP/127.0.0.1/80"],
                &["UDP/127.0.0.1/80"],
                true,
            ),
            (
                "conflicting ports",
                &["TCP/127.0.0.1/80"],
                &["TCP/127.0.0.1/80"],
                false,
            ),
            (
                "multiple ports, some conflicting",
                &[
                    "TCP/127.0.0.1/80",
                    "TCP/127.0.1.1/80",
                    "TCP/127.0.1.1/90",
                    "TCP/127.0.1.1/100",
                ],
                &[
                    "TCP/127.0.0.1/9090",
                    "TCP/127.0.1.1/90",
                    "TCP/127.0.1.1/8080",
                ],
                false,
            ),
        ];
        for (name, wanted, in_use, want) in cases {
            assert_eq!(
                fits(&pod_with_ports(wanted), &node_using(in_use)),
                want,
                "{name}"
            );
        }
    }
}
