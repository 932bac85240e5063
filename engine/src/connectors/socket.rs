//! `'connector' = 'socket'`: lines of csv or json read from a TCP server, as Flink's socket
//! example source reads them from `nc -lk 9999`.
//!
//! Options: `hostname`, `port` (both required) and the lines options (`format` = csv |
//! json, see [`super::lines`]). Each query connects when it starts (a refused connection
//! fails the query, saying to start the server first) and reads until the server closes
//! the connection; then the query finishes. Rows are sent as they arrive: whatever lines
//! have come are sent at least every 50 ms, or at once when 8192 are waiting.
//!
//! The connection is read by the source's task with tokio's non-blocking reads: dropping the
//! source (the query ended or was cancelled) closes it at once.

use super::connector::{Connector, CountedSource, Declaration, Declared};
use super::lines::{complete_len, LineDecoder, LineFormat, Origins};
use super::{bad_option, ConnectorOptions};
use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use crate::stream::source::{BatchSender, StreamSource};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::context::SessionContext;
use futures::future::BoxFuture;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Lines waiting longer than this are sent.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// This many waiting lines are sent at once.
const FLUSH_LINES: usize = 8192;
/// How long a connection may take to be accepted.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const READ_BUFFER: usize = 64 * 1024;

/// `'connector' = 'socket'`.
pub(crate) struct Socket;

impl Connector for Socket {
    fn name(&self) -> &'static str {
        "socket"
    }

    fn declare(
        &self,
        declaration: &Declaration<'_>,
        options: &mut ConnectorOptions,
    ) -> Result<Declared, EngineError> {
        let source = source(declaration.table, declaration.schema.clone(), options)?;
        Ok(Declared::Stream(source))
    }
}

/// The socket source of table `table`, and the count of lines it skipped (with
/// `'csv.ignore-parse-errors'` or `'json.ignore-parse-errors'`).
pub(crate) fn source(
    table: &str,
    schema: SchemaRef,
    options: &mut ConnectorOptions,
) -> Result<CountedSource, EngineError> {
    options.get("connector");
    let hostname = options.require("hostname", "the host of the server to read lines from")?;
    let port = options.require("port", "the TCP port of the server, e.g. '9999'")?;
    let port: u16 = match port.trim().parse() {
        Ok(port) if port > 0 => port,
        _ => return Err(bad_option("port", "the port is a number from 1 to 65535")),
    };
    let format = LineFormat::from_options(options, schema.clone(), Origins::Lines)?;
    options.finish("socket")?;
    let skipped = Arc::new(AtomicU64::new(0));
    let counted = format.ignores_errors().then(|| skipped.clone());
    Ok(CountedSource {
        factory: Arc::new(SocketFactory {
            table: table.to_string(),
            schema,
            hostname: hostname.trim().to_string(),
            port,
            format: Arc::new(format),
            skipped,
        }),
        skipped: counted,
    })
}

struct SocketFactory {
    table: String,
    schema: SchemaRef,
    hostname: String,
    port: u16,
    format: Arc<LineFormat>,
    skipped: Arc<AtomicU64>,
}

impl SocketFactory {
    fn address(&self) -> String {
        format!("{}:{}", self.hostname, self.port)
    }

    fn connect(&self) -> Result<TcpStream, EngineError> {
        let address = self.address();
        let addresses: Vec<SocketAddr> = (self.hostname.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| EngineError::Io {
                message: format!(
                    "table {}: cannot resolve the host of {address}: {e} (check 'hostname')",
                    self.table
                ),
                source: Some(Box::new(e)),
            })?
            .collect();
        let mut last = None;
        for socket in &addresses {
            match TcpStream::connect_timeout(socket, CONNECT_TIMEOUT) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        let reason = match last {
            Some(e) if e.kind() == ErrorKind::ConnectionRefused => {
                "the connection was refused".into()
            }
            Some(e) if e.kind() == ErrorKind::TimedOut => "the connection timed out".into(),
            Some(e) => e.to_string(),
            None => "the host has no address".into(),
        };
        Err(EngineError::Io {
            message: format!(
                "table {} cannot connect to {address}: {reason}. The socket source is a \
                 client: start the server first (e.g. `nc -lk {}`), then run the query",
                self.table, self.port
            ),
            source: None,
        })
    }
}

impl SourceFactory for SocketFactory {
    fn open(&self, _ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError> {
        let stream = self.connect()?;
        let address = self.address();
        Ok(Box::new(SocketSource {
            schema: self.schema.clone(),
            decoder: LineDecoder::new(
                self.format.clone(),
                format!("the socket {address}"),
                self.skipped.clone(),
            ),
            address,
            stream,
        }))
    }
}

struct SocketSource {
    schema: SchemaRef,
    address: String,
    stream: TcpStream,
    decoder: LineDecoder,
}

impl StreamSource for SocketSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// A socket is unbounded in kind, though the source ends when the server closes.
    fn is_bounded(&self) -> bool {
        false
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        Box::pin((*self).read(out))
    }
}

impl SocketSource {
    /// Reads lines until the server closes the connection or the query stops wanting rows.
    /// Whatever whole lines have come are sent every `FLUSH_INTERVAL`, or at once when
    /// `FLUSH_LINES` are waiting.
    async fn read(self, out: BatchSender) -> Result<(), EngineError> {
        let SocketSource {
            address,
            stream,
            mut decoder,
            ..
        } = self;
        let io_error = |e: std::io::Error| EngineError::Io {
            message: format!("reading the socket {address} failed: {e}"),
            source: Some(Box::new(e)),
        };
        // Connected in `open`, so that a refused connection fails the statement itself.
        stream.set_nonblocking(true).map_err(io_error)?;
        let mut stream = tokio::net::TcpStream::from_std(stream).map_err(io_error)?;
        let mut pending: Vec<u8> = Vec::new();
        let mut pending_lines = 0usize;
        let mut buffer = vec![0u8; READ_BUFFER];
        let mut flush = tokio::time::interval(FLUSH_INTERVAL);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (end, flush_due) = tokio::select! {
                read = stream.read(&mut buffer) => match read {
                    Ok(0) => (true, true),
                    Ok(n) => {
                        pending_lines += buffer[..n].iter().filter(|b| **b == b'\n').count();
                        pending.extend_from_slice(&buffer[..n]);
                        (false, pending_lines >= FLUSH_LINES)
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => (false, false),
                    Err(e) => return Err(io_error(e)),
                },
                _ = flush.tick() => (false, pending_lines > 0),
                _ = out.closed() => return Ok(()),
            };
            if flush_due {
                // At the end, an unterminated last line is a line too.
                let whole = if end {
                    pending.len()
                } else {
                    complete_len(&pending)
                };
                let chunk: Vec<u8> = pending.drain(..whole).collect();
                // What is left has no line end yet.
                pending_lines = 0;
                if let Some(batch) = decoder.decode(&chunk)? {
                    if out.send(batch).await.is_err() {
                        return Ok(());
                    }
                }
            }
            if end {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::lines::test_options;
    use datafusion::arrow::array::{AsArray, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
    use std::io::Write;
    use std::net::TcpListener;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    fn make(port: u16, extra: &[(&str, &str)]) -> Result<CountedSource, EngineError> {
        let port = port.to_string();
        let mut pairs = vec![
            ("connector", "socket"),
            ("hostname", "127.0.0.1"),
            ("port", port.as_str()),
            ("format", "csv"),
        ];
        pairs.extend_from_slice(extra);
        source("t", schema(), &mut test_options(&pairs))
    }

    #[tokio::test]
    async fn lines_from_a_server_become_rows_until_it_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            peer.write_all(b"1,a\n2,b\n3,").unwrap();
            peer.flush().unwrap();
            std::thread::sleep(Duration::from_millis(150));
            peer.write_all(b"c\nbad,d\n4,e").unwrap();
            // Closing ends the source; the unterminated last line is read too.
        });
        let counted = make(port, &[("csv.ignore-parse-errors", "true")]).unwrap();
        let source = counted.factory.open(&SessionContext::new()).unwrap();
        assert!(!source.is_bounded());
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let task = tokio::spawn(source.run(tx));
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        // The first lines arrive before the server sends the rest.
        let ids = |b: &RecordBatch| -> Vec<i32> {
            b.column(0).as_primitive::<Int32Type>().values().to_vec()
        };
        assert_eq!(ids(&first), vec![1, 2]);
        let mut rest = Vec::new();
        while let Some(batch) = rx.recv().await {
            rest.extend(ids(&batch));
        }
        assert_eq!(rest, vec![3, 4]);
        task.await.unwrap().unwrap();
        server.join().unwrap();
        let skipped = counted.skipped.unwrap();
        assert_eq!(skipped.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn the_source_stops_when_the_query_drops_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            peer.write_all(b"1,a\n").unwrap();
            // Keeps the connection open well past the test's wait.
            std::thread::sleep(Duration::from_millis(1000));
        });
        let source = make(port, &[])
            .unwrap()
            .factory
            .open(&SessionContext::new())
            .unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let task = tokio::spawn(source.run(tx));
        assert_eq!(rx.recv().await.unwrap().num_rows(), 1);
        drop(rx);
        let stopped = tokio::time::timeout(Duration::from_millis(200), task).await;
        assert!(stopped.unwrap().unwrap().is_ok());
        server.join().unwrap();
    }

    #[test]
    fn a_refused_connection_says_to_start_the_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let factory = make(port, &[]).unwrap().factory;
        let error = factory.open(&SessionContext::new()).err().unwrap();
        assert!(matches!(error, EngineError::Io { .. }));
        let message = error.to_string();
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        assert!(message.contains("start the server"), "{message}");
    }

    #[test]
    fn options_are_checked() {
        let bad_port = make(0, &[]).err().unwrap();
        assert!(bad_port.to_string().contains("'port'"));
        let unknown = make(9999, &[("byte-delimiter", ";")]).err().unwrap();
        assert!(unknown.hint().unwrap().contains("hostname"));
        let no_host = source(
            "t",
            schema(),
            &mut test_options(&[("connector", "socket"), ("port", "1")]),
        );
        assert!(no_host.err().unwrap().to_string().contains("hostname"));
    }
}
