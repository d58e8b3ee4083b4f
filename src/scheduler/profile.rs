//! kube-scheduler's default profile (upstream `apis/config/v1/default_plugins.go`): the
//! plugins in their order, with their score weights.

use super::plugins::{
    balanced_allocation, image_locality, inter_pod_affinity, node_affinity, node_name, node_ports,
    node_resources_fit, node_unschedulable, pod_topology_spread, taint_toleration, volumes,
};
use super::schedule::Profile;

/// The default profile. SchedulingGates and PrioritySort are the queue's; the volume
/// plugins are one plugin here that refuses what it cannot bind; DefaultPreemption is the
/// PostFilter in `preemption`; DefaultBinder is the binding in `run`.
pub fn default_profile(percentage_of_nodes_to_score: i64) -> Profile {
    Profile {
        filters: vec![
            Box::new(node_unschedulable::NodeUnschedulable),
            Box::new(node_name::NodeName),
            Box::new(taint_toleration::TaintToleration),
            Box::new(node_affinity::NodeAffinity),
            Box::new(node_ports::NodePorts),
            Box::new(node_resources_fit::NodeResourcesFit),
            Box::new(volumes::Volumes),
            Box::new(pod_topology_spread::PodTopologySpread),
            Box::new(inter_pod_affinity::InterPodAffinity),
        ],
        scores: vec![
            (
                Box::new(taint_toleration::TaintToleration),
                taint_toleration::WEIGHT,
            ),
            (Box::new(node_affinity::NodeAffinity), node_affinity::WEIGHT),
            (
                Box::new(node_resources_fit::NodeResourcesFit),
                node_resources_fit::WEIGHT,
            ),
            (
                Box::new(pod_topology_spread::PodTopologySpread),
                pod_topology_spread::WEIGHT,
            ),
            (
                Box::new(inter_pod_affinity::InterPodAffinity),
                inter_pod_affinity::WEIGHT,
            ),
            (
                Box::new(balanced_allocation::NodeResourcesBalancedAllocation),
                balanced_allocation::WEIGHT,
            ),
            (
                Box::new(image_locality::ImageLocality),
                image_locality::WEIGHT,
            ),
        ],
        percentage_of_nodes_to_score,
    }
}
