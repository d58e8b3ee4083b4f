//! Restarting one process of the local control plane (kwokctl's binary runtime keeps each
//! component's pid under `<cluster>/pids/`): it is stopped as systemd would (SIGTERM, then
//! waited for) and started again with the same command line, working directory and log.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct ControlPlaneProcess {
    component: String,
    pid_file: PathBuf,
    log: PathBuf,
}

impl ControlPlaneProcess {
    /// `component` (`kube-apiserver`, `etcd`) of the cluster KUBECONFIG points at.
    pub fn of(component: &str) -> Self {
        let kubeconfig = PathBuf::from(std::env::var_os("KUBECONFIG").expect("KUBECONFIG is set"));
        let cluster = kubeconfig.parent().unwrap().to_owned();
        let pid_file = cluster.join("pids").join(format!("{component}.pid"));
        assert!(
            pid_file.exists(),
            "{} is missing: restarting {component} needs the local control plane (make chaos starts one)",
            pid_file.display()
        );
        Self {
            component: component.to_owned(),
            pid_file,
            log: cluster.join("logs").join(format!("{component}.log")),
        }
    }

    fn pid(&self) -> i32 {
        std::fs::read_to_string(&self.pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Stops the process, leaves it down for `down`, starts it as it was. Returns when the
    /// new process is started (not yet serving).
    pub fn restart(&self, down: Duration) {
        let pid = self.pid();
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let argv: Vec<OsString> = std::fs::read(proc.join("cmdline"))
            .unwrap()
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| std::ffi::OsStr::from_bytes(a).to_owned())
            .collect();
        let cwd = std::fs::read_link(proc.join("cwd")).unwrap();
        let environment: Vec<(OsString, OsString)> = std::fs::read(proc.join("environ"))
            .unwrap()
            .split(|b| *b == 0)
            .filter_map(|pair| {
                let at = pair.iter().position(|b| *b == b'=')?;
                let (key, value) = (&pair[..at], &pair[at + 1..]);
                Some((
                    std::ffi::OsStr::from_bytes(key).to_owned(),
                    std::ffi::OsStr::from_bytes(value).to_owned(),
                ))
            })
            .collect();
        let status = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill {pid} ({})", self.component);
        let stopping = Instant::now();
        while running(&proc) && stopping.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !running(&proc),
            "{} ({pid}) did not stop within 30 s",
            self.component
        );
        std::thread::sleep(down);
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.log)
            .unwrap();
        // Not waited for: it keeps running after the test, as the original did (the cluster's
        // teardown stops it through the pid file).
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(cwd)
            .env_clear()
            .envs(environment)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group: it outlives the test process, as the original did.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} again: {e}", self.component));
        std::fs::write(&self.pid_file, child.id().to_string()).unwrap();
    }
}

/// Whether the process is alive: a zombie (exited, not yet reaped by its parent) is not.
fn running(proc: &std::path::Path) -> bool {
    let Ok(stat) = std::fs::read_to_string(proc.join("stat")) else {
        return false;
    };
    // The state follows the command name in parentheses: `pid (comm) S ...`.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X"))
}
