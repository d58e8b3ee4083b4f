//! `minik8s crd`: the CRDs as YAML, for `kubectl apply --server-side -f -` or for `crds/`.

use std::path::PathBuf;

use clap::Args;

use crate::api::crd;

#[derive(Args, Debug)]
pub struct CrdArgs {
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

pub fn run(args: CrdArgs) -> super::Result {
    let crds = crd::all();
    match args.output_dir {
        None => {
            let docs: Vec<String> = crds.iter().map(crd::to_yaml).collect();
            print!("---\n{}", docs.join("---\n"));
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            for crd in &crds {
                let path = dir.join(crd::file_name(crd));
                std::fs::write(&path, crd::to_yaml(crd))
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
}
