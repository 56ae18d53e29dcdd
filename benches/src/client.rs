//! A blocking HTTP/1.1 keep-alive client that does one thing: POST a body
//! to `/statefun` and read the answer. Small enough that the load it adds
//! is a write and a read per request.

use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, TcpStream};

/// One keep-alive connection to `127.0.0.1:<port>`.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use statefun_benches::client::Connection;
///
/// let mut connection = Connection::open(8000)?;
/// let (status, body) = connection.post(&statefun_benches::inventory_request(1))?;
/// assert_eq!(status, 200);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    request: Vec<u8>,
}

impl Connection {
    /// Connects.
    ///
    /// # Errors
    ///
    /// When the connection cannot be made.
    pub fn open(port: u16) -> io::Result<Self> {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            request: Vec::new(),
        })
    }

    /// Sends `body` to `/statefun` and returns the status and the body of
    /// the answer.
    ///
    /// # Errors
    ///
    /// When writing or reading fails, or the answer is not a plain HTTP/1.1
    /// response with a `Content-Length` (the only kind the servers measured
    /// here send).
    pub fn post(&mut self, body: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        self.send(body)?;
        self.receive()
    }

    /// Writes one request without waiting for the answer.
    ///
    /// # Errors
    ///
    /// When writing fails.
    pub fn send(&mut self, body: &[u8]) -> io::Result<()> {
        self.request.clear();
        write!(
            self.request,
            "POST /statefun HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.writer.write_all(&self.request)
    }

    /// Reads one answer.
    ///
    /// # Errors
    ///
    /// As [`Connection::post`].
    pub fn receive(&mut self) -> io::Result<(u16, Vec<u8>)> {
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        let status = line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| bad(format!("not an HTTP/1.1 status line: {line:?}")))?;
        let mut length = None;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = Some(
                    value
                        .trim()
                        .parse::<usize>()
                        .map_err(|e| bad(format!("Content-Length {value:?}: {e}")))?,
                );
            }
        }
        let length = length.ok_or_else(|| bad("an answer without Content-Length".to_owned()))?;
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, body))
    }
}
