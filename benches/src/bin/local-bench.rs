//! statefun-local against function servers: wall-clock time from start to
//! exit of a run that reads a file of input, calls the functions over HTTP
//! and ends when everything is applied (its final checkpoint included),
//! with the state of every address checked afterwards and the process's
//! peak memory (`VmHWM`). `benches/local.sh` builds and runs it.
//!
//! ```text
//! local-bench [--runs N] [--only NAME]... [--latency-ms MS] [--per-address N] [--local PATH] [-- STATEFUN-LOCAL ARGS]
//! ```
//!
//! `--per-address N` sends N messages to each address instead of the
//! workload's own number (to see memory stay flat as input grows).
//!
//! Workloads (`--only` picks some):
//! - `two-per-address`: 400 messages to 200 addresses of `bench/counter`
//!   (two each) on `latency-server`, which answers after `--latency-ms`
//!   (default 20).
//! - `wide`: 10,000 addresses × 10 messages on the same server.
//! - `cart`: 10,000 `Restock` records to 1,000 inventories (ten each) of the
//!   shopping cart served by `cart-server` (the SDK's own server, answering
//!   at once).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value as Json, json};
use statefun_benches::process::{ServerProcess as Server, sibling};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    TwoPerAddress,
    Wide,
    Cart,
}

impl Workload {
    const ALL: [Self; 3] = [Self::TwoPerAddress, Self::Wide, Self::Cart];

    fn name(self) -> &'static str {
        match self {
            Self::TwoPerAddress => "two-per-address",
            Self::Wide => "wide",
            Self::Cart => "cart",
        }
    }

    /// (addresses, messages per address).
    fn shape(self) -> (usize, usize) {
        let per_address = PER_ADDRESS.load(std::sync::atomic::Ordering::Relaxed);
        let (addresses, own) = match self {
            Self::TwoPerAddress => (200, 2),
            Self::Wide => (10_000, 10),
            Self::Cart => (1_000, 10),
        };
        (addresses, if per_address > 0 { per_address } else { own })
    }
}

/// `--per-address`, 0 when not given.
static PER_ADDRESS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct Args {
    runs: usize,
    only: Vec<Workload>,
    latency_ms: u64,
    local: PathBuf,
    extra: Vec<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        runs: 3,
        only: Vec::new(),
        latency_ms: 20,
        local: sibling("statefun-local")?,
        extra: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--runs" => args.runs = value()?.parse()?,
            "--latency-ms" => args.latency_ms = value()?.parse()?,
            "--local" => args.local = value()?.into(),
            "--per-address" => {
                PER_ADDRESS.store(value()?.parse()?, std::sync::atomic::Ordering::Relaxed);
            }
            "--only" => {
                let name = value()?;
                let workload = Workload::ALL
                    .into_iter()
                    .find(|w| w.name() == name)
                    .with_context(|| format!("unknown workload {name:?}"))?;
                args.only.push(workload);
            }
            "--" => {
                args.extra.extend(it.by_ref());
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    if args.only.is_empty() {
        args.only = Workload::ALL.to_vec();
    }
    Ok(args)
}

/// The module of `bench/counter` at `port`, with an ingress topic `add`.
fn counter_module(port: u16) -> String {
    format!(
        "kind: io.statefun.endpoints.v2/http
spec:
  functions: bench/*
  urlPathTemplate: http://127.0.0.1:{port}/statefun
---
kind: io.statefun.kafka.v1/ingress
spec:
  id: bench/in
  address: kafka:9092
  consumerGroupId: bench
  startupPosition:
    type: earliest
  topics:
    - topic: add
      valueType: io.statefun.types/long
      targets:
        - bench/counter
"
    )
}

/// The input: every address's first message, then every second one, and
/// so on (so each round of messages reaches every address).
fn input(workload: Workload) -> String {
    let (addresses, per_address) = workload.shape();
    let mut out = String::new();
    for _ in 0..per_address {
        for a in 0..addresses {
            let line = match workload {
                Workload::Cart => json!({"topic": "restock", "key": format!("item-{a}"),
                    "value": {"item_id": format!("item-{a}"), "quantity": 1}}),
                _ => json!({"topic": "add", "key": format!("a-{a}"), "value": 1}),
            };
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// Every address's state as of the last checkpoint.
fn state(local: &Path, dir: &Path) -> anyhow::Result<BTreeMap<String, Json>> {
    let output = Command::new(local)
        .arg("state")
        .arg("--state-dir")
        .arg(dir)
        .output()?;
    ensure!(
        output.status.success(),
        "statefun-local state: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)?
        .lines()
        .map(|l| {
            let v: Json = serde_json::from_str(l)?;
            let address = v["address"].as_str().context("address")?.to_owned();
            Ok((address, v["state"].clone()))
        })
        .collect()
}

/// Checks that every address holds what its messages add up to.
fn check(workload: Workload, state: &BTreeMap<String, Json>) -> anyhow::Result<()> {
    let (addresses, per_address) = workload.shape();
    for a in 0..addresses {
        let (address, value) = match workload {
            Workload::Cart => {
                let address = format!("com.example/inventory:item-{a}");
                let value = &state
                    .get(&address)
                    .with_context(|| format!("no {address}"))?["stock"]["value"];
                (address, value.clone())
            }
            _ => {
                let address = format!("bench/counter:a-{a}");
                let value = &state
                    .get(&address)
                    .with_context(|| format!("no {address}"))?["count"]["value"];
                (address, value.clone())
            }
        };
        ensure!(
            value == json!(per_address),
            "{address} holds {value}, not {per_address}"
        );
    }
    Ok(())
}

struct Run {
    wall: Duration,
    peak_kib: u64,
    /// CPU time of statefun-local and of the function server.
    cpu: Duration,
    server_cpu: Duration,
}

fn run_once(args: &Args, workload: Workload, n: usize) -> anyhow::Result<Run> {
    let server = match workload {
        Workload::Cart => Server::start(Command::new(sibling("cart-server")?))?,
        _ => {
            let mut command = Command::new(sibling("latency-server")?);
            command.arg("0").arg(args.latency_ms.to_string());
            Server::start(command)?
        }
    };
    let dir = std::env::temp_dir().join(format!(
        "statefun-local-bench-{}-{}-{n}",
        std::process::id(),
        workload.name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let input_file = dir.join("input.jsonl");
    std::fs::write(&input_file, input(workload))?;
    let mut command = Command::new(&args.local);
    match workload {
        Workload::Cart => {
            let module = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/shopping-cart/deploy/module.yaml");
            command
                .arg("--module")
                .arg(module)
                .arg("--rewrite-url")
                .arg(format!(
                    "http://shopping-cart:8000=http://127.0.0.1:{}",
                    server.port()
                ));
        }
        _ => {
            let module = dir.join("module.yaml");
            std::fs::write(&module, counter_module(server.port()))?;
            command.arg("--module").arg(module);
        }
    }
    let state_dir = dir.join("state");
    command
        .arg("--state-dir")
        .arg(&state_dir)
        .arg("--input")
        .arg(&input_file)
        .arg("--egress")
        .arg(dir.join("egress.jsonl"))
        .args(&args.extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("local.log"))?);
    let started = Instant::now();
    let mut child = command.spawn().context("starting statefun-local")?;
    let pid = child.id();
    let mut peak = 0;
    let mut used = Duration::ZERO;
    let status = loop {
        if let Ok(kib) = statefun_benches::peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        if let Ok(cpu) = statefun_benches::cpu_time(pid) {
            used = used.max(cpu);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = started.elapsed();
    if !status.success() {
        let log = std::fs::read_to_string(dir.join("local.log")).unwrap_or_default();
        bail!("statefun-local failed: {status}\n{log}");
    }
    let server_cpu = statefun_benches::cpu_time(server.id()).unwrap_or_default();
    check(workload, &state(&args.local, &state_dir)?)?;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Run {
        wall,
        peak_kib: peak,
        cpu: used,
        server_cpu,
    })
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let mut out = String::new();
    for workload in &args.only {
        let (addresses, per_address) = workload.shape();
        let messages = addresses * per_address;
        let mut walls = Vec::new();
        let mut peaks = Vec::new();
        for n in 0..args.runs {
            let run = run_once(&args, *workload, n)?;
            let line = format!(
                "{:<16} run {n}: {:>7.3} s, {:>8.0} messages/s, peak RSS {:>6.1} MiB, CPU {:.2} s (function server {:.2} s)",
                workload.name(),
                run.wall.as_secs_f64(),
                messages as f64 / run.wall.as_secs_f64(),
                run.peak_kib as f64 / 1024.0,
                run.cpu.as_secs_f64(),
                run.server_cpu.as_secs_f64(),
            );
            report(&line);
            walls.push(run.wall.as_secs_f64());
            peaks.push(run.peak_kib);
        }
        let min = walls.iter().copied().fold(f64::INFINITY, f64::min);
        let max = walls.iter().copied().fold(0.0, f64::max);
        let peak = peaks.iter().copied().max().unwrap_or(0);
        let _ = writeln!(
            out,
            "{:<16} {messages} messages to {addresses} addresses: {min:.3}–{max:.3} s over {} runs, peak RSS up to {:.1} MiB",
            workload.name(),
            args.runs,
            peak as f64 / 1024.0
        );
    }
    report(&out);
    Ok(())
}

fn report(text: &str) {
    #[allow(clippy::print_stdout)] // the benchmark's output
    {
        println!("{text}");
    }
}
