//! NodeUnschedulable: no pod goes to a cordoned node (`spec.unschedulable`) unless it
//! tolerates the `node.kubernetes.io/unschedulable:NoSchedule` taint (upstream
//! `pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go`).

use k8s_openapi::api::core::v1::{Node, Taint};

use super::taint_toleration::{EFFECT_NO_SCHEDULE, pod_tolerations, tolerations_tolerate_taint};
use crate::scheduler::framework::{FilterPlugin, NodeInfo, State, Status};
use crate::scheduler::pod::Pod;

pub const NAME: &str = "NodeUnschedulable";

/// Upstream `ErrReasonUnschedulable`.
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";

/// Upstream `v1.TaintNodeUnschedulable`: the taint the node lifecycle controller puts on a
/// cordoned node; tolerating it means tolerating the cordon.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

fn is_cordoned(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

fn tolerates_cordon(pod: &Pod) -> bool {
    let taint = Taint {
        key: TAINT_NODE_UNSCHEDULABLE.into(),
        effect: EFFECT_NO_SCHEDULE.into(),
        ..Taint::default()
    };
    tolerations_tolerate_taint(pod_tolerations(pod), &taint)
}

pub struct NodeUnschedulable;

impl FilterPlugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _state: &State, pod: &Pod, node: &NodeInfo) -> Status {
        if is_cordoned(&node.node) && !tolerates_cordon(pod) {
            return Status::unresolvable(ERR_REASON_UNSCHEDULABLE);
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::scheduler::framework::no_state;

    /// Upstream `TestNodeUnschedulable`.
    #[test]
    fn filter() {
        let cases = [
            (
                "does not schedule pod to unschedulable node",
                json!([]),
                true,
                Some(ERR_REASON_UNSCHEDULABLE),
            ),
            ("schedules pod to normal node", json!([]), false, None),
            (
                "schedules pod with toleration to unschedulable node",
                json!([{"key": TAINT_NODE_UNSCHEDULABLE, "effect": "NoSchedule"}]),
                true,
                None,
            ),
        ];
        for (name, tolerations, unschedulable, want) in cases {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": "p"},
                "spec": {"containers": [], "tolerations": tolerations}
            }))
            .unwrap();
            let node: Node = serde_json::from_value(json!({
                "metadata": {"name": "n"},
                "spec": {"unschedulable": unschedulable}
            }))
            .unwrap();
            let status =
                NodeUnschedulable.filter(&no_state(), &pod, &NodeInfo::new(Arc::new(node)));
            let want = want.map_or_else(Status::success, Status::unresolvable);
            assert_eq!(status, want, "{name}");
        }
    }
}
