//! A streaming reader of `multipart/related` bodies (RFC 2046), as WADO-RS retrieves answer:
//! parts are read one at a time from any `Read`, never the whole body first. A part's
//! Content-Length is used when given and checked against where the next boundary is; without
//! one, the part runs to the next boundary. Pure code over `Read`.

use std::io::{BufRead, BufReader, Read};

/// Why a multipart body cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    /// Reading the body failed (a reset or stalled connection: worth a retry).
    #[error("reading the answer failed: {0}")]
    Io(#[from] std::io::Error),
    /// The body is not what it says (truncated, a lying Content-Length, no boundary).
    #[error("{0}")]
    Format(String),
}

/// Longest header line of a part.
const MAX_HEADER_LINE: u64 = 16 << 10;

/// One part: its Content-Type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Parts of a multipart body, read in order.
pub struct MultipartReader<R: Read> {
    reader: BufReader<R>,
    /// `\r\n--boundary`: what ends every part.
    delimiter: Vec<u8>,
    /// Largest part accepted (bounds memory).
    max_part: u64,
    started: bool,
    finished: bool,
}

/// The `boundary` parameter of a multipart Content-Type, quoted or not.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let kind = parts.next()?.trim().to_ascii_lowercase();
    if !kind.starts_with("multipart/") {
        return None;
    }
    parts.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

impl<R: Read> MultipartReader<R> {
    /// A reader of `body`, whose Content-Type is `content_type`; parts longer than `max_part`
    /// bytes are refused.
    pub fn new(body: R, content_type: &str, max_part: u64) -> Result<Self, MultipartError> {
        let boundary = boundary(content_type).ok_or_else(|| {
            MultipartError::Format(format!(
                "the answer is {content_type:?}, not a multipart body with a boundary"
            ))
        })?;
        Ok(MultipartReader {
            reader: BufReader::with_capacity(64 << 10, body),
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            max_part,
            started: false,
            finished: false,
        })
    }

    /// The next part, or `None` after the closing boundary.
    pub fn next_part(&mut self) -> Result<Option<Part>, MultipartError> {
        if self.finished {
            return Ok(None);
        }
        if !self.started {
            self.started = true;
            if self.skip_preamble()? {
                self.finished = true;
                return Ok(None);
            }
        }
        let headers = self.read_headers()?;
        let content_type = header(&headers, "content-type");
        let body = match header(&headers, "content-length") {
            Some(length) => {
                let length: u64 = length.trim().parse().map_err(|_| {
                    MultipartError::Format(format!("a part's Content-Length is {length:?}"))
                })?;
                self.read_counted(length)?
            }
            None => self.read_to_delimiter()?,
        };
        if self.after_boundary()? {
            self.finished = true;
        }
        Ok(Some(Part { content_type, body }))
    }

    /// Skips everything up to and including the first `--boundary` line; true when that is
    /// the closing boundary (a body without parts).
    fn skip_preamble(&mut self) -> Result<bool, MultipartError> {
        let first = &self.delimiter[2..];
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = (&mut self.reader)
                .take(self.max_part.min(1 << 20))
                .read_until(b'\n', &mut line)?;
            if read == 0 {
                return Err(truncated("before the first boundary"));
            }
            let line = line.trim_ascii_end();
            if line == first {
                return Ok(false);
            }
            if line.strip_suffix(b"--") == Some(first) {
                return Ok(true);
            }
        }
    }

    /// After a delimiter: `--` closes the body (true), CRLF starts another part (false).
    fn after_boundary(&mut self) -> Result<bool, MultipartError> {
        let mut line = Vec::new();
        (&mut self.reader).take(1024).read_until(b'\n', &mut line)?;
        if line.starts_with(b"--") {
            return Ok(true);
        }
        if line.is_empty() {
            return Err(truncated("after a boundary, without the closing boundary"));
        }
        if !line.trim_ascii().is_empty() {
            return Err(MultipartError::Format(
                "a boundary is followed by data instead of a line end".into(),
            ));
        }
        Ok(false)
    }

    /// A part's header lines, up to the blank line.
    fn read_headers(&mut self) -> Result<Vec<String>, MultipartError> {
        let mut headers = Vec::new();
        loop {
            let mut line = Vec::new();
            let read = (&mut self.reader)
                .take(MAX_HEADER_LINE)
                .read_until(b'\n', &mut line)?;
            if !line.ends_with(b"\n") {
                if read as u64 == MAX_HEADER_LINE {
                    return Err(MultipartError::Format(
                        "a part header line is too long".into(),
                    ));
                }
                return Err(truncated("in a part's headers"));
            }
            let text = String::from_utf8_lossy(line.trim_ascii()).into_owned();
            if text.is_empty() {
                return Ok(headers);
            }
            if headers.len() > 100 {
                return Err(MultipartError::Format("a part has over 100 headers".into()));
            }
            headers.push(text);
        }
    }

    /// Exactly `length` bytes, which the delimiter must follow.
    fn read_counted(&mut self, length: u64) -> Result<Vec<u8>, MultipartError> {
        if length > self.max_part {
            return Err(MultipartError::Format(format!(
                "a part declares {length} bytes, over the limit of {}",
                self.max_part
            )));
        }
        let mut body = Vec::with_capacity(length.min(64 << 20) as usize);
        (&mut self.reader).take(length).read_to_end(&mut body)?;
        if (body.len() as u64) < length {
            return Err(truncated(&format!(
                "after {} bytes of a part whose Content-Length says {length}",
                body.len()
            )));
        }
        let mut next = vec![0; self.delimiter.len()];
        let got = read_full(&mut self.reader, &mut next)?;
        if got < next.len() && next[..got] == self.delimiter[..got] {
            return Err(truncated("in the boundary after a part"));
        }
        if next[..got] != self.delimiter[..] {
            return Err(MultipartError::Format(format!(
                "a part's Content-Length ({length}) does not end where its boundary is"
            )));
        }
        Ok(body)
    }

    /// Bytes up to the next delimiter (consumed), scanning the buffer as it fills.
    fn read_to_delimiter(&mut self) -> Result<Vec<u8>, MultipartError> {
        let mut body = Vec::new();
        loop {
            let buffer = self.reader.fill_buf()?;
            if buffer.is_empty() {
                return Err(truncated("in a part, before its closing boundary"));
            }
            let searched_from = body.len().saturating_sub(self.delimiter.len() - 1);
            body.extend_from_slice(buffer);
            let consumed = buffer.len();
            if let Some(at) = find(&body[searched_from..], &self.delimiter) {
                let end = searched_from + at;
                // Give back what followed the delimiter.
                let after = body.len() - (end + self.delimiter.len());
                self.reader.consume(consumed - after);
                body.truncate(end);
                return Ok(body);
            }
            self.reader.consume(consumed);
            if body.len() as u64 > self.max_part {
                return Err(MultipartError::Format(format!(
                    "a part is longer than the limit of {} bytes",
                    self.max_part
                )));
            }
        }
    }
}

fn truncated(where_: &str) -> MultipartError {
    MultipartError::Format(format!("truncated multipart body: it ends {where_}"))
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` (lower case) among `Name: value` lines.
fn header(lines: &[String], name: &str) -> Option<String> {
    lines.iter().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/related; type=\"application/dicom\"; boundary=\"b0b\"";

    fn parts(body: &[u8]) -> Result<Vec<Part>, MultipartError> {
        // One byte per read: every split of delimiters across reads is exercised.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut reader = MultipartReader::new(Trickle(body), TYPE, 1 << 20)?;
        let mut out = Vec::new();
        while let Some(part) = reader.next_part()? {
            out.push(part);
        }
        Ok(out)
    }

    fn format_error(body: &[u8]) -> String {
        match parts(body) {
            Err(MultipartError::Format(reason)) => reason,
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn boundaries_are_found_quoted_or_not() {
        assert_eq!(boundary(TYPE).as_deref(), Some("b0b"));
        assert_eq!(
            boundary("Multipart/Related; boundary=abc; type=x").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary("application/dicom"), None);
        assert_eq!(boundary("multipart/related; type=x"), None);
    }

    #[test]
    fn parts_with_and_without_content_length() {
        let body = b"preamble\r\n--b0b\r\nContent-Type: application/dicom\r\nContent-Length: 9\r\n\r\nDICM\r\n--b\r\n--b0b\r\nContent-Type: application/dicom\r\n\r\nsecond --b0 part\r\n--b0b--\r\n";
        let parts = parts(body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"DICM\r\n--b");
        assert_eq!(parts[0].content_type.as_deref(), Some("application/dicom"));
        assert_eq!(parts[1].body, b"second --b0 part");
    }

    #[test]
    fn truncated_bodies_fail_with_a_reason() {
        let whole = b"--b0b\r\nContent-Length: 10\r\n\r\n0123456789\r\n--b0b--\r\n";
        for cut in [0, 3, 12, 30, 35, 40, whole.len() - 5] {
            let reason = format_error(&whole[..cut]);
            assert!(reason.contains("truncated"), "cut {cut}: {reason}");
        }
        let no_length = b"--b0b\r\nContent-Type: application/dicom\r\n\r\n01234567";
        assert!(format_error(no_length).contains("truncated"));
    }

    #[test]
    fn a_lying_content_length_is_caught() {
        let short = b"--b0b\r\nContent-Length: 4\r\n\r\n0123456789\r\n--b0b--\r\n";
        assert!(format_error(short).contains("Content-Length (4)"));
        let long = b"--b0b\r\nContent-Length: 14\r\n\r\n0123456789\r\n--b0b--\r\n";
        assert!(format_error(long).contains("Content-Length (14)"));
        let huge = b"--b0b\r\nContent-Length: 99999999999\r\n\r\n0123\r\n--b0b--\r\n";
        assert!(format_error(huge).contains("over the limit"));
        let nonsense = b"--b0b\r\nContent-Length: ten\r\n\r\n0123\r\n--b0b--\r\n";
        assert!(format_error(nonsense).contains("\"ten\""));
    }

    #[test]
    fn io_errors_stay_io_errors() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::ConnectionReset.into())
            }
        }
        let mut reader = MultipartReader::new(Broken, TYPE, 100).unwrap();
        assert!(matches!(reader.next_part(), Err(MultipartError::Io(_))));
        assert!(matches!(
            MultipartReader::new(Broken, "application/json", 100),
            Err(MultipartError::Format(_))
        ));
    }
}
