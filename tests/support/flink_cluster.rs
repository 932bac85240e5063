//! A real Apache Flink cluster for the tests: a JobManager, a TaskManager and the SQL Gateway
//! on 127.0.0.1, run by `dev/flink/cluster` (which assembles Flink with `dev/flink/home` the
//! first time), shared by the tests of one test binary, and stopped when that binary exits.
//! Each test opens its own gateway session, so tests do not see each other's tables.

#![allow(dead_code)]

use crate::support::{free_port, repo_root};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the cluster may take to answer. The first run on a machine also downloads Flink
/// (about 330 MB); a start takes 12 to 25 seconds on two cores.
const START_LIMIT: Duration = Duration::from_secs(300);

/// How much of the end of each log [`FlinkCluster::logs`] shows.
const LOG_TAIL: u64 = 16 * 1024;

pub struct FlinkCluster {
    /// The SQL Gateway's REST endpoint, `127.0.0.1:PORT` (its API is under `/v3/...`).
    pub gateway: String,
    /// The JobManager's REST endpoint and web UI, `127.0.0.1:PORT` (`/jobs/overview`, ...).
    pub rest: String,
    /// This run's directory: the script's output, and under `flink/` its conf and logs.
    /// The shell around the script removes it once the cluster has stopped and the lifeline
    /// has closed.
    dir: PathBuf,
    /// The shell running `dev/flink/cluster`, and the pipe to its standard input: the script
    /// stops the cluster when the pipe closes, which it does when the test binary exits,
    /// however it exits. `None` once stopped.
    lifeline: Mutex<Option<(Child, ChildStdin)>>,
}

/// The cluster of this test binary, started on first use.
pub fn flink() -> &'static FlinkCluster {
    static FLINK: OnceLock<FlinkCluster> = OnceLock::new();
    FLINK.get_or_init(FlinkCluster::start)
}

impl FlinkCluster {
    /// A cluster of the caller's own, on free ports, stopped when dropped (or when the test
    /// binary exits, for the shared one, which is never dropped).
    pub fn start() -> FlinkCluster {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let run = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("eddy-flink-{}-{run}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a directory for the Flink cluster");
        let (rest, gateway, rpc) = (free_port(), free_port(), free_port());
        let out = File::create(dir.join("cluster.out")).expect("the cluster's stdout file");
        let err = File::create(dir.join("cluster.log")).expect("the cluster's log file");
        // dev/flink/cluster: the one place that says how Flink runs here. When it exits, the
        // shell around it notes its status in `exited`, then waits for the lifeline to close
        // (so the logs stay readable for a failing start) and removes the run's directory.
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(
                r#""$@"; echo $? >"$EDDY_FLINK_RUN_DIR/exited"; cat >/dev/null; rm -rf "$EDDY_FLINK_RUN_DIR""#,
            )
            .arg("sh")
            .arg(repo_root().join("dev/flink/cluster"))
            .args(["--rest-port", &rest.to_string()])
            .args(["--gateway-port", &gateway.to_string()])
            .args(["--rpc-port", &rpc.to_string()])
            .arg("--dir")
            .arg(dir.join("flink"))
            .arg("--timeout")
            .arg(START_LIMIT.as_secs().to_string())
            .env("EDDY_FLINK_RUN_DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("sh starts dev/flink/cluster");
        let stdin = shell.stdin.take().expect("the lifeline pipe");
        let cluster = FlinkCluster {
            gateway: format!("127.0.0.1:{gateway}"),
            rest: format!("127.0.0.1:{rest}"),
            dir,
            lifeline: Mutex::new(Some((shell, stdin))),
        };
        // A panic here drops `cluster`, which stops what has started.
        cluster.wait_ready(gateway);
        cluster
    }

    /// Waits until the script says the gateway answers and the TaskManager has joined: it
    /// prints the gateway's URL on stdout only then.
    fn wait_ready(&self, gateway: u16) {
        let started = Instant::now();
        let url = format!("http://127.0.0.1:{gateway}");
        loop {
            let printed = std::fs::read_to_string(self.dir.join("cluster.out")).unwrap_or_default();
            if printed.lines().any(|line| line.trim() == url) {
                return;
            }
            if let Ok(status) = std::fs::read_to_string(self.dir.join("exited")) {
                panic!(
                    "dev/flink/cluster exited (status {}) before Flink answered:\n{}",
                    status.trim(),
                    self.logs()
                );
            }
            if started.elapsed() > START_LIMIT {
                let logs = self.logs();
                self.stop();
                panic!("Flink did not answer within {START_LIMIT:?}:\n{logs}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `http://127.0.0.1:PORT`, the gateway's base URL.
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.gateway)
    }

    /// Stops the cluster and waits until its processes have exited.
    pub fn stop(&self) {
        let running = self.lifeline.lock().expect("lifeline").take();
        if let Some((mut shell, mut stdin)) = running {
            let _ = stdin.write_all(b"stop\n");
            let _ = stdin.flush();
            drop(stdin);
            let _ = shell.wait();
        }
    }

    /// What the script and the three processes have written so far (the end of each log),
    /// for a failing test's message.
    pub fn logs(&self) -> String {
        let mut files = vec![self.dir.join("cluster.log")];
        if let Ok(entries) = std::fs::read_dir(self.dir.join("flink").join("log")) {
            let mut logs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            logs.sort();
            files.extend(logs);
        }
        let mut text = String::new();
        for file in files {
            text.push_str(&format!("--- {}\n{}\n", file.display(), tail(&file)));
        }
        text
    }
}

/// The last [`LOG_TAIL`] bytes of a file (all of a shorter one), lossily as text.
fn tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    if length > LOG_TAIL {
        let _ = file.seek(SeekFrom::Start(length - LOG_TAIL));
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Drop for FlinkCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
