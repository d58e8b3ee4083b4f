//! What `minik8s compare` records: every change to the twins, their sets and pods, and every
//! event about them, each with the milliseconds since the recording started (one clock for
//! both sides). The facts are read from the objects' JSON, so one recorder serves every kind.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::steps::Step;
use super::twin::{Side, Workload};

/// A whole recording: what was compared, the steps taken, and what was seen.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Recording {
    pub namespace: String,
    /// The top objects' names, by [`Side::index`].
    pub names: [String; 2],
    pub workload: Option<Workload>,
    pub steps: Vec<StepRecord>,
    pub entries: Vec<Entry>,
    /// When the recording ended.
    pub end_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: Step,
    pub start_ms: u64,
    /// When each side completed the step, by [`Side::index`]; None: it did not.
    pub done_ms: [Option<u64>; 2],
    /// Why a side did not complete the step (timed out, refused).
    pub failed: [Option<String>; 2],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub t_ms: u64,
    #[serde(flatten)]
    pub fact: Fact,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Fact {
    Top(TopState),
    /// A set; for a service, an EndpointSlice.
    Set(SetState),
    Pod(PodState),
    Event(EventFact),
    /// A service's Endpoints (built-in) or MiniEndpoints.
    Endpoints(EndpointsState),
}

/// The addresses of an Endpoints or MiniEndpoints, sorted (the controllers sort them too).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointsState {
    pub side: Side,
    pub ready: Vec<String>,
    pub not_ready: Vec<String>,
    /// `name/port/protocol` of each port.
    pub ports: Vec<String>,
    pub gone: bool,
}

/// A Deployment or MiniDeployment (or, for sets compared alone, the set) as last seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TopState {
    pub side: Side,
    pub uid: String,
    pub generation: i64,
    pub observed_generation: i64,
    pub desired: i32,
    pub max_surge: i32,
    pub max_unavailable: i32,
    pub paused: bool,
    pub replicas: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub conditions: Vec<Condition>,
    /// The spec fields that shape what the controller does, as `field: value` (defaults
    /// applied), to tell two hand-made objects apart.
    pub spec: BTreeMap<String, String>,
    /// A pod compared with its twin: the node it is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub gone: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: String,
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={} ({})", self.type_, self.status, self.reason)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SetState {
    pub uid: String,
    pub name: String,
    /// Known from the object itself (an EndpointSlice's service label), not from its owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// The controller owning it (a deployment's uid), if any.
    pub owner: Option<String>,
    pub revision: Option<i64>,
    pub image: String,
    pub desired: i32,
    pub replicas: i32,
    pub ready: i32,
    pub available: i32,
    pub gone: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodState {
    pub uid: String,
    pub name: String,
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Only what a service's selector is matched against.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub scheduled: bool,
    pub ready: bool,
    pub terminating: bool,
    pub gone: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventFact {
    /// The uid of the object the event is about.
    pub about: String,
    pub object: String,
    pub reason: String,
    pub message: String,
    #[serde(rename = "type")]
    pub type_: String,
}

fn int(v: &Value) -> i32 {
    v.as_i64().unwrap_or(0) as i32
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn controller_uid(object: &Value) -> Option<String> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == Value::Bool(true))
        .and_then(|r| r["uid"].as_str())
        .map(str::to_owned)
}

fn conditions(status: &Value) -> Vec<Condition> {
    let mut conditions: Vec<Condition> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| Condition {
            type_: text(&c["type"]),
            status: text(&c["status"]),
            reason: text(&c["reason"]),
        })
        .collect();
    conditions.sort();
    conditions
}

/// The facts of a top object. Surge and unavailability are resolved as the controller does.
pub fn top_state(side: Side, workload: Workload, object: &Value, gone: bool) -> TopState {
    match workload {
        Workload::Pod => return pod_top_state(side, object, gone),
        Workload::Service => return service_top_state(side, object, gone),
        _ => {}
    }
    let spec = &object["spec"];
    let status = &object["status"];
    let desired = spec["replicas"].as_i64().map_or(1, |r| r as i32);
    let (max_surge, max_unavailable) = match workload {
        Workload::ReplicaSet | Workload::Pod | Workload::Service => (0, 0),
        Workload::Deployment => deployment_bounds(object, desired),
    };
    TopState {
        side,
        uid: text(&object["metadata"]["uid"]),
        generation: object["metadata"]["generation"].as_i64().unwrap_or(0),
        observed_generation: status["observedGeneration"].as_i64().unwrap_or(0),
        desired,
        max_surge,
        max_unavailable,
        paused: spec["paused"].as_bool().unwrap_or(false),
        replicas: int(&status["replicas"]),
        updated: int(&status["updatedReplicas"]),
        ready: int(&status["readyReplicas"]),
        available: int(&status["availableReplicas"]),
        conditions: conditions(status),
        spec: spec_facts(workload, spec),
        node: None,
        gone,
    }
}

/// A Service or MiniService: what it selects is in `spec`; it has no rollout, and the
/// MiniService's own status conditions have no built-in counterpart, so none are kept.
fn service_top_state(side: Side, object: &Value, gone: bool) -> TopState {
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    TopState {
        side,
        uid: text(&object["metadata"]["uid"]),
        generation,
        observed_generation: generation,
        spec: spec_facts(Workload::Service, &object["spec"]),
        gone,
        ..TopState::default()
    }
}

/// The selector of a service's spec facts.
pub fn selector_of(top: &TopState) -> Option<BTreeMap<String, String>> {
    serde_json::from_str(top.spec.get("selector")?).ok()
}

pub fn endpoints_state(side: Side, object: &Value, gone: bool) -> EndpointsState {
    let mut state = EndpointsState {
        side,
        gone,
        ..EndpointsState::default()
    };
    for subset in object["subsets"].as_array().into_iter().flatten() {
        for (key, into) in [
            ("addresses", &mut state.ready),
            ("notReadyAddresses", &mut state.not_ready),
        ] {
            into.extend(
                subset[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| text(&a["ip"])),
            );
        }
        state
            .ports
            .extend(subset["ports"].as_array().into_iter().flatten().map(|p| {
                format!(
                    "{}/{}/{}",
                    text(&p["name"]),
                    p["port"],
                    p["protocol"].as_str().unwrap_or("TCP")
                )
            }));
    }
    for list in [&mut state.ready, &mut state.not_ready, &mut state.ports] {
        list.sort();
        list.dedup();
    }
    state
}

/// An EndpointSlice as a set of the side whose Service it is for: `desired` is its
/// endpoints, `ready` the ready ones.
pub fn slice_state(object: &Value, gone: bool, services: &[Option<String>; 2]) -> Option<SetState> {
    let service = object["metadata"]["labels"]["kubernetes.io/service-name"].as_str()?;
    let side = Side::BOTH
        .into_iter()
        .find(|s| services[s.index()].as_deref() == Some(service))?;
    let endpoints = object["endpoints"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let ready = endpoints
        .iter()
        .filter(|e| e["conditions"]["ready"] != Value::Bool(false))
        .count();
    Some(SetState {
        uid: text(&object["metadata"]["uid"]),
        name: text(&object["metadata"]["name"]),
        side: Some(side),
        desired: endpoints.len() as i32,
        replicas: endpoints.len() as i32,
        ready: ready as i32,
        available: ready as i32,
        gone,
        ..SetState::default()
    })
}

/// A pod compared with its twin: one replica, scheduled or not, ready or not; a pod has no
/// observedGeneration, so every generation counts as observed.
fn pod_top_state(side: Side, object: &Value, gone: bool) -> TopState {
    let pod = pod_state(object, gone);
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    let ready = i32::from(pod.ready);
    TopState {
        side,
        uid: pod.uid,
        generation,
        observed_generation: generation,
        desired: 1,
        replicas: i32::from(!gone),
        updated: i32::from(!gone),
        ready,
        available: ready,
        conditions: conditions(&object["status"]),
        spec: spec_facts(Workload::Pod, &object["spec"]),
        node: object["spec"]["nodeName"].as_str().map(str::to_owned),
        gone,
        ..TopState::default()
    }
}

/// What a user set that changes the controller's behaviour: replicas, readiness, history,
/// strategy and the containers' images, with the defaults the API applies. The selector and
/// the template's labels are left out: twins must differ there.
pub fn spec_facts(workload: Workload, spec: &Value) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        facts.insert(key.to_owned(), value);
    };
    let number = |v: &Value, default: i64| v.as_i64().unwrap_or(default).to_string();
    if workload == Workload::Service {
        // With the API's defaults; an allocated cluster IP differs by nature, headless does not.
        put("selector", spec["selector"].to_string());
        put(
            "type",
            spec["type"].as_str().unwrap_or("ClusterIP").to_owned(),
        );
        put(
            "sessionAffinity",
            spec["sessionAffinity"]
                .as_str()
                .unwrap_or("None")
                .to_owned(),
        );
        let publish = spec["publishNotReadyAddresses"].as_bool().unwrap_or(false);
        put("publishNotReadyAddresses", publish.to_string());
        put("headless", (spec["clusterIP"] == "None").to_string());
        for p in spec["ports"].as_array().into_iter().flatten() {
            let target = if p["targetPort"].is_null() {
                &p["port"]
            } else {
                &p["targetPort"]
            };
            put(
                &format!("ports[{}]", p["port"]),
                format!("targetPort {target}"),
            );
        }
        return facts;
    }
    let pod_spec = match workload {
        Workload::Pod => spec,
        _ => &spec["template"]["spec"],
    };
    for c in pod_spec["containers"].as_array().into_iter().flatten() {
        put(
            &format!("containers[{}].image", text(&c["name"])),
            text(&c["image"]),
        );
    }
    if workload == Workload::Pod {
        // What a scheduler decides on; the scheduler's own name is what twins differ in.
        for key in [
            "nodeSelector",
            "affinity",
            "tolerations",
            "topologySpreadConstraints",
            "priority",
        ] {
            if !pod_spec[key].is_null() {
                put(key, pod_spec[key].to_string());
            }
        }
        return facts;
    }
    put("replicas", number(&spec["replicas"], 1));
    put("minReadySeconds", number(&spec["minReadySeconds"], 0));
    if workload == Workload::Deployment {
        put(
            "revisionHistoryLimit",
            number(&spec["revisionHistoryLimit"], 10),
        );
        put(
            "progressDeadlineSeconds",
            number(&spec["progressDeadlineSeconds"], 600),
        );
        put(
            "paused",
            spec["paused"].as_bool().unwrap_or(false).to_string(),
        );
        let strategy = &spec["strategy"];
        let type_ = strategy["type"].as_str().unwrap_or("RollingUpdate");
        put("strategy.type", type_.to_owned());
        if type_ == "RollingUpdate" {
            let bound = |v: &Value| match v {
                Value::Null => "25%".to_owned(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            put(
                "strategy.rollingUpdate.maxSurge",
                bound(&strategy["rollingUpdate"]["maxSurge"]),
            );
            put(
                "strategy.rollingUpdate.maxUnavailable",
                bound(&strategy["rollingUpdate"]["maxUnavailable"]),
            );
        }
    }
    facts
}

/// (maxSurge, maxUnavailable) in pods; a Recreate deployment may have none available.
fn deployment_bounds(object: &Value, desired: i32) -> (i32, i32) {
    use crate::api::MiniDeploymentSpec;
    use crate::api::deployment::StrategyType;
    let mut spec = object["spec"].clone();
    // The Mini spec reads the same fields with the same defaults.
    if spec["template"].is_null() {
        spec["template"] = serde_json::json!({});
    }
    match serde_json::from_value::<MiniDeploymentSpec>(spec) {
        Ok(spec) if spec.strategy.type_ == StrategyType::Recreate => (0, desired),
        Ok(spec) => {
            let bounds = spec.strategy.rolling_update.unwrap_or_default();
            let (surge, unavailable) =
                crate::controllers::deployment::util::fenceposts(&bounds, desired);
            (surge, unavailable.min(desired))
        }
        Err(_) => (0, 0),
    }
}

pub fn set_state(side: Side, object: &Value, gone: bool) -> SetState {
    let status = &object["status"];
    SetState {
        uid: text(&object["metadata"]["uid"]),
        name: text(&object["metadata"]["name"]),
        owner: controller_uid(object),
        revision: object["metadata"]["annotations"][Workload::revision_annotation(side)]
            .as_str()
            .and_then(|r| r.parse().ok()),
        image: text(&object["spec"]["template"]["spec"]["containers"][0]["image"]),
        desired: object["spec"]["replicas"].as_i64().map_or(1, |r| r as i32),
        replicas: int(&status["replicas"]),
        ready: int(&status["readyReplicas"]),
        available: int(&status["availableReplicas"]),
        gone,
        side: None,
    }
}

pub fn pod_state(object: &Value, gone: bool) -> PodState {
    let status = &object["status"];
    let ready = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    PodState {
        uid: text(&object["metadata"]["uid"]),
        name: text(&object["metadata"]["name"]),
        owner: controller_uid(object),
        ip: status["podIP"]
            .as_str()
            .filter(|ip| !ip.is_empty())
            .map(str::to_owned),
        labels: serde_json::from_value(object["metadata"]["labels"].clone()).unwrap_or_default(),
        scheduled: !object["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        ready,
        terminating: !object["metadata"]["deletionTimestamp"].is_null(),
        gone,
    }
}

/// A core/v1 Event; `count` tells one occurrence from the next.
pub fn event_fact(object: &Value) -> EventFact {
    let involved = &object["involvedObject"];
    EventFact {
        about: text(&involved["uid"]),
        object: format!("{}/{}", text(&involved["kind"]), text(&involved["name"])),
        reason: text(&object["reason"]),
        message: text(&object["message"]),
        type_: text(&object["type"]),
    }
}

/// Which side each recorded object belongs to, following controller references from pods to
/// sets to the top objects. Objects of neither twin are absent.
pub fn sides(recording: &Recording) -> HashMap<String, Side> {
    let mut owner: HashMap<&str, &str> = HashMap::new();
    let mut sides: HashMap<String, Side> = HashMap::new();
    for entry in &recording.entries {
        match &entry.fact {
            Fact::Top(t) => {
                sides.insert(t.uid.clone(), t.side);
            }
            Fact::Set(s) => {
                if let Some(side) = s.side {
                    sides.insert(s.uid.clone(), side);
                }
                if let Some(o) = &s.owner {
                    owner.insert(&s.uid, o);
                }
            }
            Fact::Pod(p) => {
                if let Some(o) = &p.owner {
                    owner.insert(&p.uid, o);
                }
            }
            Fact::Event(_) | Fact::Endpoints(_) => {}
        }
    }
    let resolved: Vec<(String, Side)> = owner
        .keys()
        .filter_map(|uid| {
            let mut at = *uid;
            for _ in 0..3 {
                if let Some(side) = sides.get(at) {
                    return Some((uid.to_string(), *side));
                }
                at = owner.get(at)?;
            }
            sides.get(at).map(|side| (uid.to_string(), *side))
        })
        .collect();
    sides.extend(resolved);
    sides
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_facts_apply_the_defaults_and_skip_the_labels() {
        let spec = json!({
            "selector": {"matchLabels": {"app": "a"}},
            "strategy": {"rollingUpdate": {"maxSurge": 2}},
            "template": {"metadata": {"labels": {"app": "a"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
        });
        let facts = spec_facts(Workload::Deployment, &spec);
        let text: Vec<String> = facts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            text,
            [
                "containers[web].image=nginx:1.27",
                "minReadySeconds=0",
                "paused=false",
                "progressDeadlineSeconds=600",
                "replicas=1",
                "revisionHistoryLimit=10",
                "strategy.rollingUpdate.maxSurge=2",
                "strategy.rollingUpdate.maxUnavailable=25%",
                "strategy.type=RollingUpdate",
            ]
        );
        assert_eq!(spec_facts(Workload::ReplicaSet, &spec).len(), 3);
    }

    #[test]
    fn owners_lead_from_pods_to_the_side() {
        let top = |side: Side, uid: &str| Entry {
            t_ms: 0,
            fact: Fact::Top(TopState {
                side,
                uid: uid.into(),
                ..TopState::default()
            }),
        };
        let set = |uid: &str, owner: &str| Entry {
            t_ms: 0,
            fact: Fact::Set(SetState {
                uid: uid.into(),
                owner: Some(owner.into()),
                ..SetState::default()
            }),
        };
        let pod = |uid: &str, owner: Option<&str>| Entry {
            t_ms: 0,
            fact: Fact::Pod(PodState {
                uid: uid.into(),
                owner: owner.map(Into::into),
                ..PodState::default()
            }),
        };
        let recording = Recording {
            entries: vec![
                pod("p1", Some("s1")),
                top(Side::Minik8s, "d1"),
                set("s1", "d1"),
                pod("p2", Some("other")),
                pod("p3", None),
            ],
            ..Recording::default()
        };
        let sides = sides(&recording);
        assert_eq!(sides.get("p1"), Some(&Side::Minik8s));
        assert_eq!(sides.get("s1"), Some(&Side::Minik8s));
        assert_eq!(sides.get("p2"), None);
        assert_eq!(sides.get("p3"), None);
    }

    #[test]
    fn pods_read_as_scheduled_ready_terminating() {
        let pod = json!({
            "metadata": {"uid": "u", "name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z",
                         "ownerReferences": [{"uid": "o", "controller": true}]},
            "spec": {"nodeName": "n1"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        });
        let state = pod_state(&pod, false);
        assert!(state.scheduled && state.ready && state.terminating && !state.gone);
        assert_eq!(state.owner.as_deref(), Some("o"));
    }
}
