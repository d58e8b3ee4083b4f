//! `minik8s version`: what `kubectl version` prints, plus the version of the minik8s
//! controllers and scheduler running in the cluster, read from the Deployments the chart
//! makes (labelled `app.kubernetes.io/part-of=minik8s`, told apart by
//! `app.kubernetes.io/component`, so that a release with a name override is found too): the
//! tag of the image each runs.

use clap::{Args, ValueEnum};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde::Serialize;

/// The label every object of the chart carries.
const PART_OF: &str = "app.kubernetes.io/part-of=minik8s";

/// The name printed for each `app.kubernetes.io/component` of the chart's Deployments.
fn display_name(component: &str) -> String {
    match component {
        "controller-manager" => "minik8s".to_owned(),
        other => format!("minik8s-{other}"),
    }
}

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Print the client version only (no cluster needed).
    #[arg(long)]
    pub client: bool,
    /// Output format (default: text, as kubectl's).
    #[arg(short, long, value_enum)]
    pub output: Option<Format>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Json,
    Yaml,
}

#[derive(Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Versions {
    pub client_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// One entry per Deployment of a minik8s component found in the cluster.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct Component {
    pub name: String,
    /// `namespace/name` of its Deployment.
    pub deployment: String,
    pub image: String,
    /// The image's tag, `v`-prefixed as kubectl prints versions.
    pub version: String,
}

pub async fn run(args: VersionArgs) -> super::Result {
    let mut versions = Versions {
        client_version: format!("v{}", env!("CARGO_PKG_VERSION")),
        ..Versions::default()
    };
    if !args.client {
        let client = crate::runtime::kubeconfig::client().await?;
        versions.server_version = Some(client.apiserver_version().await?.git_version);
        let deployments: Api<Deployment> = Api::all(client);
        let found = deployments
            .list(&ListParams::default().labels(PART_OF))
            .await?;
        versions.components = components(&found.items);
    }
    match args.output {
        Some(Format::Json) => println!("{}", serde_json::to_string_pretty(&versions)?),
        Some(Format::Yaml) => print!("{}", serde_norway::to_string(&versions)?),
        None => print!("{}", text(&versions)),
    }
    Ok(())
}

/// Each Deployment's component, image and version, sorted by component then place.
pub fn components(deployments: &[Deployment]) -> Vec<Component> {
    let mut found: Vec<Component> = deployments
        .iter()
        .filter_map(|d| {
            let name = display_name(d.labels().get("app.kubernetes.io/component")?);
            let spec = d.spec.template.spec.as_ref()?;
            let image = spec.containers.first()?.image.clone()?;
            Some(Component {
                version: image_version(&image),
                deployment: format!("{}/{}", d.namespace().unwrap_or_default(), d.name_any()),
                name,
                image,
            })
        })
        .collect();
    found.sort_by(|a, b| (&a.name, &a.deployment).cmp(&(&b.name, &b.deployment)));
    found
}

/// The version an image reference names: its tag, else its digest, else `unknown`.
fn image_version(image: &str) -> String {
    if let Some((_, digest)) = image.split_once('@') {
        return digest.to_owned();
    }
    // A tag follows the last `:` after the last `/` (a registry's port comes before it).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) if tag.starts_with('v') => tag.to_owned(),
        Some((_, tag)) => format!("v{tag}"),
        None => "unknown (no tag)".to_owned(),
    }
}

/// kubectl's text, one `… Version:` line each.
pub fn text(versions: &Versions) -> String {
    let mut out = format!("Client Version: {}\n", versions.client_version);
    if let Some(server) = &versions.server_version {
        out.push_str(&format!("Server Version: {server}\n"));
        if versions.components.is_empty() {
            out.push_str(
                "minik8s: no Deployment labelled app.kubernetes.io/part-of=minik8s in the cluster \
                 (install the chart, or run the controllers locally)\n",
            );
        }
    }
    for c in &versions.components {
        out.push_str(&format!(
            "{} Version: {} (deployment {}, image {})\n",
            c.name, c.version, c.deployment, c.image
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(namespace: &str, name: &str, component: &str, image: &str) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/part-of": "minik8s",
                                    "app.kubernetes.io/component": component}},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "m", "image": image}]}}}
        }))
        .unwrap()
    }

    #[test]
    fn image_tags_are_versions() {
        assert_eq!(image_version("minik8s:0.1.0"), "v0.1.0");
        assert_eq!(image_version("registry:5000/team/minik8s:v0.2.0"), "v0.2.0");
        assert_eq!(image_version("minik8s@sha256:abc"), "sha256:abc");
        assert_eq!(image_version("registry:5000/minik8s"), "unknown (no tag)");
    }

    #[test]
    fn the_text_names_each_component_and_where_it_runs() {
        let found = components(&[
            deployment("ops", "minik8s-scheduler", "scheduler", "minik8s:0.1.0"),
            deployment(
                "ops",
                "minik8s",
                "controller-manager",
                "localhost/minik8s:0.1.0",
            ),
        ]);
        let versions = Versions {
            client_version: "v0.1.0".into(),
            server_version: Some("v1.36.3".into()),
            components: found,
        };
        assert_eq!(
            text(&versions),
            "Client Version: v0.1.0\nServer Version: v1.36.3\n\
             minik8s Version: v0.1.0 (deployment ops/minik8s, image localhost/minik8s:0.1.0)\n\
             minik8s-scheduler Version: v0.1.0 (deployment ops/minik8s-scheduler, image minik8s:0.1.0)\n"
        );
        let none = Versions {
            components: vec![],
            ..versions
        };
        assert!(text(&none).ends_with("or run the controllers locally)\n"));
    }
}
