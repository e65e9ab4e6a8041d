//! Real object-store servers for the store tests: the moto S3 server, Azurite and
//! fake-gcs-server, installed by `scripts/setup.sh --test` under `.emulators/`, each started on a
//! loopback port per test and killed when dropped. A missing server fails the test (it never
//! skips silently). Each server's log goes to a file, printed when the test fails, and doubles as
//! its access log (what the server itself saw).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dicomprep::store::{Bucket, Location};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{ClientOptions, ObjectStore};

use crate::fault_proxy::{forward, read_request};

/// Where `scripts/setup.sh --test` installs the servers.
fn installed(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".emulators")
        .join(relative);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/setup.sh --test` to install the S3, Azure and GCS test servers",
        path.display()
    );
    path
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running server process, killed on drop; its output goes to `server.log` in its data
/// folder and is printed if the test fails.
pub struct Server {
    child: Child,
    pub port: u16,
    name: String,
    log: PathBuf,
    data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- log of {} (port {}) ---\n{}--- end of log ---",
                self.name,
                self.port,
                self.log_text()
            );
        }
    }
}

impl Server {
    pub fn start(mut command: Command, port: u16, data: tempfile::TempDir) -> Server {
        let log = data.path().join("server.log");
        let file = std::fs::File::create(&log).expect("server log");
        let child = command
            .stdout(file.try_clone().expect("server log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let name = Path::new(command.get_program())
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let server = Server {
            child,
            port,
            name,
            log,
            data,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{command:?} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Everything the server printed so far.
    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

/// One request of a server's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request path, percent-decoded (GCS encodes the `/` of keys).
    pub path: String,
    pub status: u16,
}

/// The requests of an access log in the common log format, which moto, Azurite and
/// fake-gcs-server all write: `... "GET /bucket/key HTTP/1.1" 206 ...` (fake-gcs-server
/// escapes the quotes: `\"GET ... HTTP/1.1\" 206`; moto colours some requests with ANSI
/// escapes, which are dropped).
pub fn requests(log: &str) -> Vec<Request> {
    log.lines()
        .map(without_ansi_escapes)
        .filter_map(|line| {
            let end = line.find(" HTTP/")?;
            let start = line[..end].rfind('"')? + 1;
            let (method, target) = line[start..end].split_once(' ')?;
            let status = line[end..].split_once('"')?.1.trim_start().get(..3)?;
            let path = target.split('?').next().unwrap_or(target);
            Some(Request {
                method: method.into(),
                path: percent_decode(path),
                status: status.parse().ok()?,
            })
        })
        .collect()
}

/// `line` without its terminal colour sequences (`ESC [ ... m`).
fn without_ansi_escapes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// `%2F` and the like decoded.
pub fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// A store under test: how the binary reaches it (URL scheme and environment) and a client
/// for the test itself.
pub trait TestStore {
    /// URL of `bucket/prefix` for the command line.
    fn url(&self, prefix: &str) -> String;
    /// Environment the binary needs to reach the store.
    fn env(&self) -> Vec<(&'static str, String)>;
    /// A client for `prefix` in the test bucket.
    fn bucket(&self, prefix: &str) -> Bucket;
    /// The server, when there is one (its access log shows the requests it served).
    fn server(&self) -> Option<&Server>;
}

/// The moto S3 server with one bucket.
pub struct S3 {
    pub server: Server,
    pub bucket: String,
}

impl S3 {
    /// Starts moto and creates the bucket `name`.
    pub fn start(name: &str) -> S3 {
        let port = free_port();
        let mut command = Command::new(installed("venv/bin/moto_server"));
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let server = Server::start(command, port, tempfile::tempdir().unwrap());
        let s3 = S3 {
            server,
            bucket: name.into(),
        };
        http_request(port, "PUT", &format!("/{name}"), "");
        s3
    }

    /// Environment reaching a server at `endpoint` (moto itself or a proxy in front of it).
    pub fn env_for(endpoint: String) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

impl TestStore for S3 {
    fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        S3::env_for(self.server.endpoint())
    }

    fn server(&self) -> Option<&Server> {
        Some(&self.server)
    }

    fn bucket(&self, prefix: &str) -> Bucket {
        let store = AmazonS3Builder::new()
            .with_endpoint(self.server.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(&self.bucket)
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .build()
            .unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        Bucket::with_store(store, Location::parse(&self.url(prefix)).unwrap())
    }
}

/// Azurite (Azure Blob) with one container.
pub struct Azure {
    pub server: Server,
    pub container: String,
}

impl Azure {
    /// Starts Azurite on its default port (the emulator client of object_store reads any
    /// other port from the environment, which a test cannot set safely) and creates the
    /// container `name`.
    pub fn start(name: &str) -> Azure {
        let port = 10000;
        let data = tempfile::tempdir().unwrap();
        let mut command = Command::new(installed("node_modules/.bin/azurite-blob"));
        command.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()]);
        command.arg("--location").arg(data.path());
        command.args(["--skipApiVersionCheck", "--disableTelemetry"]);
        let server = Server::start(command, port, data);
        let connection = format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint={}/devstoreaccount1;",
            server.endpoint()
        );
        let script = format!(
            "from azure.storage.blob import BlobServiceClient\nBlobServiceClient.from_connection_string({connection:?}).create_container({name:?})"
        );
        let status = Command::new(installed("venv/bin/python"))
            .args(["-c", &script])
            .status()
            .expect("run python");
        assert!(status.success(), "cannot create container {name}");
        Azure {
            server,
            container: name.into(),
        }
    }
}

impl TestStore for Azure {
    fn url(&self, prefix: &str) -> String {
        format!("az://{}/{prefix}", self.container)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            ("AZURITE_BLOB_STORAGE_URL", self.server.endpoint()),
        ]
    }

    fn server(&self) -> Option<&Server> {
        Some(&self.server)
    }

    fn bucket(&self, prefix: &str) -> Bucket {
        let store = MicrosoftAzureBuilder::new()
            .with_use_emulator(true)
            .with_container_name(&self.container)
            .build()
            .unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        Bucket::with_store(store, Location::parse(&self.url(prefix)).unwrap())
    }
}

/// fake-gcs-server with one bucket, reached as a user reaches any GCS endpoint: a service
/// account key file (`GOOGLE_SERVICE_ACCOUNT`) whose `gcs_base_url` names the server and whose
/// `disable_oauth` skips the token exchange, and `GOOGLE_ALLOW_HTTP`.
///
/// Upstream fake-gcs-server (the build in the PyPI wheel) lacks the XML API's PUT Object, the one
/// request object_store uploads with (it answers 400 "invalid uploadType"; the XML API is
/// fsouza/fake-gcs-server#1164, which object_store's own CI gets from a patched fork). So the
/// store is reached through [`XmlPutAdapter`], which hands such a PUT to the server's own
/// signed-URL upload (same path, headers and body) and answers with the ETag GCS sends.
/// Every other request (listing, ranged GETs, HEADs, bucket creation) goes through unchanged.
pub struct Gcs {
    pub server: Server,
    pub bucket: String,
    adapter: XmlPutAdapter,
}

impl Gcs {
    /// Starts fake-gcs-server (in memory) behind its adapter and creates the bucket `name`.
    pub fn start(name: &str) -> Gcs {
        let port = free_port();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // The server routes path-style object requests only for its public host, which is
        // the address clients use: the adapter's.
        let public = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let mut command = Command::new(installed("bin/fake-gcs-server"));
        let port_text = port.to_string();
        command.args(["-scheme", "http", "-host", "127.0.0.1", "-port", &port_text]);
        command.args(["-backend", "memory", "-public-host", &public]);
        let server = Server::start(command, port, tempfile::tempdir().unwrap());
        let adapter = XmlPutAdapter::start(listener, port);
        std::fs::write(
            server.data.path().join("key.json"),
            Gcs::key(&adapter.endpoint()),
        )
        .unwrap();
        http_request(
            adapter.port,
            "POST",
            "/storage/v1/b?project=dicomprep",
            &format!(r#"{{"name":{name:?}}}"#),
        );
        Gcs {
            server,
            bucket: name.into(),
            adapter,
        }
    }

    /// The service account key the binary is given (in a file by [`TestStore::env`]).
    pub fn key_json(&self) -> String {
        Gcs::key(&self.adapter.endpoint())
    }

    /// A service account key that points object_store at `endpoint` without OAuth.
    fn key(endpoint: &str) -> String {
        format!(
            r#"{{"private_key":"","private_key_id":"","client_email":"","disable_oauth":true,"gcs_base_url":"{endpoint}"}}"#
        )
    }
}

impl TestStore for Gcs {
    fn url(&self, prefix: &str) -> String {
        format!("gs://{}/{prefix}", self.bucket)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let key = self.server.data.path().join("key.json");
        vec![
            ("GOOGLE_SERVICE_ACCOUNT", key.display().to_string()),
            ("GOOGLE_ALLOW_HTTP", "true".into()),
        ]
    }

    fn server(&self) -> Option<&Server> {
        Some(&self.server)
    }

    fn bucket(&self, prefix: &str) -> Bucket {
        let store = GoogleCloudStorageBuilder::new()
            .with_service_account_key(self.key_json())
            .with_client_options(ClientOptions::new().with_allow_http(true))
            .with_bucket_name(&self.bucket)
            .build()
            .unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        Bucket::with_store(store, Location::parse(&self.url(prefix)).unwrap())
    }
}

/// A loopback proxy in front of fake-gcs-server that serves the XML API's PUT Object the
/// server lacks (see [`Gcs`]); stops accepting when dropped.
struct XmlPutAdapter {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for XmlPutAdapter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl XmlPutAdapter {
    fn start(listener: TcpListener, upstream: u16) -> XmlPutAdapter {
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                std::thread::spawn(move || XmlPutAdapter::serve(client, upstream));
            }
        });
        XmlPutAdapter { port, stop }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(client: TcpStream, upstream: u16) {
        let Some((mut head, body, mut client)) = read_request(client) else {
            return;
        };
        // `PUT /<bucket>/<object>` with no query is an XML API upload; the JSON API's
        // uploads live under `/upload/`.
        let target = head.split(' ').nth(1).unwrap_or_default().to_string();
        let xml_put =
            head.starts_with("PUT /") && !target.contains('?') && !target.starts_with("/upload/");
        if xml_put {
            head = head.replacen(&target, &format!("{target}?X-Goog-Algorithm=adapter"), 1);
        }
        let Some(mut response) = forward(upstream, &head, &body) else {
            return;
        };
        if xml_put {
            response = with_etag_header(response);
        }
        let _ = client.write_all(&response);
    }
}

/// A 200 answer to an upload, with the object's `etag` and `generation` (JSON body) also as
/// the `ETag` and `x-goog-generation` headers of an XML API answer.
fn with_etag_header(response: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return response;
    };
    let Ok(object) = serde_json::from_str::<serde_json::Value>(body) else {
        return response;
    };
    let (Some(etag), Some(generation)) = (object["etag"].as_str(), object["generation"].as_str())
    else {
        return response;
    };
    format!("{head}\r\nETag: \"{etag}\"\r\nx-goog-generation: {generation}\r\n\r\n{body}")
        .into_bytes()
}

/// A local folder through `file://` URLs.
pub struct Folder {
    pub root: tempfile::TempDir,
}

impl TestStore for Folder {
    fn url(&self, prefix: &str) -> String {
        format!("file://{}/{prefix}", self.root.path().display())
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn server(&self) -> Option<&Server> {
        None
    }

    fn bucket(&self, prefix: &str) -> Bucket {
        let path = self.root.path().join(prefix);
        std::fs::create_dir_all(&path).unwrap();
        let store = object_store::local::LocalFileSystem::new_with_prefix(&path).unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        Bucket::with_store(store, Location::local(path))
    }
}

/// `METHOD path` with a JSON `body` (creates a moto bucket or a fake-gcs-server bucket);
/// the server must answer 200.
fn http_request(port: u16, method: &str, path: &str, body: &str) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "{method} {path}: {response}"
    );
}

#[test]
fn access_logs_of_moto_azurite_and_fake_gcs_server_parse() {
    let log = concat!(
        // moto (werkzeug), plain and coloured
        "127.0.0.1 - - [30/Nov/2026 13:37:33] \"GET /dicomprep?list-type=2&prefix=in/ HTTP/1.1\" 200 -\n",
        "127.0.0.1 - - [30/Nov/2026 13:37:33] \"\u{1b}[35m\u{1b}[1mGET /dicomprep/in/a.dcm HTTP/1.1\u{1b}[0m\" 206 -\n",
        // Azurite
        "127.0.0.1 - - [30/Nov/2026:13:37:33 +0000] \"PUT /devstoreaccount1/dicomprep/in/a%20b.dcm HTTP/1.1\" 201 -\n",
        // fake-gcs-server (logfmt, quotes escaped)
        "time=2026-11-30T13:29:51.567Z level=INFO msg=\"127.0.0.1 - - [30/Nov/2026:13:29:51 +0000] \\\"GET /b1/in%2Fa.dcm HTTP/1.1\\\" 206 0\\n\"\n",
        "Azurite Blob service is successfully listening at http://127.0.0.1:10000\n",
    );
    let parsed: Vec<(String, String, u16)> = requests(log)
        .into_iter()
        .map(|r| (r.method, r.path, r.status))
        .collect();
    let expected = [
        ("GET", "/dicomprep", 200),
        ("GET", "/dicomprep/in/a.dcm", 206),
        ("PUT", "/devstoreaccount1/dicomprep/in/a b.dcm", 201),
        ("GET", "/b1/in/a.dcm", 206),
    ];
    let expected: Vec<(String, String, u16)> = expected
        .iter()
        .map(|(m, p, s)| (m.to_string(), p.to_string(), *s))
        .collect();
    assert_eq!(parsed, expected);
}
