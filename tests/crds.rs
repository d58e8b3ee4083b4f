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
