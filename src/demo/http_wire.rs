//! Minimal HTTP/1.1 wire format: request parsing (Content-Length and
//! chunked bodies, `Expect: 100-continue`) and response heads / chunks.

use std::io::{self, BufRead, Read, Write};

/// Longest request line or header line accepted.
const MAX_LINE: usize = 16 * 1024;
/// Most header lines accepted.
const MAX_HEADERS: usize = 100;
/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// The terminating chunk of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A parsed HTTP request.
#[derive(Debug)]
pub struct Request {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Request target, e.g. `/mcp?x=1`.
    pub target: String,
    /// Whether the request was HTTP/1.0.
    pub http10: bool,
    /// Header (name, value) pairs in order; names as sent.
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The target without its query string.
    pub fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or("")
    }

    /// Whether the connection may be kept open after the response.
    pub fn keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.http10 { conn.contains("keep-alive") } else { !conn.split(',').any(|t| t.trim() == "close") }
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum WireError {
    /// The peer closed the connection before sending a request.
    Closed,
    /// An I/O error (including EOF in the middle of a request).
    Io(io::Error),
    /// A malformed request (answer 400 and close).
    Bad(String),
    /// The body is too large (answer 413 and close).
    TooLarge,
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

fn bad(msg: impl Into<String>) -> WireError {
    WireError::Bad(msg.into())
}

/// Reads one line (up to and including `\n`) into `buf`; returns its
/// length (0 at EOF).
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>) -> Result<usize, WireError> {
    buf.clear();
    let n = Read::take(&mut *r, MAX_LINE as u64 + 1).read_until(b'\n', buf)?;
    if n > MAX_LINE {
        return Err(bad("line too long"));
    }
    Ok(n)
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads one request. `w` receives `100 Continue` when the client asks.
pub fn read_request<R: BufRead, W: Write>(r: &mut R, w: &mut W) -> Result<Request, WireError> {
    let mut line = Vec::with_capacity(256);
    let mut blank = 0;
    loop {
        if read_line(r, &mut line)? == 0 {
            return Err(WireError::Closed);
        }
        if !trim_eol(&line).is_empty() {
            break;
        }
        blank += 1;
        if blank > 4 {
            return Err(bad("too many empty lines"));
        }
    }
    let request_line = std::str::from_utf8(trim_eol(&line)).map_err(|_| bad("request line is not UTF-8"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(bad("unsupported HTTP version")),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) || target.is_empty() {
        return Err(bad("malformed request line"));
    }
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        http10,
        headers: Vec::new(),
        body: Vec::new(),
    };
    loop {
        if read_line(r, &mut line)? == 0 {
            return Err(WireError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        let l = trim_eol(&line);
        if l.is_empty() {
            break;
        }
        if req.headers.len() == MAX_HEADERS {
            return Err(bad("too many headers"));
        }
        let l = std::str::from_utf8(l).map_err(|_| bad("header is not UTF-8"))?;
        let (name, value) = l.split_once(':').ok_or_else(|| bad("malformed header"))?;
        if name.is_empty() || name.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(bad("malformed header name"));
        }
        req.headers.push((name.to_string(), value.trim().to_string()));
    }
    let chunked = match req.header("transfer-encoding") {
        None => false,
        Some(te) if te.rsplit(',').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked")) => true,
        Some(_) => return Err(bad("unsupported Transfer-Encoding")),
    };
    let length = if chunked {
        None
    } else {
        let mut length: Option<usize> = None;
        for (_, v) in req.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
            let n: usize = v.parse().map_err(|_| bad("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(bad("conflicting Content-Length"));
            }
            length = Some(n);
        }
        if length.is_some_and(|l| l > MAX_BODY) {
            return Err(WireError::TooLarge);
        }
        length
    };
    let expects_body = chunked || length.is_some_and(|l| l > 0);
    if expects_body && !http10 && req.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }
    if chunked {
        req.body = read_chunked(r)?;
    } else if let Some(n) = length {
        let mut body = vec![0; n];
        r.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(req)
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, WireError> {
    let mut body = Vec::new();
    let mut line = Vec::new();
    loop {
        if read_line(r, &mut line)? == 0 {
            return Err(WireError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        let l = std::str::from_utf8(trim_eol(&line)).map_err(|_| bad("bad chunk size"))?;
        let size_text = l.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                if read_line(r, &mut line)? == 0 || trim_eol(&line).is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(WireError::TooLarge);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if read_line(r, &mut line)? == 0 || !trim_eol(&line).is_empty() {
            return Err(bad("missing CRLF after chunk"));
        }
    }
}

/// The reason phrase for the status codes the server uses.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// Builds a response head. `body_len` None means chunked transfer encoding.
pub fn head(status: u16, headers: &[(&str, &str)], body_len: Option<usize>, keep_alive: bool) -> Vec<u8> {
    let mut h = Vec::with_capacity(256);
    h.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes());
    for (name, value) in headers {
        h.extend_from_slice(name.as_bytes());
        h.extend_from_slice(b": ");
        h.extend_from_slice(value.as_bytes());
        h.extend_from_slice(b"\r\n");
    }
    match body_len {
        Some(n) => h.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes()),
        None => h.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    if !keep_alive {
        h.extend_from_slice(b"Connection: close\r\n");
    }
    h.extend_from_slice(b"\r\n");
    h
}

/// Appends `data` as one chunk of a chunked body (nothing if empty).
pub fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Request, WireError> {
        let mut sink = Vec::new();
        read_request(&mut raw.as_bytes(), &mut sink)
    }

    #[test]
    fn content_length_body() {
        let r = parse(
            "POST /mcp?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nMcp-Session-Id: abc\r\n\r\nhelloEXTRA",
        )
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path(), "/mcp");
        assert_eq!(r.body, b"hello");
        assert_eq!(r.header("mcp-session-id"), Some("abc"));
        assert!(r.keep_alive());
    }

    #[test]
    fn chunked_body_and_continue() {
        let raw = "POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let mut sink = Vec::new();
        let r = read_request(&mut raw.as_bytes(), &mut sink).unwrap();
        assert_eq!(r.body, b"hello world");
        assert_eq!(sink, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap().keep_alive());
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive());
        assert!(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap().keep_alive());
    }

    #[test]
    fn sequential_requests_on_one_stream() {
        let raw = "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
        let mut input = raw.as_bytes();
        let mut sink = Vec::new();
        assert_eq!(read_request(&mut input, &mut sink).unwrap().path(), "/a");
        assert_eq!(read_request(&mut input, &mut sink).unwrap().body, b"hi");
        assert!(matches!(read_request(&mut input, &mut sink), Err(WireError::Closed)));
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(parse("hello\r\n\r\n"), Err(WireError::Bad(_))));
        assert!(matches!(parse("GET / HTTP/2\r\n\r\n"), Err(WireError::Bad(_))));
        assert!(matches!(parse("GET / HTTP/1.1\r\nno colon\r\n\r\n"), Err(WireError::Bad(_))));
        assert!(matches!(parse("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), Err(WireError::Bad(_))));
        assert!(matches!(
            parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
            Err(WireError::Bad(_))
        ));
        assert!(matches!(
            parse("POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"),
            Err(WireError::TooLarge)
        ));
        assert!(matches!(
            parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Err(WireError::Bad(_))
        ));
        assert!(matches!(parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab"), Err(WireError::Io(_))));
        assert!(matches!(parse(""), Err(WireError::Closed)));
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_LINE));
        assert!(matches!(parse(&long), Err(WireError::Bad(_))));
    }

    #[test]
    fn builds_heads_and_chunks() {
        let h = head(200, &[("Content-Type", "application/json")], Some(2), true);
        assert_eq!(h, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n");
        let h = head(202, &[], None, false);
        assert_eq!(h, b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        let mut c = Vec::new();
        chunk(&mut c, b"0123456789abcdefX");
        assert_eq!(c, b"11\r\n0123456789abcdefX\r\n");
    }
}
