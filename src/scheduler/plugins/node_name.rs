//! NodeName: a pod that names its node (`spec.nodeName`) fits that node only (upstream
//! `pkg/scheduler/framework/plugins/nodename/node_name.go`).

use crate::scheduler::framework::{FilterPlugin, NodeInfo, State, Status};
use crate::scheduler::pod::Pod;

pub const NAME: &str = "NodeName";

/// Upstream `ErrReason`.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// Upstream `Fits`: no node name asked for, or this node's.
pub fn fits(pod: &Pod, node: &NodeInfo) -> bool {
    let wanted = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default();
    wanted.is_empty() || wanted == node.name()
}

pub struct NodeName;

impl FilterPlugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _state: &State, pod: &Pod, node: &NodeInfo) -> Status {
        if fits(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Node;
    use serde_json::json;

    use super::*;
    use crate::scheduler::framework::no_state;

    /// Upstream `TestNodeName`.
    #[test]
    fn filter() {
        let cases = [
            ("no host specified", None, "", None),
            ("host matches", Some("foo"), "foo", None),
            ("host doesn't match", Some("bar"), "foo", Some(ERR_REASON)),
        ];
        for (name, pod_node_name, node_name, want) in cases {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": "p"},
                "spec": {"containers": [], "nodeName": pod_node_name}
            }))
            .unwrap();
            let node: Node =
                serde_json::from_value(json!({"metadata": {"name": node_name}})).unwrap();
            let status = NodeName.filter(&no_state(), &pod, &NodeInfo::new(Arc::new(node)));
            let want = want.map_or_else(Status::success, Status::unresolvable);
            assert_eq!(status, want, "{name}");
        }
    }
}
