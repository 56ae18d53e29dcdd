//! HTTP benchmarks of the shopping cart's inventory function, side by side
//! in one run with a bare hyper server (the ceiling) and the same function
//! on the official Python SDK behind aiohttp; then latency at half the
//! maximum throughput, memory with idle keep-alive connections, and
//! optionally a soak. Prints ratios, since absolute figures on a shared
//! 2-core machine move from run to run.
//!
//! Run it through `benches/run.sh`, which installs wrk and the Python SDK
//! and builds this with the `production` profile. Options:
//!
//! ```text
//! --duration SECS     each throughput and latency run (default 10)
//! --connections N     wrk connections (default 64)
//! --threads N         wrk threads (default 2)
//! --python PATH       a Python with apache-flink-statefun and aiohttp (no Python rows without it)
//! --idle N            idle keep-alive connections for the memory test (default 1000; 0 skips)
//! --soak SECS         soak duration at 1,000 connections (default 0: no soak)
//! --idle-only         only the idle-connection memory test (e.g. to try allocator
//!                     settings: `MALLOC_ARENA_MAX=1 http-bench --idle-only`)
//! --write-to DIR      only write the request bodies and wrk's script there, for profiling:
//!                     BODY=DIR/inventory-1.bin wrk -s DIR/post.lua http://127.0.0.1:PORT/statefun
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark reports

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use statefun_benches::client::Connection;
use statefun_benches::process::{ServerProcess, sibling};
use statefun_benches::wrk::{Load, POST_SCRIPT, Report};
use statefun_benches::{check_inventory_response, inventory_request, load, rss_kib};

struct Args {
    duration: Duration,
    connections: usize,
    threads: usize,
    python: Option<PathBuf>,
    idle: usize,
    soak: Duration,
    write_to: Option<PathBuf>,
    idle_only: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        duration: Duration::from_secs(10),
        connections: 64,
        threads: 2,
        python: None,
        idle: 1000,
        soak: Duration::ZERO,
        write_to: None,
        idle_only: false,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || {
            given
                .next()
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--duration" => args.duration = Duration::from_secs(value()?.parse()?),
            "--connections" => args.connections = value()?.parse()?,
            "--threads" => args.threads = value()?.parse()?,
            "--python" => args.python = Some(value()?.into()),
            "--idle" => args.idle = value()?.parse()?,
            "--soak" => args.soak = Duration::from_secs(value()?.parse()?),
            "--write-to" => args.write_to = Some(value()?.into()),
            "--idle-only" => args.idle_only = true,
            other => {
                bail!("unknown option {other:?} (see the top of benches/src/bin/http-bench.rs)")
            }
        }
    }
    Ok(args)
}

/// A function server under load, named in the report.
struct Server {
    name: &'static str,
    process: ServerProcess,
    port: u16,
}

impl Server {
    fn start(name: &'static str, command: Command) -> anyhow::Result<Self> {
        let process = ServerProcess::start(command).with_context(|| format!("starting {name}"))?;
        let port = process.port();
        Ok(Self {
            name,
            process,
            port,
        })
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        Ok(rss_kib(self.process.id())?)
    }
}

fn start(kind: Kind, python: Option<&Path>) -> anyhow::Result<Server> {
    match kind {
        Kind::Bare => Server::start("bare hyper", Command::new(sibling("bare-hyper")?)),
        Kind::Rust => Server::start("Rust SDK", Command::new(sibling("cart-server")?)),
        Kind::Python => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/shopping-cart/python/shopping_cart.py");
            let mut command = Command::new(python.context("no --python")?);
            command.arg(script).arg("--aiohttp").arg("0");
            Server::start("Python SDK", command)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Bare,
    Rust,
    Python,
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let open_files = open_file_limit()?;
    let needed = args.idle.max(if args.soak.is_zero() { 0 } else { 1000 }) + 200;
    ensure!(
        open_files >= needed as u64,
        "the open-file limit is {open_files}; {needed} are needed: raise it with `ulimit -Sn` (benches/run.sh raises it to the hard limit)"
    );
    let dir = args.write_to.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("statefun-http-bench-{}", std::process::id()))
    });
    fs::create_dir_all(&dir)?;
    let script = dir.join("post.lua");
    fs::write(&script, POST_SCRIPT)?;
    let bodies = [("1 invocation", 1_usize), ("batch of 100", 100)];
    let mut body_files = Vec::new();
    for (_, n) in bodies {
        let path = dir.join(format!("inventory-{n}.bin"));
        fs::write(&path, inventory_request(n))?;
        body_files.push(path);
    }
    if args.idle_only {
        fs::remove_dir_all(&dir)?;
        return idle(args.idle, &inventory_request(1));
    }
    if args.write_to.is_some() {
        println!(
            "wrote {} and the request bodies to {}",
            script.display(),
            dir.display()
        );
        return Ok(());
    }

    println!("# HTTP: shopping-cart inventory, RequestItem with both states present");
    println!(
        "wrk -t{} -c{} -d{}s, server and load generator on the same {} cores\n",
        args.threads,
        args.connections,
        args.duration.as_secs(),
        thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    let mut kinds = vec![Kind::Bare, Kind::Rust];
    if args.python.is_some() {
        kinds.push(Kind::Python);
    }
    // results[kind][body]
    let mut results: Vec<Vec<Report>> = Vec::new();
    for &kind in &kinds {
        let server = start(kind, args.python.as_deref())?;
        // The answers are the expected ones (the ceiling answers nothing).
        let mut connection = Connection::open(server.port)?;
        for (&(_, n), _) in bodies.iter().zip(&body_files) {
            let (status, answer) = connection.post(&inventory_request(n))?;
            ensure!(status == 200, "{} answered {status}", server.name);
            if kind != Kind::Bare {
                check_inventory_response(&answer, n)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("{}'s answer to {n} invocations", server.name))?;
            }
        }
        drop(connection);
        let mut reports = Vec::new();
        for ((label, n), body) in bodies.iter().zip(&body_files) {
            let load = Load {
                threads: args.threads,
                connections: args.connections,
                duration: args.duration,
                script: &script,
                body,
            };
            // Warm up, then measure.
            Load {
                duration: Duration::from_secs(2),
                ..load.clone()
            }
            .run(server.port)?;
            let report = load.run(server.port)?;
            println!(
                "{:<11} {:<13} {:>9.0} req/s {:>10.0} inv/s  p50 {}  p99 {}  errors {}",
                server.name,
                label,
                report.rate,
                report.rate * *n as f64,
                ms(report.latency[0]),
                ms(report.latency[3]),
                report.socket_errors + report.non_2xx
            );
            reports.push(report);
        }
        results.push(reports);
    }

    println!("\n## Ratios (same run)");
    let index = |k: Kind| kinds.iter().position(|&x| x == k);
    let rust = index(Kind::Rust).context("rust")?;
    let bare = index(Kind::Bare).context("bare")?;
    for (b, (label, _)) in bodies.iter().enumerate() {
        let r = results[rust][b].rate;
        print!(
            "{label:<13} Rust SDK / bare hyper = {:.2}x",
            r / results[bare][b].rate
        );
        if let Some(python) = index(Kind::Python) {
            print!(
                "   Rust SDK / Python SDK = {:.1}x",
                r / results[python][b].rate
            );
        }
        println!();
    }

    // Latency at half the maximum single-invocation throughput, open loop.
    let half = results[rust][0].rate / 2.0;
    println!(
        "\n## Latency at half the maximum throughput: {half:.0} req/s open loop, 1 invocation, 32 connections, {}s",
        args.duration.as_secs()
    );
    let single = inventory_request(1);
    for kind in [Kind::Bare, Kind::Rust] {
        let server = start(kind, None)?;
        let l = load::open_loop(server.port, &single, half, args.duration, 32)?;
        println!(
            "{:<11} achieved {:>7.0} req/s  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  errors {}",
            server.name,
            l.achieved_rate,
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p999),
            ms(l.max),
            l.errors
        );
    }

    if args.idle > 0 {
        idle(args.idle, &single)?;
    }
    if !args.soak.is_zero() {
        soak(&args, &script, &body_files[0])?;
    }
    fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Memory of the bare hyper server and of the Rust SDK server holding `n`
/// idle keep-alive connections, each of which has served one request and
/// serves another afterwards.
fn idle(n: usize, body: &[u8]) -> anyhow::Result<()> {
    println!("\n## Memory with {n} idle keep-alive connections");
    for kind in [Kind::Bare, Kind::Rust] {
        idle_one(kind, n, body)?;
    }
    Ok(())
}

fn idle_one(kind: Kind, n: usize, body: &[u8]) -> anyhow::Result<()> {
    let server = start(kind, None)?;
    thread::sleep(Duration::from_millis(500));
    let before = server.rss_kib()?;
    let mut connections = Vec::with_capacity(n);
    for _ in 0..n {
        let mut connection = Connection::open(server.port)?;
        let (status, _) = connection.post(body)?;
        ensure!(status == 200, "answered {status}");
        connections.push(connection);
    }
    thread::sleep(Duration::from_secs(2));
    let held = server.rss_kib()?;
    // Every connection is still open and served.
    for connection in &mut connections {
        let (status, _) = connection.post(body)?;
        ensure!(status == 200, "answered {status} on an idle connection");
    }
    println!(
        "{:<11} RSS {:.1} MB before, {:.1} MB holding {n} idle connections ({:.1} KB each); all {n} served again afterwards",
        server.name,
        before as f64 / 1024.0,
        held as f64 / 1024.0,
        (held.saturating_sub(before)) as f64 / n as f64
    );
    Ok(())
}

/// wrk at 1,000 connections for `args.soak` against the Rust SDK server,
/// sampling its memory every 10 s.
fn soak(args: &Args, script: &Path, body: &Path) -> anyhow::Result<()> {
    let server = start(Kind::Rust, None)?;
    let port = server.port;
    let load = Load {
        threads: args.threads,
        connections: 1000,
        duration: args.soak,
        script,
        body,
    };
    println!(
        "\n## Soak: Rust SDK server, 1 invocation, wrk -t{} -c1000 -d{}s",
        args.threads,
        args.soak.as_secs()
    );
    let start = Instant::now();
    let (report, samples) = thread::scope(|scope| {
        let wrk = scope.spawn(|| load.run(port));
        let mut samples = Vec::new();
        while !wrk.is_finished() {
            thread::sleep(Duration::from_secs(1));
            if samples.len() < (start.elapsed().as_secs() / 10) as usize + 1 {
                samples.push((start.elapsed(), server.rss_kib()));
            }
        }
        (wrk.join(), samples)
    });
    let report = report.map_err(|_| anyhow::anyhow!("wrk thread panicked"))??;
    let mb: Vec<f64> = samples
        .iter()
        .filter_map(|(_, rss)| rss.as_ref().ok())
        .map(|&kib| kib as f64 / 1024.0)
        .collect();
    println!(
        "{} requests, {:.0} req/s, p99 {}, socket errors {}, non-2xx {}",
        report.requests,
        report.rate,
        ms(report.latency[3]),
        report.socket_errors,
        report.non_2xx
    );
    println!(
        "RSS every 10 s (MB): {}",
        mb.iter()
            .map(|m| format!("{m:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Flat: after the first minute, memory never rises more than 5% (or
    // 1 MB) above what it was at the end of that minute.
    let warm = mb.get(6).copied().unwrap_or_default();
    let peak_after = mb.iter().skip(6).copied().fold(0.0, f64::max);
    let flat = peak_after <= (warm * 1.05).max(warm + 1.0);
    let clean = report.socket_errors == 0 && report.non_2xx == 0;
    println!(
        "after 60 s: {warm:.1} MB, highest later {peak_after:.1} MB: {}; {}",
        if flat { "flat" } else { "GROWING" },
        if clean { "zero errors" } else { "ERRORS" }
    );
    Ok(())
}

/// The soft limit on open files, from `/proc/self/limits`.
fn open_file_limit() -> anyhow::Result<u64> {
    let limits = fs::read_to_string("/proc/self/limits")?;
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|soft| soft.parse().ok())
        .context("no open-file limit in /proc/self/limits")
}
