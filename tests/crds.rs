//! The CRDs checked in under `crds/` are exactly what the Rust types generate.

use std::collections::BTreeSet;
use std::path::Path;

use minik8s::api::crd;

#[test]
fn checked_in_crds_match_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    for generated in crd::all() {
        let path = dir.join(crd::file_name(&generated));
        let on_disk = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}; run `make crds`", path.display()));
        assert!(
            on_disk == crd::to_yaml(&generated),
            "{} differs from what the Rust types generate; run `make crds` and commit the result",
            path.display()
        );
    }
}

#[test]
fn the_helm_chart_carries_the_same_crds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for generated in crd::all() {
        let name = crd::file_name(&generated);
        let chart_copy =
            std::fs::read_to_string(root.join("charts/minik8s/files/crds").join(&name))
                .unwrap_or_else(|e| {
                    panic!("charts/minik8s/files/crds/{name}: {e}; run `make crds`")
                });
        assert!(
            chart_copy == crd::to_yaml(&generated),
            "charts/minik8s/files/crds/{name} has drifted; run `make crds`"
        );
    }
    let files = std::fs::read_dir(root.join("charts/minik8s/files/crds"))
        .unwrap()
        .count();
    assert_eq!(
        files,
        crd::all().len(),
        "charts/minik8s/files/crds/ has stale files; run `make crds`"
    );
}

#[test]
fn crds_directory_holds_nothing_else() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let expected: BTreeSet<String> = crd::all().iter().map(crd::file_name).collect();
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("crds/ exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        present, expected,
        "crds/ has stale or missing files; run `make crds`"
    );
}
