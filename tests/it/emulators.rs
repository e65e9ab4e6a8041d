//! Real object-store servers for the store tests: the moto S3 server and Azurite, installed by
//! `scripts/setup.sh --test` under `.emulators/`, each started on a free loopback port per test
//! and killed when dropped. A missing server fails the test (it never skips silently).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dicomprep::store::{Bucket, Location};
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;

/// Where `scripts/setup.sh --test` installs the servers.
fn installed(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".emulators")
        .join(relative);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/setup.sh --test` to install the S3 and Azure test servers",
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

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(mut command: Command, port: u16, data: tempfile::TempDir) -> Server {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let server = Server {
            child,
            port,
            _data: data,
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
        http_put(port, &format!("/{name}"));
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
        command.args(["--skipApiVersionCheck", "--disableTelemetry", "--silent"]);
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

    fn bucket(&self, prefix: &str) -> Bucket {
        let path = self.root.path().join(prefix);
        std::fs::create_dir_all(&path).unwrap();
        let store = object_store::local::LocalFileSystem::new_with_prefix(&path).unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        Bucket::with_store(store, Location::local(path))
    }
}

/// `PUT path` with an empty body (creates a moto bucket).
fn http_put(port: u16, path: &str) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}
