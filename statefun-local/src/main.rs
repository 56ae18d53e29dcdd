//! `statefun-local`: runs a StateFun application locally, without Flink,
//! Kafka or Docker: its `module.yaml`, its functions behind HTTP (written
//! with any StateFun SDK), input as JSON lines, egress as JSON lines, and
//! state that survives a kill. See `statefun-local --help` and
//! `docs/local.md`.

mod input;
mod module;
mod runtime;
mod sources;
mod store;
mod values;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stateful_functions::module_yaml::parse_duration;
use statefun_harness::{Checkpoint, EndpointOptions, Harness, HarnessBuilder};
use tokio::sync::{mpsc, watch};

use crate::input::Routes;
use crate::module::Module;
use crate::runtime::{ClockKind, Runtime, Settings, log, state_json};
use crate::sources::Source;

/// mimalloc rather than the system's allocator: answers are read on the
/// runtime's worker threads and freed on the engine's, which glibc's
/// allocator pays for in `malloc_consolidate` and arena locks. With
/// 10,000 addresses in flight it takes a fifth off the wall-clock time and
/// a quarter off the CPU time (`benches/local.sh --only wide`, interleaved
/// runs; docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HELP: &str = "\
statefun-local: run a StateFun application locally, without Flink, Kafka or Docker

USAGE:
    statefun-local [run] [OPTIONS]          run the module (the default)
    statefun-local check [--module FILE]    check a module.yaml and show what it declares
    statefun-local state [--state-dir DIR] [ADDRESS]
                                            print state as of the last checkpoint, as JSON
                                            (one address, namespace/name:id, or every address)

RUN OPTIONS:
    --module FILE              the module.yaml [default: module.yaml]
    --state-dir DIR            checkpoints and the ingress log [default: .statefun-local]
    --input FILE               JSON lines to read (repeatable; - is stdin) [default: stdin,
                               unless --http is given]
    --follow                   keep reading input files as they grow
    --http ADDR                serve the HTTP ingress on ADDR (e.g. 127.0.0.1:8090)
    --egress FILE              append egress records to FILE as JSON lines [default: stdout]
    --clock real|virtual       real time, or a virtual clock that only `advance` lines move
                               [default: real]
    --checkpoint-interval DUR  how often to checkpoint [default: 1s]
    --max-restarts N           restarts of a failing job before the run ends with the failure
                               [default: 10 with --clock virtual, unlimited with the real clock]
    --rewrite-url FROM=TO      call endpoints whose URL starts with FROM at TO instead
                               (repeatable), e.g. http://shopping-cart:8000=http://localhost:8000
    --partitions N             partitions (parallelism) [default: 1]
    --max-in-flight N          requests in flight per partition before it stops taking input
                               (statefun.async.max-per-task; 0: no bound) [default: 32768]
    --max-connections N        connections open at once per function type of an async (Netty)
                               endpoint whose module.yaml sets no pool_size [default: 1024]
    --seed N                   the scheduler's seed [default: 0]
    --allow-unknown-keys       ignore unknown module.yaml keys, as the runtime does
    --verbose                  log every event of the job to stderr
    -h, --help                 this help
    -V, --version              the version

INPUT LINES:
    {\"topic\": \"add-to-cart\", \"key\": \"kim\", \"value\": {...}}      a record of an ingress topic
    {\"to\": \"com.example/cart:kim\", \"type\": \"ns/Type\", \"value\": ..} a message to an address
    {\"advance\": \"15min\"}                                         move the virtual clock
    A value is `value` (JSON; built-in io.statefun.types/* take a JSON scalar), `value_text`
    (UTF-8 bytes) or `value_base64`.

HTTP INGRESS:
    POST /messages                                  JSON lines as above; 202 once durable
    POST /ingress/<topic>?key=<key>[&ingress=<id>]  the body is the record's value
    POST /addresses/<ns>/<name>:<id>?type=<type>    the body is the message's value
    GET  /state/<ns>/<name>:<id>                    the address's state now
";

/// Flink's restart strategy with checkpointing: keep restarting (a job on
/// the real clock restarts once a second at most).
const UNLIMITED_RESTARTS: u32 = u32::MAX;

/// On the virtual clock restarts take no time: a poison message would
/// restart the job at full speed forever.
const VIRTUAL_CLOCK_RESTARTS: u32 = 10;

#[derive(Debug)]
enum Mode {
    Run,
    Check,
    State(Option<String>),
}

#[derive(Debug)]
struct Args {
    mode: Mode,
    module: PathBuf,
    state_dir: PathBuf,
    inputs: Vec<PathBuf>,
    follow: bool,
    http: Option<SocketAddr>,
    egress: Option<PathBuf>,
    clock: ClockKind,
    checkpoint_interval: Duration,
    /// `None`: the clock's default.
    max_restarts: Option<u32>,
    rewrite_urls: Vec<(String, String)>,
    partitions: u32,
    max_in_flight: usize,
    max_connections: usize,
    seed: u64,
    allow_unknown_keys: bool,
    verbose: bool,
}

fn parse_args() -> Result<Option<Args>, String> {
    use lexopt::prelude::*;
    let mut args = Args {
        mode: Mode::Run,
        module: PathBuf::from("module.yaml"),
        state_dir: PathBuf::from(".statefun-local"),
        inputs: Vec::new(),
        follow: false,
        http: None,
        egress: None,
        clock: ClockKind::Real,
        checkpoint_interval: Duration::from_secs(1),
        max_restarts: None,
        rewrite_urls: Vec::new(),
        partitions: 1,
        max_in_flight: HarnessBuilder::DEFAULT_MAX_IN_FLIGHT,
        max_connections: EndpointOptions::DEFAULT_POOL_SIZE,
        seed: 0,
        allow_unknown_keys: false,
        verbose: false,
    };
    let mut parser = lexopt::Parser::from_env();
    let mut first = true;
    let text = |value: std::ffi::OsString| {
        value
            .into_string()
            .map_err(|v| format!("{v:?} is not UTF-8"))
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => {
                print(HELP);
                return Ok(None);
            }
            Short('V') | Long("version") => {
                print(&format!("statefun-local {}\n", env!("CARGO_PKG_VERSION")));
                return Ok(None);
            }
            Long("module") => args.module = parser.value().map_err(|e| e.to_string())?.into(),
            Long("state-dir") => args.state_dir = parser.value().map_err(|e| e.to_string())?.into(),
            Long("input") => args
                .inputs
                .push(parser.value().map_err(|e| e.to_string())?.into()),
            Long("follow") => args.follow = true,
            Long("http") => {
                let value = text(parser.value().map_err(|e| e.to_string())?)?;
                args.http =
                    Some(value.parse().map_err(|e| {
                        format!("--http {value:?}: {e} (write e.g. 127.0.0.1:8090)")
                    })?);
            }
            Long("egress") => args.egress = Some(parser.value().map_err(|e| e.to_string())?.into()),
            Long("clock") => {
                args.clock = match text(parser.value().map_err(|e| e.to_string())?)?.as_str() {
                    "real" => ClockKind::Real,
                    "virtual" => ClockKind::Virtual,
                    other => return Err(format!("--clock {other:?}: real or virtual")),
                };
            }
            Long("checkpoint-interval") => {
                let value = text(parser.value().map_err(|e| e.to_string())?)?;
                args.checkpoint_interval =
                    parse_duration(&value).map_err(|e| format!("--checkpoint-interval: {e}"))?;
                if args.checkpoint_interval.is_zero() {
                    return Err("--checkpoint-interval must be longer than zero".into());
                }
            }
            Long("max-restarts") => {
                args.max_restarts = Some(
                    parser
                        .value()
                        .map_err(|e| e.to_string())?
                        .parse()
                        .map_err(|e| format!("--max-restarts: {e}"))?,
                );
            }
            Long("rewrite-url") => {
                let value = text(parser.value().map_err(|e| e.to_string())?)?;
                let (from, to) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--rewrite-url {value:?}: write FROM=TO"))?;
                args.rewrite_urls.push((from.to_owned(), to.to_owned()));
            }
            Long("partitions") => {
                args.partitions = parser
                    .value()
                    .map_err(|e| e.to_string())?
                    .parse()
                    .map_err(|e| format!("--partitions: {e}"))?;
            }
            Long("max-in-flight") => {
                args.max_in_flight = parser
                    .value()
                    .map_err(|e| e.to_string())?
                    .parse()
                    .map_err(|e| format!("--max-in-flight: {e}"))?;
            }
            Long("max-connections") => {
                args.max_connections = parser
                    .value()
                    .map_err(|e| e.to_string())?
                    .parse()
                    .map_err(|e| format!("--max-connections: {e}"))?;
                if args.max_connections == 0 {
                    return Err("--max-connections must be at least 1".into());
                }
            }
            Long("seed") => {
                args.seed = parser
                    .value()
                    .map_err(|e| e.to_string())?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?;
            }
            Long("allow-unknown-keys") => args.allow_unknown_keys = true,
            Long("verbose") => args.verbose = true,
            Value(value) if first => match text(value)?.as_str() {
                "run" => args.mode = Mode::Run,
                "check" => args.mode = Mode::Check,
                "state" => args.mode = Mode::State(None),
                other => return Err(format!("unknown command {other:?} (run, check or state)")),
            },
            Value(value) if matches!(args.mode, Mode::State(None)) => {
                args.mode = Mode::State(Some(text(value)?));
            }
            other => return Err(other.unexpected().to_string()),
        }
        first = false;
    }
    Ok(Some(args))
}

fn print(text: &str) {
    #[allow(clippy::print_stdout)] // the command's output
    {
        print!("{text}");
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            log(&format!("{e}; see --help"));
            return ExitCode::from(2);
        }
    };
    let result = match args.mode {
        Mode::Check => check(&args),
        Mode::State(ref address) => dump_state(&args, address.as_deref()),
        Mode::Run => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(&e);
            ExitCode::FAILURE
        }
    }
}

fn load_module(args: &Args) -> Result<Module, String> {
    let name = args.module.display().to_string();
    let text = std::fs::read_to_string(&args.module).map_err(|e| format!("{name}: {e}"))?;
    let module =
        Module::parse(&name, &text, !args.allow_unknown_keys).map_err(|e| e.to_string())?;
    for warning in &module.warnings {
        log(warning);
    }
    Ok(module)
}

fn check(args: &Args) -> Result<(), String> {
    let module = load_module(args)?;
    let mut out = String::new();
    for endpoint in &module.endpoints {
        out.push_str(&format!(
            "endpoint  {} -> {} (document {}; {} transport, call budget {:?}, maxNumBatchRequests {})\n",
            endpoint.functions,
            endpoint.url_path_template,
            endpoint.document,
            match endpoint.transport {
                statefun_harness::Transport::OkHttp => "okhttp",
                _ => "async",
            },
            endpoint.call_timeout,
            endpoint.max_batch_requests
        ));
    }
    for ingress in &module.ingresses {
        for topic in &ingress.topics {
            let targets: Vec<&str> = topic.targets.iter().map(|t| t.as_str()).collect();
            out.push_str(&format!(
                "ingress   {} {:?} ({}) -> {}\n",
                ingress.id,
                topic.name,
                topic.value_type,
                targets.join(", ")
            ));
        }
    }
    for egress in &module.egresses {
        out.push_str(&format!(
            "egress    {} ({:?})\n",
            egress.id.type_name(),
            egress.kind
        ));
    }
    print(&out);
    Ok(())
}

fn dump_state(args: &Args, address: Option<&str>) -> Result<(), String> {
    let dir = args.state_dir.display();
    let saved = store::read_checkpoint(&args.state_dir)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{dir} has no checkpoint yet"))?;
    let checkpoint = Checkpoint::from_bytes(&saved.harness).map_err(|e| format!("{dir}: {e}"))?;
    let mut harness = Harness::builder().build().map_err(|e| e.to_string())?;
    harness.restore(&checkpoint);
    let mut out = String::new();
    match address {
        Some(text) => {
            let address = input::parse_address(text)?;
            out.push_str(&state_json(&harness, &address).to_string());
            out.push('\n');
        }
        None => {
            for address in harness.addresses_with_state() {
                out.push_str(&state_json(&harness, address).to_string());
                out.push('\n');
            }
        }
    }
    print(&out);
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    let module = load_module(args)?;
    let mut sources: Vec<Source> = args
        .inputs
        .iter()
        .map(|p| {
            if sources::is_stdin(p) {
                Source::Stdin
            } else {
                Source::File(p.clone())
            }
        })
        .collect();
    if sources.is_empty() && args.http.is_none() {
        sources.push(Source::Stdin);
    }
    if args.clock == ClockKind::Virtual && args.http.is_some() {
        return Err("the virtual clock runs scripts from input files or stdin; use the real clock with --http".into());
    }
    let settings = Settings {
        state_dir: args.state_dir.clone(),
        egress_file: args.egress.clone(),
        clock: args.clock,
        checkpoint_interval: args.checkpoint_interval,
        max_restarts: args.max_restarts.unwrap_or(match args.clock {
            ClockKind::Real => UNLIMITED_RESTARTS,
            ClockKind::Virtual => VIRTUAL_CLOCK_RESTARTS,
        }),
        partitions: args.partitions,
        max_in_flight: args.max_in_flight,
        max_connections: args.max_connections,
        seed: args.seed,
        rewrite_urls: args.rewrite_urls.clone(),
        inputs: sources.len(),
        http: args.http.is_some(),
        verbose: args.verbose,
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    tokio.block_on(async move {
        let runtime = Runtime::start(&module, settings).map_err(|e| e.to_string())?;
        let routes = Arc::new(Routes::new(module));
        let (commands, receiver) = mpsc::channel(1024);
        let (queries, questions) = mpsc::channel(64);
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            log("stopping (signal)");
            let _ = stop_tx.send(true);
        });
        let positions = runtime.positions();
        for source in sources {
            let start = sources::start_of(&positions, &source);
            sources::spawn_reader(
                source.clone(),
                Arc::clone(&routes),
                commands.clone(),
                start,
                args.follow,
                stop.clone(),
            )
            .map_err(|e| format!("input {source:?}: {e}"))?;
        }
        if let Some(address) = args.http {
            let listener = sources::bind(address)
                .await
                .map_err(|e| format!("--http {address}: {e}"))?;
            let bound = listener.local_addr().map_err(|e| e.to_string())?;
            log(&format!("HTTP ingress listening on http://{bound}"));
            tokio::spawn(sources::serve_http(
                listener,
                Arc::clone(&routes),
                commands.clone(),
                queries,
                stop.clone(),
            ));
        } else {
            drop(queries);
        }
        drop(commands);
        runtime
            .run(receiver, questions, stop)
            .await
            .map_err(|e| e.to_string())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
