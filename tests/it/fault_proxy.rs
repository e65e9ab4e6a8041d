//! A fault-injecting HTTP proxy: a real socket between dicomprep and the S3 server that answers
//! a share of requests with 503 SlowDown, drops the connection without an answer, or stalls
//! past the client's timeout, and can fail the requests for some keys every time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// What the proxy does to the requests it sees.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Every `every`-th request gets a fault (0: none), cycling SlowDown, drop, stall.
    pub every: u64,
    /// How long a stalled request waits before the connection is closed.
    pub stall: Duration,
    /// Requests whose path contains one of these always get 500 InternalError.
    pub always_fail: Vec<String>,
}

/// Counts of what the proxy did.
#[derive(Debug, Default)]
pub struct Injected {
    pub requests: AtomicU64,
    pub slow_down: AtomicU64,
    pub dropped: AtomicU64,
    pub stalled: AtomicU64,
    pub failed: AtomicU64,
}

/// A running proxy to `upstream` on a loopback port; stops accepting when dropped.
pub struct FaultProxy {
    pub port: u16,
    pub injected: Arc<Injected>,
    stop: Arc<AtomicBool>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl FaultProxy {
    /// Starts a proxy in front of `127.0.0.1:upstream`.
    pub fn start(upstream: u16, faults: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let injected = Arc::new(Injected::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (counts, stopped) = (injected.clone(), stop.clone());
        let faults = Arc::new(faults);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (faults, counts) = (faults.clone(), counts.clone());
                std::thread::spawn(move || serve(client, upstream, &faults, &counts));
            }
        });
        FaultProxy {
            port,
            injected,
            stop,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// One request of a client connection (then the connection is closed: every forwarded request
/// asks the server for `Connection: close`, and so do the answers).
fn serve(client: TcpStream, upstream: u16, faults: &Faults, counts: &Injected) {
    let Some((head, body, mut client)) = read_request(client) else {
        return;
    };
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let n = counts.requests.fetch_add(1, Ordering::Relaxed) + 1;

    if faults.always_fail.iter().any(|k| path.contains(k.as_str())) {
        counts.failed.fetch_add(1, Ordering::Relaxed);
        respond(&mut client, "500 Internal Server Error", "InternalError");
        return;
    }
    if faults.every > 0 && n.is_multiple_of(faults.every) {
        match (n / faults.every) % 3 {
            0 => {
                counts.slow_down.fetch_add(1, Ordering::Relaxed);
                respond(&mut client, "503 Slow Down", "SlowDown");
            }
            1 => {
                counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                counts.stalled.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(faults.stall);
            }
        }
        return;
    }
    if let Some(response) = forward(upstream, &head, &body) {
        let _ = client.write_all(&response);
    }
}

/// Reads one request from a client connection: its head (request line and header lines, each
/// ending in CRLF, without the blank line), its body, and the connection to answer on.
pub fn read_request(client: TcpStream) -> Option<(String, Vec<u8>, TcpStream)> {
    let mut reader = BufReader::new(client);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body, reader.into_inner()))
}

/// Sends a request (as [`read_request`] returns it) to `127.0.0.1:upstream` with
/// `Connection: close`, and returns the whole answer.
pub fn forward(upstream: u16, head: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).ok()?;
    let head: String = head
        .split("\r\n")
        .filter(|l| {
            !l.is_empty()
                && !l
                    .split(':')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case("connection"))
        })
        .map(|l| format!("{l}\r\n"))
        .collect();
    server
        .write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
        .and_then(|_| server.write_all(body))
        .ok()?;
    let mut response = Vec::new();
    server.read_to_end(&mut response).ok()?;
    Some(response)
}

/// An S3-style error answer.
fn respond(client: &mut TcpStream, status: &str, code: &str) {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error>"
    );
    let _ = write!(
        client,
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
