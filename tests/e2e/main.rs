//! The end-to-end suite: minik8s as a user meets it once installed. It talks only to the API
//! server of `KUBECONFIG` (kubectl, helm, the minik8s CLI, a Kubernetes client) and never starts
//! controllers itself: the chart's controller-manager and minik8s-scheduler must be running,
//! in the cluster (`make e2e-kind`) or as local processes with the chart's service accounts
//! (`make e2e`, on the local control plane). `MINIK8S_E2E_RELEASE` and
//! `MINIK8S_E2E_RELEASE_NAMESPACE` name the Helm release.

mod bootcamp;
mod helm_test;
#[path = "../shared/kubelet.rs"]
mod kubelet;
mod scheduler;
mod service;
mod support;
