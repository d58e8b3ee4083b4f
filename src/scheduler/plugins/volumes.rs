//! Pods with volumes that need binding (upstream VolumeRestrictions, NodeVolumeLimits,
//! VolumeBinding, VolumeZone and DynamicResources pass every pod without such volumes or
//! claims). minik8s-scheduler does not bind volumes: such a pod is refused with a reason that
//! says so, instead of being placed where its volumes might not follow.

use crate::scheduler::framework::{FilterPlugin, NodeInfo, Snapshot, State, Status};
use crate::scheduler::pod::Pod;

pub const NAME: &str = "VolumeBinding";

/// The reason every node gets for such a pod.
pub const REASON: &str = "pod has PersistentVolumeClaims, ephemeral volumes or resource claims, which minik8s-scheduler does not bind; use the default scheduler for it";

pub struct Volumes;

/// Whether the pod needs a volume or device bound to a node before it can run there.
pub fn needs_binding(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let volumes = spec.volumes.iter().flatten();
    let claims = volumes
        .clone()
        .any(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some());
    claims || spec.resource_claims.as_ref().is_some_and(|c| !c.is_empty())
}

impl FilterPlugin for Volumes {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, pod: &Pod, _snapshot: &Snapshot) -> Result<Option<State>, Status> {
        if needs_binding(pod) {
            return Err(Status::unresolvable(REASON));
        }
        // Nothing to check on any node.
        Ok(None)
    }

    fn filter(&self, _state: &State, _pod: &Pod, _node: &NodeInfo) -> Status {
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(volumes: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"},
            "spec": {"containers": [], "volumes": volumes}}))
        .unwrap()
    }

    #[test]
    fn only_volumes_that_need_binding_are_refused() {
        let snapshot = Snapshot::default();
        let plain =
            pod(json!([{"name": "v", "emptyDir": {}}, {"name": "c", "configMap": {"name": "x"}}]));
        assert!(matches!(Volumes.pre_filter(&plain, &snapshot), Ok(None)));
        let claim = pod(json!([{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]));
        let refused = Volumes.pre_filter(&claim, &snapshot).err().unwrap();
        assert_eq!(refused, Status::unresolvable(REASON));
    }
}
