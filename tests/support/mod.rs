//! A small, independent Jupyter client for driving the real `eddy` binary in tests: it
//! writes a connection file, starts `eddy kernel`, and speaks the wire protocol over
//! ZeroMQ on all five channels.

#![allow(dead_code)]

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use zeromq::{DealerSocket, ReqSocket, Socket, SocketRecv, SocketSend, SubSocket, ZmqMessage};

pub const TIMEOUT: Duration = Duration::from_secs(20);
const KEY: &str = "a0436f6c-1916-498b-8eb9-e81ab9368e84";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Shell,
    Control,
}

/// A received message, decoded.
#[derive(Debug, Clone)]
pub struct Msg {
    pub header: Value,
    pub parent_header: Value,
    pub content: Value,
}

impl Msg {
    pub fn msg_type(&self) -> &str {
        self.header["msg_type"].as_str().unwrap_or("")
    }
    pub fn parent_id(&self) -> &str {
        self.parent_header["msg_id"].as_str().unwrap_or("")
    }
}

pub struct Transport {
    pub tcp: bool,
}

/// The repository's root (the kernel crate is one of its folders).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the kernel crate is in the repo")
        .to_path_buf()
}

/// A port nothing listens on now, for a service a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs a cell that must succeed; its reply and outputs are in the failure's message.
pub async fn ok(client: &mut Client, code: &str) -> Execution {
    let run = client.execute(code).await;
    assert_eq!(
        run.reply.content["status"],
        "ok",
        "{code}\n{:?}\n{}",
        run.reply.content,
        run.all_text()
    );
    run
}

/// The binary under test: the one cargo built for the tests, or `EDDY_TEST_BIN` (dev/test
/// runs some tests again against the release build).
pub fn eddy_binary() -> PathBuf {
    std::env::var_os("EDDY_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_eddy")))
}

/// A running `eddy kernel` process with its own temporary Jupyter directories.
pub struct Kernel {
    child: Child,
    pub dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    connection: Value,
}

impl Kernel {
    pub fn start() -> Kernel {
        Kernel::start_with(Transport { tcp: false }, None)
    }

    /// Starts a kernel with extra environment variables.
    pub fn start_with_env(env: &[(&str, &str)]) -> Kernel {
        Kernel::launch(Transport { tcp: false }, None, env)
    }

    /// Starts a kernel; `data_dir` lets a second kernel share the first one's history.
    pub fn start_with(transport: Transport, data_dir: Option<&Path>) -> Kernel {
        Kernel::launch(transport, data_dir, &[])
    }

    fn launch(transport: Transport, data_dir: Option<&Path>, env: &[(&str, &str)]) -> Kernel {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data_dir = data_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.path().join("data"));
        let connection = if transport.tcp {
            let port = || {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map(|a| a.port())
                    .expect("a free port")
            };
            json!({
                "transport": "tcp", "ip": "127.0.0.1",
                "shell_port": port(), "iopub_port": port(), "stdin_port": port(),
                "control_port": port(), "hb_port": port(),
                "key": KEY, "signature_scheme": "hmac-sha256",
            })
        } else {
            json!({
                "transport": "ipc", "ip": dir.path().join("kernel").to_string_lossy(),
                "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4,
                "hb_port": 5, "key": KEY, "signature_scheme": "hmac-sha256",
            })
        };
        let file = dir.path().join("connection.json");
        std::fs::write(&file, connection.to_string()).expect("connection file");
        let child = Command::new(eddy_binary())
            .arg("kernel")
            .arg("--connection-file")
            .arg(&file)
            .env("JUPYTER_DATA_DIR", &data_dir)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .expect("eddy starts");
        Kernel {
            child,
            dir,
            data_dir,
            connection,
        }
    }

    pub fn endpoint(&self, port: &str) -> String {
        let c = &self.connection;
        let port = c[port].as_u64().unwrap_or_default();
        let ip = c["ip"].as_str().unwrap_or_default();
        if c["transport"] == "tcp" {
            format!("tcp://{ip}:{port}")
        } else {
            format!("ipc://{ip}-{port}")
        }
    }

    /// Connects a client and waits for the IOPub welcome, so no broadcast is missed.
    pub async fn client(&self) -> Client {
        let deadline = Instant::now() + TIMEOUT;
        // The kernel binds its sockets a moment after starting: retry until it listens.
        let mut shell = DealerSocket::new();
        while shell.connect(&self.endpoint("shell_port")).await.is_err() {
            assert!(Instant::now() < deadline, "kernel never listened");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut control = DealerSocket::new();
        control
            .connect(&self.endpoint("control_port"))
            .await
            .expect("control");
        let mut iopub = SubSocket::new();
        iopub
            .connect(&self.endpoint("iopub_port"))
            .await
            .expect("iopub");
        iopub.subscribe("").await.expect("subscribe");
        let mut heartbeat = ReqSocket::new();
        heartbeat
            .connect(&self.endpoint("hb_port"))
            .await
            .expect("heartbeat");
        let mut client = Client {
            shell,
            control,
            iopub,
            heartbeat,
            key: KEY.as_bytes().to_vec(),
            session: uuid::Uuid::new_v4().to_string(),
        };
        let welcome = client.next_iopub().await;
        assert_eq!(welcome.msg_type(), "iopub_welcome");
        client
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Client {
    shell: DealerSocket,
    control: DealerSocket,
    iopub: SubSocket,
    heartbeat: ReqSocket,
    pub key: Vec<u8>,
    session: String,
}

/// One execution as seen by a client: the reply and the broadcasts under its request.
pub struct Execution {
    pub reply: Msg,
    pub broadcasts: Vec<Msg>,
}

impl Execution {
    pub fn of_type(&self, msg_type: &str) -> Vec<&Msg> {
        self.broadcasts
            .iter()
            .filter(|m| m.msg_type() == msg_type)
            .collect()
    }
    pub fn types(&self) -> Vec<&str> {
        self.broadcasts.iter().map(Msg::msg_type).collect()
    }
    /// Every `text/plain` the cell showed (displays, updates, result), one per line.
    pub fn all_text(&self) -> String {
        self.broadcasts
            .iter()
            .filter_map(|m| m.content["data"]["text/plain"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The `text/plain` of the cell's first display_data.
    pub fn displayed(&self) -> String {
        self.of_type("display_data")
            .first()
            .and_then(|m| m.content["data"]["text/plain"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// The `text/plain` of the cell's result: its execute_result or, for a statement
    /// that ran long enough to show a progress line, the update that replaced the line.
    pub fn text(&self) -> String {
        self.broadcasts
            .iter()
            .rev()
            .find(|m| matches!(m.msg_type(), "execute_result" | "update_display_data"))
            .and_then(|m| m.content["data"]["text/plain"].as_str())
            .unwrap_or_default()
            .to_string()
    }
}

impl Client {
    pub fn sign(&self, frames: &[&[u8]]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        for frame in frames {
            mac.update(frame);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// The signed frames of a request, and its msg_id.
    pub fn frames(&self, msg_type: &str, content: Value) -> (String, Vec<Bytes>) {
        let msg_id = uuid::Uuid::new_v4().to_string();
        let header = json!({
            "msg_id": msg_id, "session": self.session, "username": "test",
            "date": "2026-11-24T00:00:00.000000Z", "msg_type": msg_type, "version": "5.4",
        })
        .to_string();
        let (parent, metadata, content) = ("{}".to_string(), "{}".to_string(), content.to_string());
        let signature = self.sign(&[
            header.as_bytes(),
            parent.as_bytes(),
            metadata.as_bytes(),
            content.as_bytes(),
        ]);
        let frames = vec![
            Bytes::from_static(b"<IDS|MSG>"),
            Bytes::from(signature),
            Bytes::from(header),
            Bytes::from(parent),
            Bytes::from(metadata),
            Bytes::from(content),
        ];
        (msg_id, frames)
    }

    pub async fn send_frames(&mut self, channel: Channel, frames: Vec<Bytes>) {
        let message = ZmqMessage::try_from(frames).expect("frames");
        let socket = match channel {
            Channel::Shell => &mut self.shell,
            Channel::Control => &mut self.control,
        };
        socket.send(message).await.expect("send");
    }

    pub async fn send(&mut self, channel: Channel, msg_type: &str, content: Value) -> String {
        let (msg_id, frames) = self.frames(msg_type, content);
        self.send_frames(channel, frames).await;
        msg_id
    }

    /// The next reply on `channel`, checking its signature.
    pub async fn reply(&mut self, channel: Channel) -> Msg {
        self.try_reply(channel, TIMEOUT)
            .await
            .expect("a reply in time")
    }

    pub async fn try_reply(&mut self, channel: Channel, limit: Duration) -> Option<Msg> {
        let socket = match channel {
            Channel::Shell => &mut self.shell,
            Channel::Control => &mut self.control,
        };
        let frames = tokio::time::timeout(limit, socket.recv())
            .await
            .ok()?
            .ok()?;
        Some(self.decode(frames))
    }

    pub async fn next_iopub(&mut self) -> Msg {
        let frames = tokio::time::timeout(TIMEOUT, self.iopub.recv())
            .await
            .expect("an iopub message in time")
            .expect("iopub receive");
        self.decode(frames)
    }

    fn decode(&self, frames: ZmqMessage) -> Msg {
        let frames = frames.into_vec();
        let at = frames
            .iter()
            .position(|f| f.as_ref() == b"<IDS|MSG>")
            .expect("delimiter");
        let parts = &frames[at + 1..];
        let expected = self.sign(&[&parts[1], &parts[2], &parts[3], &parts[4]]);
        assert_eq!(parts[0].as_ref(), expected.as_bytes(), "kernel signature");
        let json = |b: &Bytes| serde_json::from_slice::<Value>(b).expect("json frame");
        Msg {
            header: json(&parts[1]),
            parent_header: json(&parts[2]),
            content: json(&parts[4]),
        }
    }

    /// Broadcasts under `msg_id`, up to and including its `idle` status.
    pub async fn broadcasts_until_idle(&mut self, msg_id: &str) -> Vec<Msg> {
        let mut seen = Vec::new();
        loop {
            let message = self.next_iopub().await;
            if message.parent_id() != msg_id {
                continue;
            }
            let idle =
                message.msg_type() == "status" && message.content["execution_state"] == "idle";
            seen.push(message);
            if idle {
                return seen;
            }
        }
    }

    /// A request on `channel` and its reply, with the broadcasts around it.
    pub async fn request(&mut self, channel: Channel, msg_type: &str, content: Value) -> Execution {
        let msg_id = self.send(channel, msg_type, content).await;
        let reply = self.reply(channel).await;
        assert_eq!(reply.parent_id(), msg_id, "reply answers the request");
        let broadcasts = self.broadcasts_until_idle(&msg_id).await;
        Execution { reply, broadcasts }
    }

    pub async fn execute(&mut self, code: &str) -> Execution {
        let msg_id = self.start_execute(code).await;
        self.finish_execute(&msg_id).await
    }

    /// Sends a cell without waiting for it (to act while it runs); returns its msg_id.
    pub async fn start_execute(&mut self, code: &str) -> String {
        let content = json!({
            "code": code, "silent": false, "store_history": true,
            "user_expressions": {}, "allow_stdin": false, "stop_on_error": true,
        });
        self.send(Channel::Shell, "execute_request", content).await
    }

    /// The reply and broadcasts of a cell sent with `start_execute`.
    pub async fn finish_execute(&mut self, msg_id: &str) -> Execution {
        let reply = self.reply(Channel::Shell).await;
        assert_eq!(reply.parent_id(), msg_id, "reply answers the request");
        let broadcasts = self.broadcasts_until_idle(msg_id).await;
        Execution { reply, broadcasts }
    }

    pub async fn ping(&mut self, limit: Duration) -> bool {
        let ping = ZmqMessage::from("ping");
        if self.heartbeat.send(ping).await.is_err() {
            return false;
        }
        matches!(
            tokio::time::timeout(limit, self.heartbeat.recv()).await,
            Ok(Ok(pong)) if pong.get(0).map(|f| f.as_ref()) == Some(b"ping".as_ref())
        )
    }
}
