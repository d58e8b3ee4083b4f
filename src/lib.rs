//! minik8s: Kubernetes' Deployment, ReplicaSet and Endpoints controllers and a scheduler,
//! reimplemented as custom resources with their own controllers.

pub mod api;
pub mod cli;
pub mod compare;
pub mod controllers;
pub mod manager;
pub mod runtime;
pub mod scheduler;

#[cfg(test)]
mod property_tests;
