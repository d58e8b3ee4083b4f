//! The plugins of kube-scheduler's default profile, one file each (upstream
//! `pkg/scheduler/framework/plugins/*`).
