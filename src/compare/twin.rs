//! A manifest and its twin: the same object as a built-in kind and as its minik8s kind. Only
//! `apiVersion` and `kind` change, plus one label on the selector and the pod template
//! (`minik8s.dev/compare: builtin|minik8s`), so that the two sets of pods never overlap.

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
}

impl Workload {
    /// (apiVersion, kind) of the top object on `side`.
    pub fn type_meta(self, side: Side) -> (&'static str, &'static str) {
        match (self, side) {
            (Workload::Deployment, Side::Builtin) => ("apps/v1", "Deployment"),
            (Workload::Deployment, Side::Minik8s) => ("minik8s.dev/v1alpha1", "MiniDeployment"),
            (Workload::ReplicaSet, Side::Builtin) => ("apps/v1", "ReplicaSet"),
            (Workload::ReplicaSet, Side::Minik8s) => ("minik8s.dev/v1alpha1", "MiniReplicaSet"),
        }
    }

    /// The kind of the sets a top object owns (for a set: itself).
    pub fn set_kind(self, side: Side) -> &'static str {
        Workload::ReplicaSet.type_meta(side).1
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
    pub name: String,
    /// Indexed by [`Side::index`].
    pub objects: [Value; 2],
}

/// Derives both twins from a manifest of either kind. The name stays: the two kinds live side
/// by side in one namespace, and the side label makes their sets' names differ too (the
/// template hash covers the labels).
pub fn derive(manifest: &Value) -> Result<Twins, String> {
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let (workload, _) = Workload::of_kind(kind).ok_or_else(|| {
        format!(
            "cannot compare a {:?}: give a Deployment, ReplicaSet, MiniDeployment or MiniReplicaSet",
            if kind.is_empty() { "manifest without a kind" } else { kind }
        )
    })?;
    let name = manifest["metadata"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or("the manifest has no metadata.name")?
        .to_owned();
    if manifest["spec"]["selector"]["matchLabels"].is_null()
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
        object["spec"]["selector"]["matchLabels"][SIDE_LABEL] = value.clone();
        object["spec"]["template"]["metadata"]["labels"][SIDE_LABEL] = value;
        object
    });
    Ok(Twins {
        workload,
        name,
        objects,
    })
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
        let twins = derive(&deployment()).unwrap();
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
        assert_eq!(derive(mini).unwrap(), twins);
        assert_eq!(
            first_container(builtin),
            Some(("web".into(), "nginx:1.27".into()))
        );
    }

    #[test]
    fn sets_pair_with_mini_sets_and_other_kinds_are_refused() {
        let mut rs = deployment();
        rs["kind"] = json!("MiniReplicaSet");
        let twins = derive(&rs).unwrap();
        assert_eq!(twins.workload, Workload::ReplicaSet);
        assert_eq!(twins.objects[0]["kind"], "ReplicaSet");
        let mut pod = deployment();
        pod["kind"] = json!("StatefulSet");
        assert_eq!(
            derive(&pod).unwrap_err(),
            "cannot compare a \"StatefulSet\": give a Deployment, ReplicaSet, MiniDeployment or MiniReplicaSet"
        );
        let mut unnamed = deployment();
        unnamed["metadata"] = json!({});
        assert_eq!(
            derive(&unnamed).unwrap_err(),
            "the manifest has no metadata.name"
        );
        assert_eq!(
            Workload::of_kind("mdeploy"),
            Some((Workload::Deployment, Side::Minik8s))
        );
    }
}
