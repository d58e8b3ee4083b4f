//! What the scheduler keeps of a pod: its informer caches every pod of the cluster, and most
//! of a pod is of no use to a scheduling decision (commands, environment, probes, mounts,
//! the service account token volume, container states, annotations). The informer drops
//! those fields as each pod arrives, as a client-go informer's `SetTransform` would, so that
//! each cached pod is a fraction of its size.
//!
//! Kept: every field a plugin, the queue, the cache, preemption or binding reads — metadata
//! but annotations, and of the spec the containers' name, image, ports, resources, resize
//! policy and restart policy, the volumes that need binding or carry an image, and every
//! other spec field; of the status the conditions it reads and everything else but what the
//! containers report beyond their resources. The test below holds a trimmed pod to the same
//! decisions as the whole one.

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};

/// The pod conditions something in the scheduler reads: its own `PodScheduled` (written only
/// when it changes), `DisruptionTarget` (preemption) and `PodResizePending` (requests).
const CONDITIONS_READ: [&str; 3] = ["PodScheduled", "DisruptionTarget", "PodResizePending"];

/// Drops what no scheduling decision reads.
pub fn keep_what_scheduling_reads(pod: &mut Pod) {
    pod.metadata.annotations = None;
    if let Some(spec) = pod.spec.as_mut() {
        let init = spec.init_containers.iter_mut().flatten();
        spec.containers
            .iter_mut()
            .chain(init)
            .for_each(trim_container);
        // Ephemeral containers request no resources and hold no ports.
        spec.ephemeral_containers = None;
        if let Some(volumes) = spec.volumes.as_mut() {
            volumes.retain(|v| {
                v.persistent_volume_claim.is_some() || v.ephemeral.is_some() || v.image.is_some()
            });
            // A `Volume` is kilobytes wide (a field for every kind of volume), and `retain`
            // keeps the buffer: without this every pod with a token volume kept one empty
            // slot, about 30 MiB of the scheduler's 70 at 5000 pods (heaptrack).
            volumes.shrink_to_fit();
        }
    }
    if let Some(status) = pod.status.as_mut() {
        if let Some(conditions) = status.conditions.as_mut() {
            conditions.retain(|c| CONDITIONS_READ.contains(&c.type_.as_str()));
            conditions.shrink_to_fit();
        }
        let init = status.init_container_statuses.iter_mut().flatten();
        status
            .container_statuses
            .iter_mut()
            .flatten()
            .chain(init)
            .for_each(trim_container_status);
        status.ephemeral_container_statuses = None;
    }
}

fn trim_container(container: &mut Container) {
    *container = Container {
        name: std::mem::take(&mut container.name),
        image: container.image.take(),
        ports: container.ports.take(),
        resources: container.resources.take(),
        resize_policy: container.resize_policy.take(),
        restart_policy: container.restart_policy.take(),
        ..Container::default()
    };
}

/// In-place resize: the requests a container reports and the resources allocated to it
/// count (`resources::container_requests`); its state does not.
fn trim_container_status(status: &mut ContainerStatus) {
    *status = ContainerStatus {
        name: std::mem::take(&mut status.name),
        resources: status.resources.take(),
        allocated_resources: status.allocated_resources.take(),
        ..ContainerStatus::default()
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Node;
    use serde_json::{Value, json};

    use super::*;
    use crate::scheduler::framework::Snapshot;
    use crate::scheduler::profile::default_profile;
    use crate::scheduler::schedule::{Rng, schedule};

    fn node(name: &str, zone: &str, cpu: &str, extra: Value) -> Arc<Node> {
        let mut node = json!({
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "20"},
                       "images": [{"names": ["app:1"], "sizeBytes": 500_000_000}]},
        });
        merge(&mut node, extra);
        Arc::new(serde_json::from_value(node).unwrap())
    }

    fn merge(into: &mut Value, from: Value) {
        match (into, from) {
            (Value::Object(into), Value::Object(from)) => {
                for (k, v) in from {
                    merge(into.entry(k).or_insert(Value::Null), v);
                }
            }
            (into, from) => *into = from,
        }
    }

    /// A pod as the API server and a kubelet leave it, with everything the scheduler reads
    /// and much that it does not; `extra` is merged in.
    fn pod(name: &str, node: Option<&str>, extra: Value) -> Pod {
        let mut pod = json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                "labels": {"app": "web"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {
                "nodeName": node,
                "containers": [{
                    "name": "app", "image": "app:1", "command": ["/app"], "args": ["--x"],
                    "env": [{"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 80}],
                    "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
                    "volumeMounts": [{"name": "token", "mountPath": "/var/run/secrets"}],
                }],
                "initContainers": [{
                    "name": "proxy", "image": "proxy:1", "restartPolicy": "Always",
                    "ports": [{"containerPort": 9000, "hostPort": 9000}],
                    "resources": {"requests": {"cpu": "100m"}},
                }],
                "volumes": [
                    {"name": "token", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token"}}]}},
                    {"name": "model", "image": {"reference": "model:1"}},
                ],
                "tolerations": [{"key": "dedicated", "operator": "Exists"}],
            },
            "status": {
                "phase": if node.is_some() { "Running" } else { "Pending" },
                "startTime": "2026-01-01T00:00:00Z",
                "conditions": [{"type": "Ready", "status": "True"},
                               {"type": "PodScheduled", "status": "True"}],
                "containerStatuses": [{
                    "name": "app", "image": "app:1", "imageID": "sha256:1", "ready": true,
                    "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                    "allocatedResources": {"cpu": "700m"},
                    "resources": {"requests": {"cpu": "700m"}},
                }],
            },
        });
        merge(&mut pod, extra);
        serde_json::from_value(pod).unwrap()
    }

    fn trimmed(pod: &Pod) -> Pod {
        let mut pod = pod.clone();
        keep_what_scheduling_reads(&mut pod);
        pod
    }

    #[test]
    fn a_trimmed_pod_loses_what_no_decision_reads() {
        let pod = trimmed(&pod("p", None, json!({})));
        assert_eq!(pod.metadata.annotations, None);
        let spec = pod.spec.unwrap();
        let app = &spec.containers[0];
        assert_eq!(
            (&app.command, &app.env, &app.volume_mounts),
            (&None, &None, &None)
        );
        assert!(app.readiness_probe.is_none());
        assert_eq!(app.image.as_deref(), Some("app:1"));
        let volumes: Vec<_> = spec.volumes.unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(
            volumes,
            ["model"],
            "the token volume goes, the image volume stays"
        );
        let status = pod.status.unwrap();
        let conditions: Vec<_> = status
            .conditions
            .iter()
            .flatten()
            .map(|c| &c.type_)
            .collect();
        assert_eq!(
            conditions,
            ["PodScheduled"],
            "Ready is read by nothing here"
        );
        let app = &status.container_statuses.unwrap()[0];
        assert!(app.state.is_none() && app.image.is_empty());
        assert!(app.allocated_resources.is_some() && app.resources.is_some());
        assert!(status.start_time.is_some());
    }

    #[test]
    fn volumes_all_dropped_leave_no_buffer_behind() {
        let mut pod = pod("p", None, json!({}));
        pod.spec
            .as_mut()
            .unwrap()
            .volumes
            .as_mut()
            .unwrap()
            .remove(1);
        let volumes = trimmed(&pod).spec.unwrap().volumes.unwrap();
        assert!(volumes.is_empty());
        assert_eq!(volumes.capacity(), 0, "a Volume is kilobytes wide");
    }

    /// Every decision — feasibility, each plugin's score, the message, the choice — is the
    /// same for trimmed pods on trimmed nodes' pods as for the whole ones.
    #[test]
    fn trimmed_pods_are_scheduled_exactly_as_whole_ones() {
        let nodes = vec![
            node("n1", "a", "2", json!({})),
            node(
                "n2",
                "a",
                "4",
                json!({"spec": {"taints": [
                {"key": "dedicated", "value": "x", "effect": "NoSchedule"}]}}),
            ),
            node("n3", "b", "4", json!({"status": {"images": []}})),
            node("n4", "b", "1", json!({})),
        ];
        let existing = [
            pod("e1", Some("n1"), json!({})),
            pod(
                "e2",
                Some("n3"),
                json!({"metadata": {"labels": {"app": "db"}},
                "spec": {"initContainers": [], "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": "kubernetes.io/hostname",
                     "labelSelector": {"matchLabels": {"app": "api"}}}]}}}}),
            ),
            pod(
                "e3",
                Some("n4"),
                json!({"spec": {"initContainers": []},
                "status": {"conditions": [
                {"type": "PodResizePending", "status": "True", "reason": "Infeasible"}]}}),
            ),
        ];
        let incoming = [
            pod("plain", None, json!({})),
            pod("api", None, json!({"metadata": {"labels": {"app": "api"}}})),
            pod(
                "spread",
                None,
                json!({"spec": {"topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}}}]}}),
            ),
            pod(
                "near-db",
                None,
                json!({"spec": {"affinity": {"podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100,
                    "podAffinityTerm": {"topologyKey": "topology.kubernetes.io/zone",
                        "labelSelector": {"matchLabels": {"app": "db"}}}}]}}}}),
            ),
            pod(
                "big",
                None,
                json!({"spec": {"containers": [{"name": "app",
                "resources": {"requests": {"cpu": "3"}}}]}}),
            ),
            pod(
                "claim",
                None,
                json!({"spec": {"volumes": [{"name": "data",
                "persistentVolumeClaim": {"claimName": "data"}}]}}),
            ),
        ];
        let whole = Snapshot::new(nodes.clone(), existing.iter().cloned().map(Arc::new));
        let lean = Snapshot::new(nodes, existing.iter().map(|p| Arc::new(trimmed(p))));
        let profile = default_profile(0);
        for pod in &incoming {
            let decide = |pod: &Pod, snapshot: &Snapshot| {
                let decision = schedule(&profile, pod, snapshot, 0, &mut Rng::new(7));
                (
                    serde_json::to_value(&decision).unwrap(),
                    decision.fit_error(),
                )
            };
            assert_eq!(
                decide(&trimmed(pod), &lean),
                decide(pod, &whole),
                "{}",
                pod.metadata.name.as_deref().unwrap_or_default()
            );
        }
    }
}
