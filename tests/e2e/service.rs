//! A MiniService over a MiniDeployment, next to a Service over its built-in twin: the
//! MiniEndpoints list the same kind of addresses as the Endpoints, and the MiniService's own
//! selector-less Service (`mini-<name>`) gets a cluster IP and EndpointSlices of the pods, so
//! kube-proxy and CoreDNS route to them (`kubectl run curl --rm -it --image=curlimages/curl --
//! curl http://mini-web.NAMESPACE` on kind).

use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{ListParams, PostParams};
use minik8s::api::{MiniDeployment, MiniEndpoints, MiniService};
use serde_json::{Value, json};

use crate::support::{Namespace, TIMEOUT, eventually, ok, run};

fn deployment(name: &str, app: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{
                    "name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                    "args": ["netexec", "--http-port=8080"],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 2}
                }]}
            }
        }
    })
}

fn service(name: &str, app: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    })
}

fn twin(mut builtin: Value, kind: &str) -> Value {
    builtin["apiVersion"] = json!("minik8s.dev/v1alpha1");
    builtin["kind"] = json!(kind);
    builtin
}

/// Ready addresses in a list of subsets, as (ip, port) pairs, sorted.
fn ready_addresses(subsets: &Value) -> Vec<(String, i64)> {
    let mut found = Vec::new();
    for subset in subsets.as_array().into_iter().flatten() {
        for address in subset["addresses"].as_array().into_iter().flatten() {
            for port in subset["ports"].as_array().into_iter().flatten() {
                found.push((
                    address["ip"].as_str().unwrap_or_default().to_owned(),
                    port["port"].as_i64().unwrap_or_default(),
                ));
            }
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miniservice_serves_its_pods_as_a_service_serves_its_twins() {
    let ns = Namespace::new("service").await;
    let post = PostParams::default();
    ns.api::<k8s_openapi::api::apps::v1::Deployment>()
        .create(
            &post,
            &serde_json::from_value(deployment("web-builtin", "web-builtin")).unwrap(),
        )
        .await
        .unwrap();
    ns.api::<Service>()
        .create(
            &post,
            &serde_json::from_value(service("web", "web-builtin")).unwrap(),
        )
        .await
        .unwrap();
    ns.api::<MiniDeployment>()
        .create(
            &post,
            &serde_json::from_value(twin(deployment("web", "web"), "MiniDeployment")).unwrap(),
        )
        .await
        .unwrap();
    ns.api::<MiniService>()
        .create(
            &post,
            &serde_json::from_value(twin(service("web", "web"), "MiniService")).unwrap(),
        )
        .await
        .unwrap();

    let get = |resource: &str| -> Value {
        serde_json::from_str(&ok(run(ns.kubectl(&["get", resource, "-o", "json"])))).unwrap()
    };
    eventually(TIMEOUT, "three ready addresses on both sides", || async {
        let builtin = ns.api::<Endpoints>().get_opt("web").await.unwrap();
        let mini = ns.api::<MiniEndpoints>().get_opt("web").await.unwrap();
        let count = |v: Value| ready_addresses(&v["subsets"]).len();
        builtin.is_some_and(|e| count(serde_json::to_value(e).unwrap()) == 3)
            && mini.is_some_and(|e| count(serde_json::to_value(e).unwrap()) == 3)
    })
    .await;
    // Same shape: port 8080 (the named targetPort resolved), addresses with a targetRef.
    let builtin = get("endpoints/web");
    let mini = get("miniendpoints/web");
    let ports = |v: &Value| -> Vec<i64> {
        ready_addresses(&v["subsets"])
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    };
    assert_eq!(ports(&builtin), ports(&mini));
    assert_eq!(ports(&mini), [8080, 8080, 8080]);

    // The MiniService's Service and its slices.
    eventually(
        TIMEOUT,
        "the Service mini-web with a cluster IP",
        || async {
            let status = ns.api::<MiniService>().get("web").await.unwrap().status;
            status.is_some_and(|s| s.cluster_ip.is_some())
        },
    )
    .await;
    let backing = ns.api::<Service>().get("mini-web").await.unwrap();
    let cluster_ip = backing
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.clone())
        .unwrap();
    let status = get("miniservice/web")["status"].clone();
    assert_eq!(status["clusterIP"], cluster_ip.as_str(), "{status}");
    let columns = ok(run(ns.kubectl(&["get", "msvc", "web", "--no-headers"])));
    assert!(
        columns.contains(&cluster_ip) && columns.contains("ClusterIP"),
        "{columns}"
    );
    eventually(
        TIMEOUT,
        "slices of mini-web with the three pods",
        || async {
            let slices = ns
                .api::<EndpointSlice>()
                .list(&ListParams::default().labels("kubernetes.io/service-name=mini-web"))
                .await
                .unwrap();
            let ready = slices
                .items
                .iter()
                .flat_map(|s| s.endpoints.iter().flatten())
                .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
                .count();
            ready == 3
                && slices.items.iter().all(|s| {
                    s.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("endpointslice.kubernetes.io/managed-by"))
                        .map(String::as_str)
                        == Some(minik8s::controllers::endpointslice::MANAGED_BY)
                })
        },
    )
    .await;
    ns.delete().await;
}
