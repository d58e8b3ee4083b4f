//! Which cluster the process talks to: kubectl's `--kubeconfig` and `--context`, given once on
//! the command line and read by every client the process builds. Without either, kube's own
//! inference: in-cluster when running in a pod, else `$KUBECONFIG` or `~/.kube/config`, as
//! kubectl does.

use std::path::PathBuf;
use std::sync::OnceLock;

use kube::Config;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// kubectl's `--kubeconfig` and `--context`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

static SELECTED: OnceLock<Selection> = OnceLock::new();

/// Sets the process's selection; the first call wins (the command line is read once).
pub fn select(selection: Selection) {
    let _ = SELECTED.set(selection);
}

/// The client configuration for the selected cluster.
pub async fn config() -> Result<Config, kube::Error> {
    let selection = SELECTED.get().cloned().unwrap_or_default();
    config_for(&selection).await
}

pub async fn config_for(selection: &Selection) -> Result<Config, kube::Error> {
    let options = KubeConfigOptions {
        context: selection.context.clone(),
        ..KubeConfigOptions::default()
    };
    match &selection.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(kube::Error::InferKubeconfig)?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(kube::Error::InferKubeconfig)
        }
        None if selection.context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(kube::Error::InferKubeconfig),
        None => Config::infer().await.map_err(kube::Error::InferConfig),
    }
}

/// A client for the selected cluster, for the commands a person runs.
pub async fn client() -> Result<kube::Client, String> {
    let config = config().await.map_err(|e| {
        format!("cannot reach the API server ({e}); set KUBECONFIG or pass --kubeconfig")
    })?;
    kube::Client::try_from(config).map_err(|e| format!("cannot reach the API server ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_CONTEXTS: &str = r#"
apiVersion: v1
kind: Config
current-context: first
clusters:
- name: a
  cluster: {server: "https://a.example:6443"}
- name: b
  cluster: {server: "https://b.example:6443"}
users:
- name: someone
  user: {token: "t"}
contexts:
- name: first
  context: {cluster: a, user: someone, namespace: team-a}
- name: second
  context: {cluster: b, user: someone, namespace: team-b}
"#;

    #[tokio::test]
    async fn the_kubeconfig_and_context_flags_choose_the_cluster_and_namespace() {
        let path = std::env::temp_dir().join(format!("minik8s-kubeconfig-{}", std::process::id()));
        std::fs::write(&path, TWO_CONTEXTS).unwrap();
        let chosen = |context: Option<&str>| {
            let selection = Selection {
                kubeconfig: Some(path.clone()),
                context: context.map(str::to_owned),
            };
            async move { config_for(&selection).await }
        };
        let current = chosen(None).await.unwrap();
        assert_eq!(current.cluster_url.to_string(), "https://a.example:6443/");
        assert_eq!(current.default_namespace, "team-a");
        let second = chosen(Some("second")).await.unwrap();
        assert_eq!(second.cluster_url.to_string(), "https://b.example:6443/");
        assert_eq!(second.default_namespace, "team-b");
        assert!(chosen(Some("third")).await.is_err());
        let _ = std::fs::remove_file(&path);
    }
}
