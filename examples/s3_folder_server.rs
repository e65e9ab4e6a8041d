//! A read-only S3 endpoint over a local folder, for benchmarks only: each sub-folder of ROOT is
//! a bucket, each file under it an object whose key is its path below the bucket folder.
//!
//! ```text
//! cargo run --release --example s3_folder_server -- --root /tmp/s3root --port 0
//! AWS_ENDPOINT_URL=http://127.0.0.1:PORT AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=x \
//!     AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1 dicomprep index s3://BUCKET/PREFIX --db F
//! ```
//!
//! It exists so that S3 benchmarks measure dicomprep rather than the server: moto and s3s-fs
//! spend far more time per listing page and per ranged GET than dicomprep spends per object.
//! At start it walks ROOT once and keeps a sorted in-memory index of (key, size, mtime) per
//! bucket, so a listing page is a binary search and a GET one positioned read of the file.
//! Files changed after the start are not seen (restart it); it answers path-style requests
//! (`/bucket/key`) over HTTP/1.1 with keep-alive, a thread per connection: ListObjectsV2, GET
//! (whole or one `Range`) and HEAD; anything else is refused with `NotImplemented`.
//!
//! It checks no signature and no credential: it is a loopback benchmark server, not a test
//! double for correctness (the store tests use moto) and never something to expose.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use clap::Parser;

#[path = "s3_folder_server/dates.rs"]
mod dates;
#[path = "s3_folder_server/listing.rs"]
mod listing;

use dates::http_date;
use listing::{ListQuery, Start, list_xml, xml_escape};

/// Serve the sub-folders of ROOT as S3 buckets (read-only, no authentication, benchmarks only).
#[derive(Debug, Parser)]
struct Args {
    /// Folder whose sub-folders are the buckets.
    #[arg(long)]
    root: PathBuf,
    /// Loopback port to listen on (0: a free one); `listening on 127.0.0.1:PORT` is printed.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Most keys in one listing page (S3's own limit is 1,000).
    #[arg(long, default_value_t = 1000)]
    page_size: usize,
    /// Milliseconds each request waits before it is answered: a model of a remote store's
    /// latency (S3's documented first-byte latency for small objects is 100-200 ms). The
    /// wait costs no CPU; 0 answers at once.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let buckets = match index_root(&args.root) {
        Ok(buckets) => buckets,
        Err(err) => {
            eprintln!("error: cannot index {}: {err}", args.root.display());
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", args.port)) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on 127.0.0.1:{}: {err}", args.port);
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map_or(args.port, |a| a.port());
    let objects: usize = buckets.values().map(Vec::len).sum();
    eprintln!("{objects} objects in {} buckets", buckets.len());
    println!("listening on 127.0.0.1:{port}");
    let _ = std::io::stdout().flush();
    let server = Arc::new(Server {
        root: args.root,
        buckets,
        page_size: args.page_size.max(1),
        latency: std::time::Duration::from_millis(args.latency_ms),
    });
    for connection in listener.incoming() {
        let Ok(connection) = connection else { continue };
        let server = server.clone();
        std::thread::spawn(move || server.serve(connection));
    }
    ExitCode::SUCCESS
}

/// One object of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Object {
    key: String,
    size: u64,
    /// Modification time: seconds and nanoseconds since 1970.
    mtime: (u64, u32),
}

impl Object {
    /// A stable ETag (quoted) from size and mtime: it changes when the file does.
    fn etag(&self) -> String {
        format!("\"{:x}-{:x}-{:x}\"", self.size, self.mtime.0, self.mtime.1)
    }
}

/// Bucket name → its objects sorted by key.
type Buckets = BTreeMap<String, Vec<Object>>;

/// Walks ROOT once: every sub-folder is a bucket, every file below it an object. Names that are
/// not UTF-8 are skipped with a warning.
fn index_root(root: &Path) -> std::io::Result<Buckets> {
    let mut buckets = Buckets::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            eprintln!("skipped {}: not UTF-8", entry.path().display());
            continue;
        };
        if entry.path().is_dir() {
            let mut objects = Vec::new();
            walk(&entry.path(), "", &mut objects)?;
            objects.sort_by(|a, b| a.key.cmp(&b.key));
            buckets.insert(name, objects);
        }
    }
    Ok(buckets)
}

fn walk(dir: &Path, prefix: &str, objects: &mut Vec<Object>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let Ok(name) = entry.file_name().into_string() else {
            eprintln!("skipped {}: not UTF-8", path.display());
            continue;
        };
        let key = format!("{prefix}{name}");
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            walk(&path, &format!("{key}/"), objects)?;
        } else if meta.is_file() {
            let mtime = meta
                .modified()?
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            objects.push(Object {
                key,
                size: meta.len(),
                mtime: (mtime.as_secs(), mtime.subsec_nanos()),
            });
        }
    }
    Ok(())
}

/// A parsed request: method, percent-decoded path, query parameters, and the headers we use.
#[derive(Debug, Default)]
struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    range: Option<String>,
    close: bool,
}

impl Request {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status line, extra headers and body (or, for an object, a part of a file).
struct Response {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

enum Body {
    Bytes(Vec<u8>),
    /// `length` bytes of an object's file from `start`.
    File {
        file: File,
        start: u64,
        length: u64,
    },
}

impl Response {
    fn xml(status: &'static str, body: String) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", "application/xml".into())],
            body: Body::Bytes(body.into_bytes()),
        }
    }

    fn error(status: &'static str, code: &str, resource: &str) -> Response {
        Response::xml(
            status,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{code}</Message><Resource>{}</Resource></Error>",
                xml_escape(resource)
            ),
        )
    }
}

struct Server {
    root: PathBuf,
    buckets: Buckets,
    page_size: usize,
    latency: std::time::Duration,
}

impl Server {
    /// Answers the requests of one connection until the client closes it or asks to.
    fn serve(&self, connection: TcpStream) {
        let _ = connection.set_nodelay(true);
        let Ok(writer) = connection.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(connection);
        let mut writer = std::io::BufWriter::with_capacity(64 * 1024, writer);
        while let Some(request) = read_request(&mut reader) {
            std::thread::sleep(self.latency);
            let response = self.answer(&request);
            // A body of another method may not be framed by Content-Length: stop there.
            let close = request.close || !matches!(request.method.as_str(), "GET" | "HEAD");
            let with_body = request.method != "HEAD";
            if send(&mut writer, response, with_body, close).is_err() || close {
                return;
            }
        }
    }

    fn answer(&self, request: &Request) -> Response {
        let path = request.path.trim_start_matches('/');
        let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
        if bucket.is_empty() || !matches!(request.method.as_str(), "GET" | "HEAD") {
            return Response::error("501 Not Implemented", "NotImplemented", &request.path);
        }
        let Some(objects) = self.buckets.get(bucket) else {
            return Response::error("404 Not Found", "NoSuchBucket", bucket);
        };
        if !key.is_empty() {
            return self.object(bucket, objects, key, request.range.as_deref());
        }
        if request.param("list-type") != Some("2") {
            return Response::error("501 Not Implemented", "NotImplemented", &request.path);
        }
        let query = ListQuery {
            prefix: request.param("prefix").unwrap_or_default(),
            delimiter: request.param("delimiter").filter(|d| !d.is_empty()),
            start: request
                .param("continuation-token")
                .map(Start::At)
                .or_else(|| request.param("start-after").map(Start::After)),
            max_keys: request
                .param("max-keys")
                .and_then(|m| m.parse().ok())
                .unwrap_or(self.page_size)
                .min(self.page_size),
        };
        Response::xml("200 OK", list_xml(bucket, objects, &query))
    }

    fn object(&self, bucket: &str, objects: &[Object], key: &str, range: Option<&str>) -> Response {
        let Ok(at) = objects.binary_search_by(|o| o.key.as_str().cmp(key)) else {
            return Response::error("404 Not Found", "NoSuchKey", key);
        };
        let object = &objects[at];
        // A file removed since the start is missing too.
        let Ok(file) = File::open(self.root.join(bucket).join(key)) else {
            return Response::error("404 Not Found", "NoSuchKey", key);
        };
        let mut headers = vec![
            ("Content-Type", "application/octet-stream".to_string()),
            ("ETag", object.etag()),
            ("Last-Modified", http_date(object.mtime.0)),
            ("Accept-Ranges", "bytes".into()),
        ];
        let (status, start, length) = match range.map(|r| byte_range(r, object.size)) {
            None | Some(Range::Ignored) => ("200 OK", 0, object.size),
            Some(Range::Unsatisfiable) => {
                let mut response =
                    Response::error("416 Requested Range Not Satisfiable", "InvalidRange", key);
                let total = format!("bytes */{}", object.size);
                response.headers.push(("Content-Range", total));
                return response;
            }
            Some(Range::Bytes(start, end)) => {
                let content_range = format!("bytes {start}-{}/{}", end - 1, object.size);
                headers.push(("Content-Range", content_range));
                ("206 Partial Content", start, end - start)
            }
        };
        Response {
            status,
            headers,
            body: Body::File {
                file,
                start,
                length,
            },
        }
    }
}

/// Reads one request (its head; a body is read and dropped), `None` at the end of the
/// connection or on a malformed request.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: method.to_string(),
        path: percent_decode(path, false),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (name, value) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(name, true), percent_decode(value, true))
            })
            .collect(),
        close: version == "HTTP/1.0",
        ..Request::default()
    };
    let mut length = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 || line.len() > 64 * 1024 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "range" => request.range = Some(value.to_string()),
            "content-length" => length = value.parse().ok()?,
            "connection" => request.close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink()).ok()?;
    Some(request)
}

/// Writes `response` (its body unless `with_body` is false, as for HEAD: Content-Length is
/// still the body's); an object's bytes are read from its file at their offset.
fn send(
    writer: &mut impl Write,
    response: Response,
    with_body: bool,
    close: bool,
) -> std::io::Result<()> {
    let length = match &response.body {
        Body::Bytes(bytes) => bytes.len() as u64,
        Body::File { length, .. } => *length,
    };
    write!(writer, "HTTP/1.1 {}\r\n", response.status)?;
    for (name, value) in &response.headers {
        write!(writer, "{name}: {value}\r\n")?;
    }
    let connection = if close { "close" } else { "keep-alive" };
    write!(
        writer,
        "Content-Length: {length}\r\nConnection: {connection}\r\n\r\n"
    )?;
    match response.body {
        _ if !with_body => {}
        Body::Bytes(bytes) => writer.write_all(&bytes)?,
        Body::File {
            file,
            start,
            length,
        } => {
            let mut buf = vec![0; length.min(1 << 20) as usize];
            let mut done = 0;
            while done < length {
                let n = buf.len().min((length - done) as usize);
                file.read_exact_at(&mut buf[..n], start + done)?;
                writer.write_all(&buf[..n])?;
                done += n as u64;
            }
        }
    }
    writer.flush()
}

/// What a `Range` header asks of an object of a given size.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Bytes `start..end` (end exclusive, within the object).
    Bytes(u64, u64),
    /// Past the end: 416.
    Unsatisfiable,
    /// Not one byte range S3 understands: the whole object, as S3 does.
    Ignored,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n`; an end past the object is cut to its size.
fn byte_range(header: &str, size: u64) -> Range {
    let Some((first, last)) = header
        .strip_prefix("bytes=")
        .filter(|r| !r.contains(','))
        .and_then(|r| r.split_once('-'))
    else {
        return Range::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = |text: &str| text.parse::<u64>().ok();
    match (first.is_empty(), parsed(first), parsed(last)) {
        (true, _, Some(0)) => Range::Unsatisfiable,
        (true, _, Some(n)) if size > 0 => Range::Bytes(size.saturating_sub(n), size),
        (true, _, Some(_)) => Range::Unsatisfiable,
        (false, Some(start), _) if start >= size => Range::Unsatisfiable,
        (false, Some(start), None) if last.is_empty() => Range::Bytes(start, size),
        (false, Some(start), Some(end)) if end >= start => Range::Bytes(start, size.min(end + 1)),
        _ => Range::Ignored,
    }
}

/// `%XX` decoded; in a query (`form`), `+` is a space.
fn percent_decode(text: &str, form: bool) -> String {
    let text = if form {
        text.replace('+', " ")
    } else {
        text.to_string()
    };
    percent_encoding::percent_decode_str(&text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_are_read_as_s3_reads_them() {
        assert_eq!(byte_range("bytes=0-99", 1000), Range::Bytes(0, 100));
        assert_eq!(byte_range("bytes=900-2000", 1000), Range::Bytes(900, 1000));
        assert_eq!(byte_range("bytes=10-", 1000), Range::Bytes(10, 1000));
        assert_eq!(byte_range("bytes=-10", 1000), Range::Bytes(990, 1000));
        assert_eq!(byte_range("bytes=1000-1001", 1000), Range::Unsatisfiable);
        assert_eq!(byte_range("bytes=0-1,5-6", 1000), Range::Ignored);
        assert_eq!(byte_range("items=0-1", 1000), Range::Ignored);
    }

    #[test]
    fn keys_are_escaped_and_decoded() {
        assert_eq!(xml_escape("a&b<c>\"'"), "a&amp;b&lt;c&gt;&quot;&apos;");
        assert_eq!(percent_decode("a%2Fb+c", true), "a/b c");
        assert_eq!(percent_decode("a%2Fb+c", false), "a/b+c");
    }
}
