//! The scheduler's cache (upstream `internal/cache`): every node and every pod assigned to
//! one, whoever placed it, plus the pods this scheduler has chosen a node for but whose
//! binding it has not seen yet ("assumed"), so that the next attempt counts them at once.
//! Fed by the informers; read by each attempt as a [`Snapshot`].

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use super::framework::{NodeInfo, Snapshot};
use super::pod::Pod;

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// A pod that has finished no longer holds its resources (upstream's cache drops it).
fn holds_resources(pod: &Pod) -> bool {
    !matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

#[derive(Default)]
pub struct Cache {
    snapshot: Snapshot,
    /// Node name → index in `snapshot.nodes`.
    index: HashMap<String, usize>,
    /// Pod UID → the node it is counted on.
    placed: HashMap<String, String>,
    /// Pods this scheduler placed whose binding the informer has not shown yet.
    assumed: HashMap<String, Arc<Pod>>,
    /// Pods naming a node the cache does not know (yet), by node.
    waiting: HashMap<String, Vec<Arc<Pod>>>,
}

impl Cache {
    /// The nodes and their pods, as the next attempt sees them.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    fn reindex(&mut self) {
        self.index = self
            .snapshot
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name().to_string(), i))
            .collect();
    }

    pub fn upsert_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(&i) = self.index.get(&name) {
            // Upstream `NodeInfo.SetNode`: what the pods add up to does not depend on the node,
            // so an update (kwok's and the kubelet's status heartbeats, mostly) replaces the
            // node and its allocatable only, rather than counting every pod again.
            self.snapshot.nodes[i].set_node(node);
            return;
        }
        let mut info = NodeInfo::new(node);
        for pod in self.waiting.remove(&name).unwrap_or_default() {
            info.add_pod(pod);
        }
        let at = self
            .snapshot
            .nodes
            .partition_point(|n| n.name() < name.as_str());
        self.snapshot.nodes.insert(at, info);
        self.reindex();
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(i) = self.index.get(name).copied() else {
            return;
        };
        let info = self.snapshot.nodes.remove(i);
        // Its pods stay known (they are deleted by the pod GC); they count again if the node
        // comes back.
        self.waiting.insert(name.to_string(), info.pods);
        self.reindex();
    }

    fn remove_placed(&mut self, uid: &str) -> Option<Arc<Pod>> {
        let node = self.placed.remove(uid)?;
        match self.index.get(&node) {
            Some(&i) => self.snapshot.nodes[i].remove_pod(uid),
            None => {
                let pods = self.waiting.get_mut(&node)?;
                let at = pods
                    .iter()
                    .position(|p| p.metadata.uid.as_deref() == Some(uid))?;
                Some(pods.swap_remove(at))
            }
        }
    }

    fn insert_placed(&mut self, pod: Arc<Pod>, node: &str) {
        self.placed.insert(uid(&pod), node.to_string());
        match self.index.get(node) {
            Some(&i) => self.snapshot.nodes[i].add_pod(pod),
            None => self.waiting.entry(node.to_string()).or_default().push(pod),
        }
    }

    /// A pod as the informer shows it (added or updated): counted on its node if it has
    /// one and still holds resources. An assumed pod seen bound is confirmed.
    pub fn observe_pod(&mut self, pod: Arc<Pod>) {
        let uid = uid(&pod);
        match node_of(&pod).map(str::to_owned) {
            Some(node) if holds_resources(&pod) => {
                self.assumed.remove(&uid);
                self.remove_placed(&uid);
                self.insert_placed(pod, &node);
            }
            // Not bound yet (an assumed pod stays counted), or finished.
            _ if self.assumed.contains_key(&uid) && node_of(&pod).is_none() => {}
            _ => {
                self.remove_placed(&uid);
            }
        }
    }

    /// The pod is gone.
    pub fn remove_pod(&mut self, pod: &Pod) {
        let uid = uid(pod);
        self.assumed.remove(&uid);
        self.remove_placed(&uid);
    }

    /// Counts `pod` on `node` before its binding is written (upstream `AssumePod`).
    /// Upstream counts a deep copy with `spec.nodeName` set; here the queued pod itself is
    /// counted, since nothing reads the node name of a counted pod (its NodeInfo says where
    /// it is). With thousands of pods waiting for their binding those copies were the
    /// largest part of the scheduler's memory (about 9 KiB a pod).
    pub fn assume(&mut self, pod: Arc<Pod>, node: &str) {
        let uid = uid(&pod);
        self.remove_placed(&uid);
        self.insert_placed(pod.clone(), node);
        self.assumed.insert(uid, pod);
    }

    /// The binding failed: the pod no longer counts (upstream `ForgetPod`).
    pub fn forget(&mut self, pod: &Pod) {
        let uid = uid(pod);
        if self.assumed.remove(&uid).is_some() {
            self.remove_placed(&uid);
        }
    }

    pub fn is_assumed(&self, pod: &Pod) -> bool {
        self.assumed.contains_key(&uid(pod))
    }

    /// (nodes, pods counted, assumed pods)
    pub fn lengths(&self) -> (usize, usize, usize) {
        (
            self.snapshot.nodes.len(),
            self.placed.len(),
            self.assumed.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(name: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name},
                "status": {"allocatable": {"cpu": "4", "pods": "10"}}}))
            .unwrap(),
        )
    }

    fn pod(name: &str, node: Option<&str>, phase: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}")},
                "spec": {"nodeName": node, "containers": [{"name": "c",
                         "resources": {"requests": {"cpu": "1"}}}]},
                "status": {"phase": phase},
            }))
            .unwrap(),
        )
    }

    fn cpu(cache: &Cache, node: &str) -> i64 {
        cache.snapshot().get(node).unwrap().requested.milli_cpu
    }

    #[test]
    fn pods_count_on_their_node_whoever_placed_them() {
        let mut cache = Cache::default();
        cache.upsert_node(node("b"));
        cache.upsert_node(node("a"));
        cache.observe_pod(pod("p1", Some("a"), "Running"));
        cache.observe_pod(pod("p2", None, "Pending"));
        assert_eq!((cpu(&cache, "a"), cpu(&cache, "b")), (1000, 0));
        let names: Vec<&str> = cache.snapshot().nodes.iter().map(|n| n.name()).collect();
        assert_eq!(names, ["a", "b"]);
        // Finished: no longer counted.
        cache.observe_pod(pod("p1", Some("a"), "Succeeded"));
        assert_eq!(cpu(&cache, "a"), 0);
    }

    #[test]
    fn an_assumed_pod_counts_until_its_binding_is_seen_or_it_is_forgotten() {
        let mut cache = Cache::default();
        cache.upsert_node(node("a"));
        let pending = pod("p", None, "Pending");
        cache.assume(pending.clone(), "a");
        assert_eq!(cpu(&cache, "a"), 1000);
        // Counted as queued, not copied.
        let counted = &cache.snapshot().get("a").unwrap().pods[0];
        assert!(Arc::ptr_eq(counted, &pending));
        // The informer still shows it unbound: it stays counted.
        cache.observe_pod(pending.clone());
        assert_eq!(cpu(&cache, "a"), 1000);
        cache.observe_pod(pod("p", Some("a"), "Pending"));
        assert!(!cache.is_assumed(&pending));
        assert_eq!(cache.lengths(), (1, 1, 0));
        // Forget only drops assumptions.
        cache.forget(&pending);
        assert_eq!(cpu(&cache, "a"), 1000);

        let other = pod("q", None, "Pending");
        cache.assume(other.clone(), "a");
        cache.forget(&other);
        assert_eq!(cpu(&cache, "a"), 1000);
    }

    #[test]
    fn an_updated_node_keeps_its_pods_and_takes_the_new_allocatable() {
        let mut cache = Cache::default();
        cache.upsert_node(node("a"));
        cache.observe_pod(pod("p", Some("a"), "Running"));
        let bigger: Arc<Node> = Arc::new(
            serde_json::from_value(json!({"metadata": {"name": "a", "labels": {"new": "x"}},
                "status": {"allocatable": {"cpu": "8", "pods": "10"}}}))
            .unwrap(),
        );
        cache.upsert_node(bigger.clone());
        let info = cache.snapshot().get("a").unwrap();
        assert!(Arc::ptr_eq(&info.node, &bigger));
        assert_eq!(info.allocatable.milli_cpu, 8000);
        assert_eq!((info.pods.len(), info.requested.milli_cpu), (1, 1000));
        assert_eq!(cache.lengths(), (1, 1, 0));
    }

    #[test]
    fn pods_of_an_unknown_node_count_once_it_appears() {
        let mut cache = Cache::default();
        cache.observe_pod(pod("p", Some("late"), "Running"));
        cache.upsert_node(node("late"));
        assert_eq!(cpu(&cache, "late"), 1000);
        cache.remove_node("late");
        assert!(cache.snapshot().get("late").is_none());
        cache.upsert_node(node("late"));
        assert_eq!(cpu(&cache, "late"), 1000);
        cache.remove_pod(&pod("p", Some("late"), "Running"));
        assert_eq!(cpu(&cache, "late"), 0);
    }
}
