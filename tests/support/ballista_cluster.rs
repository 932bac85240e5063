//! A real Ballista cluster for the tests: one `eddy cluster scheduler` and some
//! `eddy cluster executor` processes of the binary under test, on 127.0.0.1, stopped when
//! dropped.

#![allow(dead_code)]

use crate::support::free_port;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a scheduler or executor may take to listen.
const START_LIMIT: Duration = Duration::from_secs(30);

pub struct Cluster {
    /// `df://127.0.0.1:PORT`, as `%connect` takes it.
    pub url: String,
    pub scheduler_port: u16,
    scheduler: Child,
    executors: Vec<Option<Child>>,
    dir: tempfile::TempDir,
}

fn wait_listening(port: u16, what: &str, log: &std::path::Path) {
    let deadline = Instant::now() + START_LIMIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within {START_LIMIT:?}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Cluster {
    /// A scheduler and `executors` executors, each running two tasks at once.
    pub fn start(executors: usize) -> Cluster {
        let dir = tempfile::tempdir().expect("a directory for the cluster");
        let scheduler_port = free_port();
        let log = dir.path().join("scheduler.log");
        let scheduler = Command::new(crate::support::eddy_binary())
            .args([
                "cluster",
                "scheduler",
                "--bind-port",
                &scheduler_port.to_string(),
            ])
            // An executor killed by a test is taken for lost within seconds.
            .args(["--executor-timeout-seconds", "4"])
            .args(["--expire-dead-executor-interval-seconds", "1"])
            // Its log says which jobs were cancelled.
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the scheduler's log"))
            .spawn()
            .expect("eddy cluster scheduler starts");
        wait_listening(scheduler_port, "the scheduler", &log);
        let mut cluster = Cluster {
            url: format!("df://127.0.0.1:{scheduler_port}"),
            scheduler_port,
            scheduler,
            executors: Vec::new(),
            dir,
        };
        for _ in 0..executors {
            cluster.add_executor();
        }
        cluster
    }

    /// Starts one more executor; returns its number.
    pub fn add_executor(&mut self) -> usize {
        let number = self.executors.len();
        let (flight, grpc) = (free_port(), free_port());
        let work = self.dir.path().join(format!("executor-{number}"));
        std::fs::create_dir_all(&work).expect("the executor's work directory");
        let log = self.log_path(&format!("executor-{number}"));
        let child = Command::new(crate::support::eddy_binary())
            .args(["cluster", "executor"])
            .args(["--scheduler-port", &self.scheduler_port.to_string()])
            .args(["--bind-port", &flight.to_string()])
            .args(["--bind-grpc-port", &grpc.to_string()])
            .args(["--concurrent-tasks", "2"])
            .args(["--executor-heartbeat-interval-seconds", "1"])
            .arg("--work-dir")
            .arg(&work)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the executor's log"))
            .spawn()
            .expect("eddy cluster executor starts");
        self.executors.push(Some(child));
        wait_listening(flight, "an executor", &log);
        number
    }

    /// Kills executor `number` at once (as a machine that fails).
    pub fn kill_executor(&mut self, number: usize) {
        if let Some(mut child) = self.executors[number].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What the scheduler has written so far.
    pub fn scheduler_log(&self) -> String {
        std::fs::read_to_string(self.log_path("scheduler")).unwrap_or_default()
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// What the scheduler and executors wrote, for a failing assertion's message.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for index in 0..self.executors.len() {
            let name = format!("executor-{index}");
            text.push_str(&format!(
                "--- {name}\n{}\n",
                std::fs::read_to_string(self.log_path(&name)).unwrap_or_default()
            ));
        }
        text.push_str(&format!(
            "--- scheduler\n{}",
            std::fs::read_to_string(self.log_path("scheduler")).unwrap_or_default()
        ));
        text
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.executors.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.scheduler.kill();
        let _ = self.scheduler.wait();
    }
}
