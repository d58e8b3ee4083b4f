//! Ownership (upstream `ControllerRefManager`): a controller keeps the objects it controls that
//! its selector matches (pods for a MiniReplicaSet, MiniReplicaSets for a MiniDeployment),
//! adopts matching orphans, releases objects whose labels no longer match, and never touches
//! one that another controller owns.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::pod;

/// What a controller does with one pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Controlled by us and selected: ours.
    Keep,
    /// An orphan we select: make it ours.
    Adopt,
    /// Controlled by us but no longer selected: let it go.
    Release,
    /// Someone else's, or not ours to take: leave it alone.
    Ignore,
}

/// The owner as claiming sees it.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    pub uid: &'a str,
    pub namespace: &'a str,
    pub being_deleted: bool,
}

/// Decides what to do with an object, given whether the owner's selector matches its labels.
pub fn decide(object: &ObjectMeta, owner: Owner<'_>, selected: bool) -> Claim {
    match pod::controller_of(object) {
        Some(controller) if controller.uid != owner.uid => Claim::Ignore,
        Some(_) if selected => Claim::Keep,
        Some(_) if owner.being_deleted => Claim::Ignore,
        Some(_) => Claim::Release,
        None if owner.being_deleted
            || !selected
            || object.deletion_timestamp.is_some()
            || object.namespace.as_deref().unwrap_or_default() != owner.namespace =>
        {
            Claim::Ignore
        }
        None => Claim::Adopt,
    }
}

/// The patch that adopts an object; its uid is a precondition, so an object deleted and
/// recreated under the same name is not adopted by mistake.
pub fn adopt_patch(uid: &str, controller_ref: &OwnerReference) -> Value {
    json!({"metadata": {"ownerReferences": [controller_ref], "uid": uid}})
}

/// The strategic-merge patch that removes our owner reference, with the same precondition.
pub fn release_patch(uid: &str, owner_uid: &str) -> Value {
    json!({"metadata": {"uid": uid, "ownerReferences": [{"$patch": "delete", "uid": owner_uid}]}})
}

/// Adopts `object`. Ok(false) when it is gone.
pub async fn adopt<K>(
    api: &Api<K>,
    object: &K,
    controller_ref: &OwnerReference,
) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let mut patch = adopt_patch(
        object.meta().uid.as_deref().unwrap_or_default(),
        controller_ref,
    );
    let patch = if is_builtin::<K>() {
        Patch::Strategic(patch)
    } else {
        // JSON merge replaces the whole list: keep the references that are there.
        let mut references = object.owner_references().to_vec();
        references.push(controller_ref.clone());
        patch["metadata"]["ownerReferences"] = json!(references);
        patch["metadata"]["resourceVersion"] = json!(object.resource_version());
        Patch::Merge(patch)
    };
    match api
        .patch(&object.name_any(), &PatchParams::default(), &patch)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_status(&e, 404) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Releases `object`. One that is gone (404) or changed meanwhile (409, 422) needs nothing
/// more: the next sync sees its new state.
pub async fn release<K>(api: &Api<K>, object: &K, owner_uid: &str) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let uid = object.meta().uid.as_deref().unwrap_or_default();
    let patch = if is_builtin::<K>() {
        Patch::Strategic(release_patch(uid, owner_uid))
    } else {
        let kept: Vec<&OwnerReference> = object
            .owner_references()
            .iter()
            .filter(|r| r.uid != owner_uid)
            .collect();
        Patch::Merge(json!({"metadata": {
            "uid": uid, "ownerReferences": kept, "resourceVersion": object.resource_version()
        }}))
    };
    match api
        .patch(&object.name_any(), &PatchParams::default(), &patch)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 404) || is_status(&e, 409) || is_status(&e, 422) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Built-in kinds take strategic merge patches (as upstream sends); custom resources only
/// JSON merge patches, guarded by the resourceVersion.
fn is_builtin<K: Resource<DynamicType = ()>>() -> bool {
    K::group(&()).is_empty()
}

/// True when `error` is an API answer with this HTTP status code.
pub fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

#[cfg(test)]
mod tests {
    use crate::controllers::cached_pod::CachedPod;

    use super::*;

    fn pod(controller_uid: Option<&str>, deleting: bool) -> CachedPod {
        serde_json::from_value(json!({
            "metadata": {
                "name": "p", "namespace": "ns", "uid": "pod-uid",
                "deletionTimestamp": if deleting { json!("2026-01-01T00:00:00Z") } else { Value::Null },
                "ownerReferences": controller_uid.map(|uid| json!([{
                    "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
                    "name": "rs", "uid": uid, "controller": true
                }])).unwrap_or(Value::Null)
            }
        }))
        .unwrap()
    }

    const US: Owner<'static> = Owner {
        uid: "us",
        namespace: "ns",
        being_deleted: false,
    };
    const US_DELETING: Owner<'static> = Owner {
        uid: "us",
        namespace: "ns",
        being_deleted: true,
    };

    #[test]
    fn claim_table() {
        let cases = [
            // (pod controller, pod deleting, owner, selected) -> decision
            (Some("other"), false, US, true, Claim::Ignore),
            (Some("other"), false, US, false, Claim::Ignore),
            (Some("us"), false, US, true, Claim::Keep),
            (Some("us"), false, US_DELETING, true, Claim::Keep),
            (Some("us"), false, US, false, Claim::Release),
            (Some("us"), false, US_DELETING, false, Claim::Ignore),
            (None, false, US, true, Claim::Adopt),
            (None, false, US, false, Claim::Ignore),
            (None, false, US_DELETING, true, Claim::Ignore),
            (None, true, US, true, Claim::Ignore),
        ];
        for (controller, deleting, owner, selected, expected) in cases {
            let decision = decide(&pod(controller, deleting).metadata, owner, selected);
            assert_eq!(
                decision, expected,
                "{controller:?} deleting={deleting} {owner:?} selected={selected}"
            );
        }
    }

    #[test]
    fn orphans_in_other_namespaces_are_ignored() {
        let owner = Owner {
            uid: "us",
            namespace: "elsewhere",
            being_deleted: false,
        };
        assert_eq!(
            decide(&pod(None, false).metadata, owner, true),
            Claim::Ignore
        );
    }

    #[test]
    fn patches_carry_the_pod_uid_as_precondition() {
        let controller_ref = OwnerReference {
            api_version: "minik8s.dev/v1alpha1".into(),
            kind: "MiniReplicaSet".into(),
            name: "rs".into(),
            uid: "us".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        assert_eq!(
            adopt_patch("pod-uid", &controller_ref),
            json!({"metadata": {"uid": "pod-uid", "ownerReferences": [{
                "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet", "name": "rs",
                "uid": "us", "controller": true, "blockOwnerDeletion": true
            }]}})
        );
        assert_eq!(
            release_patch("pod-uid", "us"),
            json!({"metadata": {"uid": "pod-uid", "ownerReferences": [{"$patch": "delete", "uid": "us"}]}})
        );
    }
}
