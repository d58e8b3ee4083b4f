//! Invariants over a MiniService's EndpointSlices, checked at every slice event while faults
//! run: no slice holds more endpoints than the controller's limit, none lists an address
//! twice, and every endpoint names a pod that really had that address. The last is checked
//! against a pod watch of its own; a slice event can overtake the pod event it follows, so an
//! endpoint whose pod has not been seen yet waits, and only one still unexplained when the
//! scenario ends is a breach.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher;
use minik8s::controllers::endpointslice::MANAGED_BY;

use crate::common::TestNamespace;

#[derive(Debug, Default, Clone)]
pub struct SlicesSeen {
    pub events: u64,
    pub most_slices: usize,
    pub most_in_a_slice: usize,
    pub violations: Vec<String>,
    /// (pod, address) pairs listed before the pod was seen with that address.
    unexplained: BTreeSet<(String, String)>,
}

impl SlicesSeen {
    /// Every breach, counting the endpoints that no pod ever explained.
    pub fn breaches(&self) -> Vec<String> {
        let mut all = self.violations.clone();
        all.extend(
            self.unexplained
                .iter()
                .map(|(pod, ip)| format!("endpoint {ip} names pod {pod}, which never had it")),
        );
        all
    }
}

enum Watched {
    Pod(Box<watcher::Event<Pod>>),
    Slice(Box<watcher::Event<EndpointSlice>>),
}

pub struct SliceInvariants {
    seen: Arc<Mutex<SlicesSeen>>,
    task: tokio::task::JoinHandle<()>,
}

impl SliceInvariants {
    /// Watches the slices minik8s keeps for Service `service` and the pods labelled
    /// `app=<app>`; returns once both initial lists are in.
    pub async fn watch(
        ns: &TestNamespace,
        service: &str,
        app: &str,
        most_per_slice: usize,
    ) -> Self {
        let slice_labels = format!(
            "kubernetes.io/service-name={service},endpointslice.kubernetes.io/managed-by={MANAGED_BY}"
        );
        let pods = watcher::watcher(
            ns.api::<Pod>(),
            watcher::Config::default().labels(&format!("app={app}")),
        )
        .map(|e| e.map(|e| Watched::Pod(Box::new(e))));
        let slices = watcher::watcher(
            ns.api::<EndpointSlice>(),
            watcher::Config::default().labels(&slice_labels),
        )
        .map(|e| e.map(|e| Watched::Slice(Box::new(e))));
        let seen = Arc::new(Mutex::new(SlicesSeen::default()));
        let shared = seen.clone();
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready);
            let mut lists_in = 0;
            // Every (pod, address) ever seen on a pod: an endpoint may lag its pod's exit.
            let mut had: HashSet<(String, String)> = HashSet::new();
            // Slice name → its endpoints as (pod, address), as last seen.
            let mut current: HashMap<String, Vec<(String, String)>> = HashMap::new();
            let mut events = futures::stream::select(pods.boxed(), slices.boxed());
            while let Some(event) = events.next().await {
                let Ok(event) = event else { continue };
                let mut seen = shared.lock().unwrap();
                match event {
                    Watched::Pod(event) => match *event {
                        watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                            let name = pod.metadata.name.clone().unwrap_or_default();
                            for ip in pod_ips(&pod) {
                                seen.unexplained.remove(&(name.clone(), ip.clone()));
                                had.insert((name.clone(), ip));
                            }
                        }
                        watcher::Event::InitDone => lists_in += 1,
                        watcher::Event::Init | watcher::Event::Delete(_) => {}
                    },
                    Watched::Slice(event) => {
                        seen.events += 1;
                        match *event {
                            watcher::Event::Apply(slice) | watcher::Event::InitApply(slice) => {
                                let name = slice.metadata.name.clone().unwrap_or_default();
                                let listed = check_slice(&mut seen, &slice, most_per_slice);
                                for pair in &listed {
                                    if !had.contains(pair) {
                                        seen.unexplained.insert(pair.clone());
                                    }
                                }
                                current.insert(name, listed);
                            }
                            watcher::Event::Delete(slice) => {
                                current.remove(slice.metadata.name.as_deref().unwrap_or_default());
                            }
                            watcher::Event::InitDone => lists_in += 1,
                            watcher::Event::Init => current.clear(),
                        }
                        seen.most_slices = seen.most_slices.max(current.len());
                    }
                }
                if lists_in == 2
                    && let Some(ready) = ready.take()
                {
                    let _ = ready.send(());
                }
            }
        });
        let _ = is_ready.await;
        Self { seen, task }
    }

    pub fn seen(&self) -> SlicesSeen {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for SliceInvariants {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks one slice as written; returns its endpoints as (pod, address).
fn check_slice(
    seen: &mut SlicesSeen,
    slice: &EndpointSlice,
    most_per_slice: usize,
) -> Vec<(String, String)> {
    let name = slice.metadata.name.as_deref().unwrap_or_default();
    let endpoints = slice.endpoints.as_deref().unwrap_or_default();
    seen.most_in_a_slice = seen.most_in_a_slice.max(endpoints.len());
    if endpoints.len() > most_per_slice {
        seen.violations.push(format!(
            "slice {name} holds {} endpoints, more than {most_per_slice}",
            endpoints.len()
        ));
    }
    let mut listed = Vec::new();
    let mut addresses = HashSet::new();
    for endpoint in endpoints {
        let pod = endpoint
            .target_ref
            .as_ref()
            .filter(|t| t.kind.as_deref() == Some("Pod"))
            .and_then(|t| t.name.clone());
        let Some(pod) = pod else {
            seen.violations
                .push(format!("slice {name}: an endpoint without a pod"));
            continue;
        };
        for ip in &endpoint.addresses {
            if !addresses.insert(ip.clone()) {
                seen.violations
                    .push(format!("slice {name} lists {ip} twice"));
            }
            listed.push((pod.clone(), ip.clone()));
        }
    }
    listed
}

fn pod_ips(pod: &Pod) -> Vec<String> {
    let status = pod.status.as_ref();
    let mut ips: Vec<String> = status
        .and_then(|s| s.pod_ips.as_ref())
        .into_iter()
        .flatten()
        .map(|ip| ip.ip.clone())
        .collect();
    ips.extend(status.and_then(|s| s.pod_ip.clone()));
    ips
}

/// The slices of `service` list exactly the active pods, each once, all ready, at most
/// `most_per_slice` to a slice.
pub async fn slices_match_pods(
    ns: &TestNamespace,
    service: &str,
    app: &str,
    most_per_slice: usize,
) -> bool {
    let slices = crate::endpointslices::slices(ns, service, MANAGED_BY).await;
    let mut listed: Vec<(String, String)> = Vec::new();
    for slice in &slices {
        let endpoints = slice.endpoints.as_deref().unwrap_or_default();
        if endpoints.len() > most_per_slice {
            return false;
        }
        for e in endpoints {
            let ready = e.conditions.as_ref().and_then(|c| c.ready) == Some(true);
            let pod = e.target_ref.as_ref().and_then(|t| t.name.clone());
            match (ready, pod, e.addresses.first()) {
                (true, Some(pod), Some(ip)) => listed.push((pod, ip.clone())),
                _ => return false,
            }
        }
    }
    let mut pods: Vec<(String, String)> = super::active_pods(ns, app)
        .await
        .iter()
        .filter_map(|p| Some((p.metadata.name.clone()?, p.status.as_ref()?.pod_ip.clone()?)))
        .collect();
    listed.sort();
    pods.sort();
    listed == pods
}

/// What a scenario waiting for its pods to be served sees, for its failure message: the
/// MiniDeployment's status, each active pod, the MiniEndpoints' addresses and each slice's
/// endpoints (pod, address, ready/serving/terminating).
pub async fn serving_state(ns: &TestNamespace, name: &str, service: &str) -> String {
    use minik8s::api::{MiniDeployment, MiniEndpoints};
    let status = match ns.api::<MiniDeployment>().get(name).await {
        Ok(d) => format!(
            "generation {:?}, status {}",
            d.metadata.generation,
            serde_json::to_string(&d.status).unwrap_or_default()
        ),
        Err(error) => format!("unreadable: {error}"),
    };
    let pods: Vec<String> = super::active_pods(ns, name)
        .await
        .iter()
        .map(|p| {
            let spec = p.spec.as_ref();
            format!(
                "{} image={:?} node={:?} ready={} ip={:?}",
                p.metadata.name.as_deref().unwrap_or_default(),
                spec.and_then(|s| s.containers[0].image.as_deref()),
                spec.and_then(|s| s.node_name.as_deref()),
                super::is_ready(p),
                p.status.as_ref().and_then(|s| s.pod_ip.as_deref()),
            )
        })
        .collect();
    let endpoints = match ns.api::<MiniEndpoints>().get_opt(name).await {
        Ok(Some(e)) => serde_json::to_string(&e.subsets).unwrap_or_default(),
        Ok(None) => "none".into(),
        Err(error) => format!("unreadable: {error}"),
    };
    let slices: Vec<String> = crate::endpointslices::slices(ns, service, MANAGED_BY)
        .await
        .iter()
        .map(|slice| {
            let endpoints: Vec<String> = slice
                .endpoints
                .iter()
                .flatten()
                .map(|e| {
                    let c = e.conditions.clone().unwrap_or_default();
                    format!(
                        "{}/{} r={:?} s={:?} t={:?}",
                        e.target_ref
                            .as_ref()
                            .and_then(|t| t.name.as_deref())
                            .unwrap_or("-"),
                        e.addresses.join(","),
                        c.ready,
                        c.serving,
                        c.terminating
                    )
                })
                .collect();
            format!(
                "{} (rv {}): {endpoints:?}",
                slice.metadata.name.as_deref().unwrap_or_default(),
                slice
                    .metadata
                    .resource_version
                    .as_deref()
                    .unwrap_or_default()
            )
        })
        .collect();
    format!(
        "MiniDeployment {name}: {status}\nactive pods ({}):\n  {}\nMiniEndpoints: {endpoints}\nslices:\n  {}",
        pods.len(),
        pods.join("\n  "),
        slices.join("\n  ")
    )
}
