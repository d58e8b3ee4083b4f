//! A manifest and its twin: the same object as a built-in kind and as its minik8s kind. Only
//! `apiVersion` and `kind` change, plus one label on the selector and the pod template
//! (`minik8s.dev/compare: builtin|minik8s`), so that the two sets of pods never overlap. A
//! pod's twin is the same pod for the other scheduler (`spec.schedulerName`), under a name
//! of its own.

use serde_json::{Value, json};

/// Which of the two twins.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    #[default]
    Builtin,
    Minik8s,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Builtin, Side::Minik8s];

    pub fn label(self) -> &'static str {
        match self {
            Side::Builtin => "built-in",
            Side::Minik8s => "minik8s",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The label that tells the twins' pods apart.
pub const SIDE_LABEL: &str = "minik8s.dev/compare";

/// What is compared: a deployment (with its sets) or a set alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    Deployment,
    ReplicaSet,
    /// A pod, placed by kube-scheduler on one side and by minik8s-scheduler on the other.
    Pod,
    /// A Service and its MiniService over the same pods: Endpoints and EndpointSlices.
    Service,
}

impl Workload {
    /// (apiVersion, kind) of the top object on `side`.
    pub fn type_meta(self, side: Side) -> (&'static str, &'static str) {
        match (self, side) {
            (Workload::Deployment, Side::Builtin) => ("apps/v1", "Deployment"),
            (Workload::Deployment, Side::Minik8s) => ("minik8s.dev/v1alpha1", "MiniDeployment"),
            (Workload::ReplicaSet, Side::Builtin) => ("apps/v1", "ReplicaSet"),
            (Workload::ReplicaSet, Side::Minik8s) => ("minik8s.dev/v1alpha1", "MiniReplicaSet"),
            (Workload::Pod, _) => ("v1", "Pod"),
            (Workload::Service, Side::Builtin) => ("v1", "Service"),
            (Workload::Service, Side::Minik8s) => ("minik8s.dev/v1alpha1", "MiniService"),
        }
    }

    /// The workload and side a kind (or kubectl's short name for it) names.
    pub fn of_kind(kind: &str) -> Option<(Workload, Side)> {
        Some(match kind.to_ascii_lowercase().as_str() {
            "deployment" | "deployments" | "deploy" => (Workload::Deployment, Side::Builtin),
            "minideployment" | "minideployments" | "mdeploy" => {
                (Workload::Deployment, Side::Minik8s)
            }
            "replicaset" | "replicasets" | "rs" => (Workload::ReplicaSet, Side::Builtin),
            "minireplicaset" | "minireplicasets" | "mrs" => (Workload::ReplicaSet, Side::Minik8s),
            "pod" | "pods" | "po" => (Workload::Pod, Side::Builtin),
            "service" | "services" | "svc" => (Workload::Service, Side::Builtin),
            "miniservice" | "miniservices" | "msvc" => (Workload::Service, Side::Minik8s),
            _ => return None,
        })
    }

    /// The prefix of the revision annotations each side's sets carry.
    pub fn revision_annotation(side: Side) -> &'static str {
        match side {
            Side::Builtin => "deployment.kubernetes.io/revision",
            Side::Minik8s => "minik8s.dev/revision",
        }
    }
}

/// Both twins of one manifest, ready to create.
#[derive(Clone, Debug, PartialEq)]
pub struct Twins {
    pub workload: Workload,
    /// The manifest's name.
    pub name: String,
    /// Each twin's name, by [`Side::index`].
    pub names: [String; 2],
    /// Indexed by [`Side::index`].
    pub objects: [Value; 2],
}

/// Derives both twins from a manifest of either kind. The name stays: the two kinds live side
/// by side in one namespace, and the side label makes their sets' names differ too (the
/// template hash covers the labels). Pods are one kind, so theirs get `-builtin` and
/// `-minik8s`; the minik8s one is for `scheduler` (the built-in one for the default).
pub fn derive(manifest: &Value, scheduler: &str) -> Result<Twins, String> {
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let (workload, _) = Workload::of_kind(kind).ok_or_else(|| {
        format!(
            "cannot compare a {:?}: give a Deployment, ReplicaSet, MiniDeployment, MiniReplicaSet, Pod, Service or MiniService",
            if kind.is_empty() { "manifest without a kind" } else { kind }
        )
    })?;
    let name = manifest["metadata"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or("the manifest has no metadata.name")?
        .to_owned();
    if workload == Workload::Service {
        if manifest["spec"]["selector"]
            .as_object()
            .is_none_or(|s| s.is_empty())
        {
            return Err(format!(
                "{kind} {name:?} has no spec.selector: its endpoints are not kept by a controller"
            ));
        }
        if manifest["spec"]["type"] == "ExternalName" {
            return Err(format!(
                "{kind} {name:?} is an ExternalName service: it has no endpoints"
            ));
        }
    } else if workload != Workload::Pod
        && manifest["spec"]["selector"]["matchLabels"].is_null()
        && manifest["spec"]["selector"]["matchExpressions"].is_null()
    {
        return Err(format!("{kind} {name:?} has no spec.selector"));
    }
    let objects = Side::BOTH.map(|side| {
        let mut object = manifest.clone();
        let (api_version, kind) = workload.type_meta(side);
        object["apiVersion"] = json!(api_version);
        object["kind"] = json!(kind);
        let metadata = object["metadata"].as_object_mut().expect("checked above");
        // Server-set fields of an exported object would make the create fail.
        for key in [
            "namespace",
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            metadata.remove(key);
        }
        object.as_object_mut().expect("an object").remove("status");
        let value = json!(side_value(side));
        if workload == Workload::Service {
            // Both select the same pods; what the API server allocated is dropped.
            let spec = object["spec"]
                .as_object_mut()
                .expect("a service has a spec");
            if spec.get("clusterIP").is_some_and(|ip| ip != "None") {
                spec.remove("clusterIP");
            }
            for key in [
                "clusterIPs",
                "ipFamilies",
                "ipFamilyPolicy",
                "healthCheckNodePort",
            ] {
                spec.remove(key);
            }
            for port in spec
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                port.as_object_mut().map(|p| p.remove("nodePort"));
            }
            return object;
        }
        if workload == Workload::Pod {
            object["metadata"]["name"] = json!(pod_name(&name, side));
            object["metadata"]["labels"][SIDE_LABEL] = value;
            let spec = object["spec"].as_object_mut().expect("a pod has a spec");
            // A pod exported from a cluster: bound already, and defaulted by it.
            spec.remove("nodeName");
            match side {
                Side::Builtin => spec.remove("schedulerName"),
                Side::Minik8s => spec.insert("schedulerName".into(), json!(scheduler)),
            };
            return object;
        }
        object["spec"]["selector"]["matchLabels"][SIDE_LABEL] = value.clone();
        object["spec"]["template"]["metadata"]["labels"][SIDE_LABEL] = value;
        object
    });
    let names = match workload {
        Workload::Pod => Side::BOTH.map(|side| pod_name(&name, side)),
        _ => [name.clone(), name.clone()],
    };
    Ok(Twins {
        workload,
        name,
        names,
        objects,
    })
}

fn pod_name(name: &str, side: Side) -> String {
    format!("{name}-{}", side_value(side))
}

/// The core/v1 Service whose Endpoints and EndpointSlices each side keeps: the built-in one
/// itself, and the one the MiniService's controller keeps for it.
pub fn service_of(workload: Workload, name: &str, side: Side) -> Option<String> {
    match (workload, side) {
        (Workload::Service, Side::Builtin) => Some(name.to_owned()),
        (Workload::Service, Side::Minik8s) => Some(
            crate::controllers::endpointslice::service::service_name(name),
        ),
        _ => None,
    }
}

/// The side label's value.
pub fn side_value(side: Side) -> &'static str {
    match side {
        Side::Builtin => "builtin",
        Side::Minik8s => "minik8s",
    }
}

/// The first container's (name, image), for the default rollout.
pub fn first_container(object: &Value) -> Option<(String, String)> {
    let container = &object["spec"]["template"]["spec"]["containers"][0];
    Some((
        container["name"].as_str()?.to_owned(),
        container["image"].as_str()?.to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "old", "uid": "u", "resourceVersion": "9"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
            },
            "status": {"replicas": 3}
        })
    }

    #[test]
    fn twins_differ_in_kind_and_one_label_only() {
        let twins = derive(&deployment(), "minik8s-scheduler").unwrap();
        assert_eq!(twins.workload, Workload::Deployment);
        assert_eq!(twins.name, "web");
        let [builtin, mini] = &twins.objects;
        assert_eq!(builtin["kind"], "Deployment");
        assert_eq!(mini["kind"], "MiniDeployment");
        assert_eq!(mini["apiVersion"], "minik8s.dev/v1alpha1");
        assert_eq!(
            builtin["spec"]["selector"]["matchLabels"],
            json!({"app": "web", SIDE_LABEL: "builtin"})
        );
        assert_eq!(
            mini["spec"]["template"]["metadata"]["labels"],
            json!({"app": "web", SIDE_LABEL: "minik8s"})
        );
        assert_eq!(builtin["metadata"], json!({"name": "web"}));
        assert!(mini.get("status").is_none());
        let mut same = mini.clone();
        same["apiVersion"] = builtin["apiVersion"].clone();
        same["kind"] = builtin["kind"].clone();
        same["spec"]["selector"]["matchLabels"][SIDE_LABEL] = json!("builtin");
        same["spec"]["template"]["metadata"]["labels"][SIDE_LABEL] = json!("builtin");
        assert_eq!(&same, builtin);
        // A Mini manifest gives the same pair.
        assert_eq!(derive(mini, "minik8s-scheduler").unwrap(), twins);
        assert_eq!(
            first_container(builtin),
            Some(("web".into(), "nginx:1.27".into()))
        );
    }

    #[test]
    fn sets_pair_with_mini_sets_and_other_kinds_are_refused() {
        let mut rs = deployment();
        rs["kind"] = json!("MiniReplicaSet");
        let twins = derive(&rs, "minik8s-scheduler").unwrap();
        assert_eq!(twins.workload, Workload::ReplicaSet);
        assert_eq!(twins.objects[0]["kind"], "ReplicaSet");
        let mut pod = deployment();
        pod["kind"] = json!("StatefulSet");
        assert_eq!(
            derive(&pod, "minik8s-scheduler").unwrap_err(),
            "cannot compare a \"StatefulSet\": give a Deployment, ReplicaSet, MiniDeployment, MiniReplicaSet, Pod, Service or MiniService"
        );
        let mut unnamed = deployment();
        unnamed["metadata"] = json!({});
        assert_eq!(
            derive(&unnamed, "minik8s-scheduler").unwrap_err(),
            "the manifest has no metadata.name"
        );
        assert_eq!(
            Workload::of_kind("mdeploy"),
            Some((Workload::Deployment, Side::Minik8s))
        );
    }

    #[test]
    fn a_pod_twins_with_itself_for_the_other_scheduler() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "hello", "labels": {"app": "hello"}},
            "spec": {"schedulerName": "minik8s-scheduler", "nodeName": "n1",
                     "containers": [{"name": "c", "image": "nginx"}]}
        });
        let twins = derive(&pod, "mine").unwrap();
        assert_eq!(twins.workload, Workload::Pod);
        assert_eq!(twins.names, ["hello-builtin", "hello-minik8s"]);
        let [builtin, mini] = &twins.objects;
        assert_eq!(builtin["metadata"]["name"], "hello-builtin");
        assert_eq!(
            builtin["metadata"]["labels"],
            json!({"app": "hello", SIDE_LABEL: "builtin"})
        );
        assert_eq!(
            builtin["spec"],
            json!({"containers": [{"name": "c", "image": "nginx"}]})
        );
        assert_eq!(mini["spec"]["schedulerName"], "mine");
        assert!(mini["spec"].get("nodeName").is_none());
    }

    #[test]
    fn a_service_twins_with_a_miniservice_over_the_same_pods() {
        let service = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.0.0.9", "clusterIPs": ["10.0.0.9"],
                     "type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}
        });
        let twins = derive(&service, "s").unwrap();
        assert_eq!(twins.workload, Workload::Service);
        assert_eq!(twins.names, ["web", "web"]);
        for object in &twins.objects {
            assert_eq!(
                object["spec"],
                json!({"selector": {"app": "web"}, "type": "NodePort", "ports": [{"port": 80}]})
            );
        }
        assert_eq!(twins.objects[1]["kind"], "MiniService");
        assert_eq!(
            service_of(Workload::Service, "web", Side::Minik8s).as_deref(),
            Some("mini-web")
        );
        let mut headless = service.clone();
        headless["spec"]["clusterIP"] = json!("None");
        assert_eq!(
            derive(&headless, "s").unwrap().objects[1]["spec"]["clusterIP"],
            "None"
        );
        let mut bare = service.clone();
        bare["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            derive(&bare, "s").unwrap_err(),
            "Service \"web\" has no spec.selector: its endpoints are not kept by a controller"
        );
    }
}
