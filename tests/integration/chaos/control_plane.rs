//! Restarting processes of the local control plane (kwokctl's binary runtime keeps each
//! component's pid under `<cluster>/pids/`). A restarted component is stopped as systemd
//! would (SIGTERM, waited for, SIGKILL after 20 s) and started again with the same command
//! line, working directory, environment and log. kube-controller-manager and kube-scheduler
//! exit when they lose their leader lease, as they do when the API server is away for longer
//! than the lease; on a real node the kubelet starts them again, here [`Supervised`] does.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct ControlPlaneProcess {
    component: String,
    pid_file: PathBuf,
    log: PathBuf,
}

/// How a process was started, read from /proc while it runs.
struct Launch {
    argv: Vec<OsString>,
    cwd: PathBuf,
    environment: Vec<(OsString, OsString)>,
}

fn nul_separated(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|b| *b == 0).filter(|a| !a.is_empty())
}

impl Launch {
    fn of(pid: i32) -> Self {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let read = |name: &str| std::fs::read(proc.join(name)).unwrap();
        let cmdline = read("cmdline");
        let environ = read("environ");
        Self {
            argv: nul_separated(&cmdline)
                .map(|a| std::ffi::OsStr::from_bytes(a).to_owned())
                .collect(),
            cwd: std::fs::read_link(proc.join("cwd")).unwrap(),
            environment: nul_separated(&environ)
                .filter_map(|pair| {
                    let at = pair.iter().position(|b| *b == b'=')?;
                    let (key, value) = (&pair[..at], &pair[at + 1..]);
                    Some((
                        std::ffi::OsStr::from_bytes(key).to_owned(),
                        std::ffi::OsStr::from_bytes(value).to_owned(),
                    ))
                })
                .collect(),
        }
    }

    /// Starts the process again, logging where it logged; returns its pid.
    fn spawn(&self, log: &Path) -> u32 {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(log)
            .unwrap();
        // Not waited for: it keeps running after the test, as the original did (the cluster's
        // teardown stops it through the pid file).
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .current_dir(&self.cwd)
            .env_clear()
            .envs(self.environment.iter().cloned())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group: it outlives the test process, as the original did.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {:?} again: {e}", self.argv[0]));
        child.id()
    }
}

impl ControlPlaneProcess {
    /// `component` (`kube-apiserver`, `etcd`, `kube-scheduler` …) of the cluster KUBECONFIG
    /// points at.
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

    fn is_running(&self) -> bool {
        running(Path::new(&format!("/proc/{}", self.pid())))
    }

    fn start(&self, launch: &Launch) {
        let pid = launch.spawn(&self.log);
        std::fs::write(&self.pid_file, pid.to_string()).unwrap();
    }

    /// Stops the process, leaves it down for `down`, starts it as it was. Returns when the
    /// new process is started (not yet serving).
    pub fn restart(&self, down: Duration) {
        let pid = self.pid();
        let launch = Launch::of(pid);
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let status = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill {pid} ({})", self.component);
        // As systemd does after its stop timeout: a process that has not exited by then is
        // killed (kube-apiserver can hang in its shutdown once it has stopped listening).
        let stopping = Instant::now();
        while running(&proc) && stopping.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if running(&proc) {
            println!(
                "{} ({pid}) still running 20 s after SIGTERM: SIGKILL",
                self.component
            );
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            while running(&proc) && stopping.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        assert!(
            !running(&proc),
            "{} ({pid}) did not stop within 30 s, even after SIGKILL",
            self.component
        );
        std::thread::sleep(down);
        self.start(&launch);
    }
}

/// Components that are started again whenever they have exited, as the kubelet starts the
/// static pods of a control-plane node again.
pub struct Supervised {
    components: Vec<(ControlPlaneProcess, Launch)>,
    /// Each start after an exit, by component.
    pub restarted: Vec<String>,
}

impl Supervised {
    /// Remembers how each of `components` runs now.
    pub fn of(components: &[&str]) -> Self {
        let components = components
            .iter()
            .map(|c| {
                let process = ControlPlaneProcess::of(c);
                let launch = Launch::of(process.pid());
                (process, launch)
            })
            .collect();
        Self {
            components,
            restarted: Vec::new(),
        }
    }

    /// Starts again those that have exited.
    pub fn restart_exited(&mut self) {
        for (process, launch) in &self.components {
            if !process.is_running() {
                println!("{} exited; starting it again", process.component);
                process.start(launch);
                self.restarted.push(process.component.clone());
            }
        }
    }
}

/// Whether the process is alive: a zombie (exited, not yet reaped by its parent) is not.
fn running(proc: &Path) -> bool {
    let Ok(stat) = std::fs::read_to_string(proc.join("stat")) else {
        return false;
    };
    // The state follows the command name in parentheses: `pid (comm) S ...`.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X"))
}
