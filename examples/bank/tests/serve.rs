//! The built binary, started as a user starts it: its log says where it
//! listens and what it serves (issue #21, item 3: the SDK logs with
//! `tracing`, and the examples install a subscriber so the line is seen).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kills the server however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary with `args` and returns its first stderr line that
/// contains `needle` (and every line before it, for the failure message).
fn first_line_with(args: &[&str], needle: &str) -> (String, Vec<String>) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bank"))
        .args(args)
        .env("PORT", port.to_string())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        if line.contains(needle) {
            return (line, seen);
        }
        seen.push(line);
    }
    panic!("no line with {needle:?} on stderr; it wrote: {seen:#?}");
}

#[test]
fn the_server_logs_where_it_listens_and_the_function_types_it_serves() {
    let (line, _) = first_line_with(&[], "StateFun server listening");
    assert!(line.contains("INFO"), "{line}");
    assert!(line.contains("bank/account"), "{line}");
    assert!(line.contains("bank/transfer"), "{line}");
    assert!(line.contains("0.0.0.0:"), "{line}");
}
