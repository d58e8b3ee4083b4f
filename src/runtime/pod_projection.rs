//! A type of a process's own that holds part of a pod (the controller manager's `CachedPod`,
//! the scheduler's `Pod`) is read from the API as a `v1` `Pod`: the same kind, group, version
//! and path, and the same metadata. This makes it one for kube's `Api`, watcher and the
//! informer.

/// Implements `k8s_openapi::Resource` and `Metadata` for `$projection`, a struct with a
/// `metadata: ObjectMeta` field, as those of `v1` `Pod`.
macro_rules! pod_projection {
    ($projection:ty) => {
        impl k8s_openapi::Resource for $projection {
            const API_VERSION: &'static str =
                <k8s_openapi::api::core::v1::Pod as k8s_openapi::Resource>::API_VERSION;
            const GROUP: &'static str =
                <k8s_openapi::api::core::v1::Pod as k8s_openapi::Resource>::GROUP;
            const KIND: &'static str =
                <k8s_openapi::api::core::v1::Pod as k8s_openapi::Resource>::KIND;
            const VERSION: &'static str =
                <k8s_openapi::api::core::v1::Pod as k8s_openapi::Resource>::VERSION;
            const URL_PATH_SEGMENT: &'static str =
                <k8s_openapi::api::core::v1::Pod as k8s_openapi::Resource>::URL_PATH_SEGMENT;
            type Scope = <k8s_openapi::api::core::v1::Pod as k8s_openapi::Resource>::Scope;
        }

        impl k8s_openapi::Metadata for $projection {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }
    };
}

pub(crate) use pod_projection;
