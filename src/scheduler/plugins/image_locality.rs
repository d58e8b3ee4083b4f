//! ImageLocality: favours the nodes that already hold the pod's images, by their size
//! (upstream `plugins/imagelocality/image_locality.go`).
//!
//! Each image of the pod (init containers, containers and image volumes) found in the
//! node's `status.images` adds its size scaled by the share of all nodes that hold it, so
//! that an image present everywhere does not heat up one node. The sum, clamped between 23 MB
//! and 1000 MB per container, is scaled to 0..=100.

use std::collections::{HashMap, HashSet};

use crate::scheduler::framework::{self, MAX_NODE_SCORE, NodeInfo, ScorePlugin, Snapshot, State};
use crate::scheduler::pod::Pod;

pub const NAME: &str = "ImageLocality";
pub const WEIGHT: i64 = 1;

const MB: i64 = 1024 * 1024;
/// Below this the images are too small to matter (upstream `minThreshold`).
const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container, above this the score is the maximum (upstream `maxContainerThreshold`).
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

pub struct ImageLocality;

/// How many nodes of the snapshot hold each of the pod's images, counted once per pod in
/// PreScore (upstream reads the snapshot's `ImageStateSummary.NumNodes`).
struct ImageSpread {
    total_nodes: usize,
    nodes_with: HashMap<String, usize>,
}

/// Upstream `normalizedImageName`: an image without a tag gets `:latest`, as the container
/// runtime reports it. (A `:` before the last `/` is a registry port, not a tag; a missing
/// `:` or `/` compares as lowest, like Go's -1.)
pub fn normalized_image_name(name: &str) -> String {
    if name.rfind(':') <= name.rfind('/') {
        format!("{name}:latest")
    } else {
        name.to_string()
    }
}

/// The pod's images, normalized, in upstream's order: init containers, containers, image
/// volumes.
fn pod_images(pod: &Pod) -> Vec<String> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .map(|c| c.image.as_deref().unwrap_or_default());
    let volumes = spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.image.as_ref())
        .map(|image| image.reference.as_deref().unwrap_or_default());
    containers
        .chain(volumes)
        .map(normalized_image_name)
        .collect()
}

/// Init containers and containers: image volumes do not raise the maximum.
fn container_count(pod: &Pod) -> usize {
    pod.spec.as_ref().map_or(0, |spec| {
        spec.containers.len() + spec.init_containers.as_ref().map_or(0, Vec::len)
    })
}

/// The image names the node reports, each once.
fn node_image_names(node: &NodeInfo) -> HashSet<&str> {
    node.node
        .status
        .as_ref()
        .and_then(|s| s.images.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|image| image.names.iter().flatten())
        .map(String::as_str)
        .collect()
}

/// The size the node reports for `name`, if it holds it (the first listing wins).
fn image_size(node: &NodeInfo, name: &str) -> Option<i64> {
    let images = node.node.status.as_ref()?.images.as_ref()?;
    images
        .iter()
        .find(|image| image.names.iter().flatten().any(|n| n == name))
        .map(|image| image.size_bytes.unwrap_or(0))
}

/// Upstream `scaledImageScore`: the size times the share of nodes holding the image.
fn scaled_image_score(size: i64, nodes_with: usize, total_nodes: usize) -> i64 {
    let spread = nodes_with as f64 / total_nodes as f64;
    (size as f64 * spread) as i64
}

/// Upstream `calculatePriority`: the summed scores clamped to the thresholds, scaled to
/// 0..=100.
fn calculate_priority(sum_scores: i64, containers: usize) -> i64 {
    let max_threshold = MAX_CONTAINER_THRESHOLD * containers as i64;
    let clamped = if sum_scores < MIN_THRESHOLD {
        MIN_THRESHOLD
    } else if sum_scores > max_threshold {
        max_threshold
    } else {
        sum_scores
    };
    MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

impl ScorePlugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Counts, over every node of the snapshot (not only the feasible ones, as upstream),
    /// the nodes holding each of the pod's images.
    fn pre_score(&self, pod: &Pod, _feasible: &[&NodeInfo], snapshot: &Snapshot) -> Option<State> {
        let wanted: HashSet<String> = pod_images(pod).into_iter().collect();
        let mut nodes_with = HashMap::new();
        for node in &snapshot.nodes {
            for name in node_image_names(node) {
                if wanted.contains(name) {
                    *nodes_with.entry(name.to_string()).or_insert(0) += 1;
                }
            }
        }
        Some(Box::new(ImageSpread {
            total_nodes: snapshot.nodes.len(),
            nodes_with,
        }))
    }

    /// Upstream `sumImageScores` and `calculatePriority`.
    fn score(&self, state: &State, pod: &Pod, node: &NodeInfo) -> i64 {
        let spread = framework::state_of::<ImageSpread>(state);
        let sum: i64 = pod_images(pod)
            .iter()
            .filter_map(|image| {
                let size = image_size(node, image)?;
                let nodes_with = spread.nodes_with.get(image).copied().unwrap_or(0);
                Some(scaled_image_score(size, nodes_with, spread.total_nodes))
            })
            .sum();
        calculate_priority(sum, container_count(pod))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Node;
    use serde_json::{Value, json};

    use super::*;

    /// Upstream `makeImageNode`: `images` is a list of (names, size in MB).
    fn image_node(name: &str, images: &[(&[&str], i64)]) -> Node {
        let images: Vec<Value> = images
            .iter()
            .map(|(names, size)| json!({"names": names, "sizeBytes": size * MB}))
            .collect();
        serde_json::from_value(json!({"metadata": {"name": name}, "status": {"images": images}}))
            .unwrap()
    }

    fn pod(spec: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    fn containers(images: &[&str]) -> Value {
        images
            .iter()
            .map(|image| json!({"name": "c", "image": image}))
            .collect()
    }

    fn scores(pod: &Pod, nodes: Vec<Node>) -> Vec<i64> {
        let snapshot = Snapshot::new(nodes.into_iter().map(Arc::new), []);
        let feasible: Vec<&NodeInfo> = snapshot.nodes.iter().collect();
        let state = ImageLocality.pre_score(pod, &feasible, &snapshot).unwrap();
        snapshot
            .nodes
            .iter()
            .map(|node| ImageLocality.score(&state, pod, node))
            .collect()
    }

    /// Upstream `TestImageLocalityPriority`.
    #[test]
    fn image_locality_scores_nodes() {
        let node_40_300_2000 = |name| {
            image_node(
                name,
                &[
                    (&["gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"], 40),
                    (&["gcr.io/300:latest", "gcr.io/300:v1"], 300),
                    (&["gcr.io/2000:latest"], 2000),
                ],
            )
        };
        let node_250_10 = |name| {
            image_node(
                name,
                &[
                    (&["gcr.io/250:latest"], 250),
                    (&["gcr.io/10:latest", "gcr.io/10:v1"], 10),
                ],
            )
        };
        let node_600_40_900 = |name| {
            image_node(
                name,
                &[
                    (&["gcr.io/600:latest"], 600),
                    (&["gcr.io/40:latest"], 40),
                    (&["gcr.io/900:latest"], 900),
                ],
            )
        };
        let node_300_600_900 = |name| {
            image_node(
                name,
                &[
                    (&["gcr.io/300:latest"], 300),
                    (&["gcr.io/600:latest"], 600),
                    (&["gcr.io/900:latest"], 900),
                ],
            )
        };
        let node_4000_30 = |name| {
            image_node(
                name,
                &[(&["gcr.io/4000:latest"], 4000), (&["gcr.io/30:latest"], 30)],
            )
        };
        let node_20_30_40 = |name| {
            image_node(
                name,
                &[
                    (&["gcr.io/20:latest"], 20),
                    (&["gcr.io/30:latest"], 30),
                    (&["gcr.io/40:latest"], 40),
                ],
            )
        };
        let no_images = |name| image_node(name, &[]);
        let with_containers = |images: &[&str]| pod(json!({"containers": containers(images)}));
        let cases: Vec<(&str, Pod, Vec<Node>, Vec<i64>)> = vec![
            (
                "two images spread on two nodes, prefer the larger image one",
                with_containers(&["gcr.io/40", "gcr.io/250"]),
                vec![node_40_300_2000("node1"), node_250_10("node2")],
                vec![0, 5],
            ),
            (
                "two images on one node, prefer this node",
                with_containers(&["gcr.io/40", "gcr.io/300"]),
                vec![node_40_300_2000("node1"), node_250_10("node2")],
                vec![7, 0],
            ),
            (
                "if exceed limit, use limit",
                with_containers(&["gcr.io/10", "gcr.io/4000"]),
                vec![node_4000_30("node1"), node_250_10("node2")],
                vec![MAX_NODE_SCORE, 0],
            ),
            (
                "if exceed limit, use limit (with node which has no images present)",
                with_containers(&["gcr.io/10", "gcr.io/4000"]),
                vec![
                    node_4000_30("node1"),
                    node_250_10("node2"),
                    no_images("node3"),
                ],
                vec![66, 0, 0],
            ),
            (
                "pod with multiple large images, node2 is preferred",
                with_containers(&["gcr.io/300", "gcr.io/600", "gcr.io/900"]),
                vec![
                    node_600_40_900("node1"),
                    node_300_600_900("node2"),
                    no_images("node3"),
                ],
                vec![32, 36, 0],
            ),
            (
                "pod with multiple small images",
                with_containers(&["gcr.io/30", "gcr.io/40"]),
                vec![node_20_30_40("node1"), node_4000_30("node2")],
                vec![1, 0],
            ),
            (
                "pod with ImageVolume",
                pod(json!({"containers": containers(&["gcr.io/30"]),
                    "volumes": [{"name": "imageVolume", "image": {"reference": "gcr.io/300"}}]})),
                vec![node_300_600_900("node1"), node_4000_30("node2")],
                vec![12, 0],
            ),
            (
                "include InitContainers: two images spread on two nodes, prefer the larger image one",
                pod(json!({"containers": containers(&["gcr.io/30"]),
                    "initContainers": containers(&["gcr.io/300"])})),
                vec![node_40_300_2000("node1"), node_20_30_40("node2")],
                vec![6, 0],
            ),
        ];
        for (name, pod, nodes, want) in cases {
            assert_eq!(scores(&pod, nodes), want, "{name}");
        }
    }

    /// Upstream `TestNormalizedImageName`.
    #[test]
    fn normalized_image_names() {
        let digest = "sha256:4b8d5b2d1c8f4b3a3ed8cd1b6b0c8fd8f5c1b0e2b2e7c0f7d7e0b6a9c4d3e2f1";
        let with_digest = format!("root@{digest}");
        let cases = [
            ("add :latest postfix 1", "root", "root:latest".to_string()),
            (
                "add :latest postfix 2",
                "gcr.io:5000/root",
                "gcr.io:5000/root:latest".to_string(),
            ),
            ("keep it as is 1", "root:tag", "root:tag".to_string()),
            ("keep it as is 2", &with_digest, with_digest.clone()),
        ];
        for (name, input, want) in cases {
            assert_eq!(normalized_image_name(input), want, "{name}");
        }
    }
}
