//! statefun-local as a process: against the shopping-cart example served
//! over HTTP (the Rust SDK) and the same functions written with the
//! official Python SDK, killed with SIGKILL mid-stream and restarted, with
//! every state value and egress record checked for loss and duplication.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

const BIN: &str = env!("CARGO_BIN_EXE_statefun-local");
const CART_URL_IN_MODULE: &str = "http://shopping-cart:8000";

fn module_yaml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shopping-cart/deploy/module.yaml")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("statefun-local-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// SIGKILL: no chance to clean up.
    fn kill_hard(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }

    /// SIGTERM, and the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "statefun-local did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait(mut self) -> std::process::ExitStatus {
        self.0.wait().unwrap()
    }
}

/// The shopping cart served by the Rust SDK on its own runtime.
struct RustCart {
    url: String,
    _runtime: tokio::runtime::Runtime,
}

fn rust_cart_on(address: &str) -> RustCart {
    use stateful_functions::{RequestReplyHandler, Server};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let functions = shopping_cart::functions().unwrap();
    let server = runtime
        .block_on(Server::new(RequestReplyHandler::new(functions)).bind(address))
        .unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    runtime.spawn(server.serve_until(std::future::pending()));
    RustCart {
        url,
        _runtime: runtime,
    }
}

/// A Python with `apache-flink-statefun==3.3.0` from PyPI, in a virtualenv
/// under the target directory (made once, under a lock).
fn python() -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-statefun-3.3.0");
    fs::create_dir_all(&base).unwrap();
    let lock = File::create(base.join("lock")).unwrap();
    lock.lock().unwrap();
    let python = base.join("venv/bin/python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import statefun"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready(&python) {
        let venv = Command::new("python3")
            .args(["-m", "venv"])
            .arg(base.join("venv"))
            .status()
            .unwrap();
        assert!(venv.success(), "python3 -m venv failed");
        let pip = Command::new(base.join("venv/bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "apache-flink-statefun==3.3.0",
            ])
            .status()
            .unwrap();
        assert!(
            pip.success(),
            "pip install apache-flink-statefun==3.3.0 failed"
        );
    }
    assert!(ready(&python), "the statefun package does not import");
    python
}

/// The shopping cart written with the Python SDK, as a process.
fn python_cart() -> (String, Process) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/shopping-cart/python/shopping_cart.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg("0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let url = format!("http://127.0.0.1:{}", port.trim());
    (url, Process(child))
}

/// Starts statefun-local on the cart module, calling the cart at `url`;
/// its log is appended to `dir/local.log`.
fn start_local(dir: &Path, url: &str, args: &[&str]) -> Process {
    start_local_module(dir, &module_yaml(), url, args)
}

/// As [`start_local`], with another module.
fn start_local_module(dir: &Path, module: &Path, url: &str, args: &[&str]) -> Process {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("local.log"))
        .unwrap();
    let child = Command::new(BIN)
        .arg("--module")
        .arg(module)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--rewrite-url")
        .arg(format!("{CART_URL_IN_MODULE}={url}"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Process(child)
}

fn restock(item: &str, quantity: i32) -> String {
    json!({"topic": "restock", "key": item, "value": {"item_id": item, "quantity": quantity}})
        .to_string()
}

fn add(user: &str, item: &str, quantity: i32) -> String {
    json!({"topic": "add-to-cart", "key": user,
           "value": {"user_id": user, "item_id": item, "quantity": quantity}})
    .to_string()
}

fn append(path: &Path, lines: &[String]) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
    file.sync_all().unwrap();
}

fn read_lines(path: &Path) -> Vec<Json> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// (user, item, quantity, success) of every add-to-cart result.
fn results(egress: &Path) -> Vec<(String, String, i64, bool)> {
    let mut out: Vec<_> = read_lines(egress)
        .into_iter()
        .filter(|r| r["topic"] == "add-to-cart-results")
        .map(|r| {
            assert_eq!(r["egress"], "com.example/results");
            assert_eq!(r["key"], r["value"]["user_id"]);
            let v = &r["value"];
            (
                v["user_id"].as_str().unwrap().to_owned(),
                v["item_id"].as_str().unwrap().to_owned(),
                v["quantity"].as_i64().unwrap(),
                v["success"].as_bool().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Every address's state, from `statefun-local state`.
fn dump_state(dir: &Path) -> BTreeMap<String, Json> {
    try_dump_state(dir).unwrap_or_else(|e| panic!("{e}"))
}

/// As [`dump_state`], or why not (no checkpoint yet).
fn try_dump_state(dir: &Path) -> Result<BTreeMap<String, Json>, String> {
    let output = Command::new(BIN)
        .arg("state")
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .unwrap();
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Json = serde_json::from_str(l).unwrap();
            (
                v["address"].as_str().unwrap().to_owned(),
                v["state"].clone(),
            )
        })
        .collect())
}

/// Streams add-to-cart records into a followed input file while killing
/// statefun-local with SIGKILL three times, then checks that each record
/// was applied exactly once: one result per record, and the stock,
/// reservations and carts they add up to.
fn kill_and_resume(name: &str, url: &str) {
    const USERS: usize = 12;
    const ITEMS: usize = 4;
    const ADDS: usize = 240;
    const STOCK: i32 = 100_000;
    let dir = scratch(name);
    let input = dir.join("input.jsonl");
    let egress = dir.join("egress.jsonl");
    let items: Vec<String> = (0..ITEMS).map(|i| format!("item-{i}")).collect();
    append(
        &input,
        &items.iter().map(|i| restock(i, STOCK)).collect::<Vec<_>>(),
    );
    let adds: Vec<(String, String, i32)> = (0..ADDS)
        .map(|j| {
            (
                format!("user-{}", j % USERS),
                items[(j / USERS) % ITEMS].clone(),
                i32::try_from(j % 3).unwrap() + 1,
            )
        })
        .collect();
    let args = [
        "--input",
        input.to_str().unwrap(),
        "--follow",
        "--egress",
        egress.to_str().unwrap(),
        "--checkpoint-interval",
        "50ms",
        "--partitions",
        "4",
    ];
    let mut local = start_local(&dir, url, &args);
    // Records of different topics race (as on Kafka): the stock must be in
    // before the carts ask for it, or some answers are "unavailable".
    wait_for("the restocks", Duration::from_secs(60), || {
        try_dump_state(&dir).is_ok_and(|state| {
            items
                .iter()
                .all(|i| state.contains_key(&format!("com.example/inventory:{i}")))
        })
    });
    let mut kills = 0;
    for (chunk, lines) in adds.chunks(20).enumerate() {
        let lines: Vec<String> = lines.iter().map(|(u, i, q)| add(u, i, *q)).collect();
        append(&input, &lines);
        std::thread::sleep(Duration::from_millis(40));
        if [2, 6, 9].contains(&chunk) {
            // Mid-stream: some results are out, more are on their way.
            wait_for("some results", Duration::from_secs(60), || {
                !results(&egress).is_empty()
            });
            local.kill_hard();
            kills += 1;
            local = start_local(&dir, url, &args);
        }
    }
    wait_for("every result", Duration::from_secs(120), || {
        results(&egress).len() >= ADDS
    });
    // A few more checkpoints, in which a duplicate would show.
    std::thread::sleep(Duration::from_millis(300));
    assert!(local.terminate().success());

    let log = fs::read_to_string(dir.join("local.log")).unwrap();
    assert_eq!(kills, 3);
    assert!(
        log.matches("resumed from checkpoint").count() >= 3,
        "each restart resumes from a checkpoint:\n{log}"
    );
    let mut expected: Vec<(String, String, i64, bool)> = adds
        .iter()
        .map(|(u, i, q)| (u.clone(), i.clone(), i64::from(*q), true))
        .collect();
    expected.sort();
    assert_eq!(
        results(&egress),
        expected,
        "one result per record, none lost, none twice"
    );

    let state = dump_state(&dir);
    for item in &items {
        let reserved: i64 = adds
            .iter()
            .filter(|a| &a.1 == item)
            .map(|a| i64::from(a.2))
            .sum();
        let inventory = &state[&format!("com.example/inventory:{item}")];
        assert_eq!(inventory["stock"]["value"], json!(STOCK), "{item}");
        assert_eq!(inventory["reserved"]["value"], json!(reserved), "{item}");
    }
    for u in 0..USERS {
        let user = format!("user-{u}");
        let mut cart: BTreeMap<String, i64> = BTreeMap::new();
        for (_, item, q) in adds.iter().filter(|a| a.0 == user) {
            *cart.entry(item.clone()).or_default() += i64::from(*q);
        }
        let stored = &state[&format!("com.example/cart:{user}")]["items"]["value"];
        assert_eq!(stored, &json!(cart), "{user}");
    }
}

#[test]
fn sigkill_mid_stream_loses_and_duplicates_nothing_with_the_rust_sdk() {
    let cart = rust_cart_on("127.0.0.1:0");
    kill_and_resume("kill-rust", &cart.url);
}

#[test]
fn sigkill_mid_stream_loses_and_duplicates_nothing_with_the_python_sdk() {
    let (url, _server) = python_cart();
    kill_and_resume("kill-python", &url);
}

#[test]
fn a_script_on_the_virtual_clock_fires_the_cart_expiry() {
    let cart = rust_cart_on("127.0.0.1:0");
    let dir = scratch("virtual");
    let script = dir.join("script.jsonl");
    append(
        &script,
        &[
            restock("socks", 5),
            add("kim", "socks", 2),
            // Blank lines are skipped.
            String::new(),
            json!({"advance": "14min"}).to_string(),
        ],
    );
    let run = |dir: &Path, script: &Path| {
        let egress = dir.join("egress.jsonl");
        let local = start_local(
            dir,
            &cart.url,
            &[
                "--clock",
                "virtual",
                "--input",
                script.to_str().unwrap(),
                "--egress",
                egress.to_str().unwrap(),
            ],
        );
        assert!(local.wait().success());
    };
    run(&dir, &script);
    let state = dump_state(&dir);
    assert_eq!(
        state["com.example/cart:kim"]["items"]["value"],
        json!({"socks": 2})
    );
    assert_eq!(
        state["com.example/inventory:socks"]["reserved"]["value"],
        json!(2)
    );
    // The same state directory, a second script: 14 + 2 minutes passes the
    // cart's 15-minute expiry, which gives the reservation back.
    let more = dir.join("more.jsonl");
    append(&more, &[json!({"advance": "2min"}).to_string()]);
    run(&dir, &more);
    let state = dump_state(&dir);
    assert!(!state.contains_key("com.example/cart:kim"), "{state:?}");
    assert_eq!(
        state["com.example/inventory:socks"]["reserved"]["value"],
        json!(0)
    );
    assert_eq!(
        state["com.example/inventory:socks"]["stock"]["value"],
        json!(5)
    );
    let results = results(&dir.join("egress.jsonl"));
    assert_eq!(results, [("kim".into(), "socks".into(), 2, true)]);
    // The first script again: it was read to its end, `advance` included,
    // so nothing of it is applied twice.
    run(&dir, &script);
    let again = dump_state(&dir);
    assert_eq!(again, state);
}

/// One HTTP/1.1 exchange: the status and the body.
fn http(address: &str, method: &str, path: &str, body: &str) -> (u16, Json) {
    http_within(address, method, path, body, Duration::from_secs(300))
        .unwrap_or_else(|| panic!("no answer to {method} {path} in 5 minutes"))
}

/// As [`http`], `None` when no answer comes within `timeout`.
fn http_within(
    address: &str,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Option<(u16, Json)> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    Some((status, serde_json::from_str(body).unwrap_or(Json::Null)))
}

fn http_address(dir: &Path) -> String {
    let mut address = String::new();
    wait_for("the HTTP ingress", Duration::from_secs(30), || {
        let log = fs::read_to_string(dir.join("local.log")).unwrap_or_default();
        match log.split_once("listening on http://") {
            Some((_, rest)) => {
                address = rest.lines().next().unwrap().to_owned();
                true
            }
            None => false,
        }
    });
    address
}

#[test]
fn the_http_ingress_takes_lines_and_raw_values_and_shows_state() {
    let cart = rust_cart_on("127.0.0.1:0");
    let dir = scratch("http");
    let egress = dir.join("egress.jsonl");
    let local = start_local(
        &dir,
        &cart.url,
        &[
            "--http",
            "127.0.0.1:0",
            "--egress",
            egress.to_str().unwrap(),
        ],
    );
    let address = http_address(&dir);
    let (status, body) = http(&address, "POST", "/messages", &restock("socks", 3));
    assert_eq!((status, body), (202, json!({"accepted": 1})));
    let raw = r#"{"user_id": "kim", "item_id": "socks", "quantity": 2}"#;
    let (status, _) = http(&address, "POST", "/ingress/add-to-cart?key=kim", raw);
    assert_eq!(status, 202);
    wait_for("the reservation", Duration::from_secs(30), || {
        let (_, state) = http(&address, "GET", "/state/com.example/inventory:socks", "");
        state["state"]["reserved"]["value"] == json!(2)
    });
    // A message to an address, typed by the query.
    let (status, _) = http(
        &address,
        "POST",
        "/addresses/com.example/cart:kim?type=com.example.types/Checkout",
        r#"{"user_id": "kim"}"#,
    );
    assert_eq!(status, 202);
    wait_for("the receipt", Duration::from_secs(30), || {
        read_lines(&egress).iter().any(|r| r["topic"] == "receipts")
    });

    // Bad input is refused whole, with what was wrong and where.
    let two = format!(
        "{}\n{{\"topic\": \"nope\", \"key\": \"k\", \"value\": 1}}",
        restock("a", 1)
    );
    let (status, body) = http(&address, "POST", "/messages", &two);
    assert_eq!(status, 400);
    let error = body["error"].as_str().unwrap();
    assert!(error.starts_with("line 2: no topic \"nope\""), "{error}");
    assert!(error.contains("nothing was accepted"), "{error}");
    let (status, body) = http(&address, "POST", "/ingress/add-to-cart", raw);
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("?key="));
    let (status, body) = http(&address, "GET", "/nowhere", "");
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("POST /messages"));

    assert!(local.terminate().success());
    let state = dump_state(&dir);
    assert_eq!(
        state["com.example/inventory:socks"]["stock"]["value"],
        json!(1)
    );
    assert!(
        !state.contains_key("com.example/inventory:a"),
        "nothing of the refused POST"
    );
}

#[test]
fn a_function_server_that_is_down_is_retried_until_it_is_up() {
    // A free port, with nothing listening on it yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = scratch("down");
    let input = dir.join("input.jsonl");
    let egress = dir.join("egress.jsonl");
    append(&input, &[restock("socks", 5)]);
    let local = start_local(
        &dir,
        &url,
        &[
            "--input",
            input.to_str().unwrap(),
            "--follow",
            "--egress",
            egress.to_str().unwrap(),
        ],
    );
    wait_for("a failed attempt", Duration::from_secs(30), || {
        fs::read_to_string(dir.join("local.log"))
            .unwrap_or_default()
            .contains("attempt 1")
    });
    let _cart = rust_cart_on(&format!("127.0.0.1:{port}"));
    wait_for("the restock", Duration::from_secs(60), || {
        try_dump_state(&dir).is_ok_and(|s| s.contains_key("com.example/inventory:socks"))
    });
    append(&input, &[add("kim", "socks", 1)]);
    wait_for("the result", Duration::from_secs(60), || {
        !results(&egress).is_empty()
    });
    assert!(local.terminate().success());
    let log = fs::read_to_string(dir.join("local.log")).unwrap();
    let failure = log.lines().find(|l| l.contains("attempt 1")).unwrap();
    assert!(
        failure.contains(&format!("http://127.0.0.1:{port}/statefun")),
        "{failure}"
    );
    assert!(failure.contains("com.example/inventory:socks"), "{failure}");
    assert_eq!(results(&egress), [("kim".into(), "socks".into(), 1, true)]);
}

/// A function server that answers every request with a 500 and `poison`,
/// on a thread of its own; its URL.
fn always_failing_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || answer_500(stream));
        }
    });
    url
}

/// Reads each request of a keep-alive connection (head and body) and
/// answers 500, until the client closes it.
fn answer_500(stream: TcpStream) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let answer = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: 6\r\n\r\npoison";
        if reader.get_mut().write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn a_job_that_keeps_failing_on_the_virtual_clock_ends_the_run() {
    a_failing_job_ends_after(&["--max-restarts", "3"], 3);
}

/// Without the flag the virtual clock still ends a job that keeps failing,
/// after 10 restarts (a poison message once restarted it forever, 1,503
/// times in 10 s); the real clock keeps Flink's unlimited default.
#[test]
fn without_the_flag_the_virtual_clock_stops_after_ten_restarts() {
    a_failing_job_ends_after(&[], 10);
}

/// Runs a script against an endpoint that always fails, on the virtual
/// clock with `extra` flags, and checks that the run ends with the failure
/// after `restarts` restarts.
fn a_failing_job_ends_after(extra: &[&str], restarts: usize) {
    let url = always_failing_endpoint();
    let dir = scratch(&format!("max-restarts-{restarts}"));
    let script = dir.join("script.jsonl");
    append(&script, &[restock("socks", 5)]);
    let started = Instant::now();
    let mut args = vec!["--clock", "virtual"];
    args.extend_from_slice(extra);
    args.extend(["--input", script.to_str().unwrap()]);
    let mut local = start_local(&dir, &url, &args);
    let status = loop {
        if let Some(status) = local.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "statefun-local still runs a failing job after 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = fs::read_to_string(dir.join("local.log")).unwrap();
    assert!(!status.success(), "{log}");
    let last = log.lines().last().unwrap();
    assert!(last.contains("the job failed and cannot restart"), "{log}");
    assert!(
        last.contains(&format!("at most {restarts} restarts, see --max-restarts")),
        "{last}"
    );
    assert!(last.contains("com.example/inventory:socks"), "{last}");
    assert!(last.contains("500"), "{last}");
    // Each restart reported, then the failure that ends the run.
    let restored = log.lines().filter(|l| l.contains("restor")).count();
    assert_eq!(restored, restarts, "{log}");
}

#[test]
fn a_bad_module_is_refused_naming_the_document_and_key() {
    let dir = scratch("bad-module");
    let module = dir.join("module.yaml");
    fs::write(
        &module,
        "kind: io.statefun.kafka.v1/egress\nspec:\n  id: a/out\n---\nkind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/f\n  urlPathTemplte: http://h\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .arg("check")
        .arg("--module")
        .arg(&module)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("module.yaml: document 2 (io.statefun.endpoints.v2/http), spec.urlPathTemplte: unknown key"),
        "{stderr}"
    );
    let output = Command::new(BIN).arg("--frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--help"));
}

/// The cart's module with its egress's `deliverySemantic` replaced by
/// `delivery` (YAML lines under `spec`, or nothing for the default),
/// written to `dir/module.yaml`.
fn cart_module(dir: &Path, delivery: &str) -> PathBuf {
    let text = fs::read_to_string(module_yaml()).unwrap();
    let exactly_once =
        "  deliverySemantic:\n    type: exactly-once\n    transactionTimeout: 900000ms\n";
    assert!(text.contains(exactly_once), "{text}");
    let path = dir.join("module.yaml");
    fs::write(&path, text.replace(exactly_once, delivery)).unwrap();
    path
}

/// The cart's module.yaml with `setting` (a `key: value` line) added to
/// each endpoint's async (Netty) transport, written in `dir`.
fn netty_module(dir: &Path, setting: &str) -> PathBuf {
    let text = fs::read_to_string(module_yaml()).unwrap();
    let netty = "    type: io.statefun.transports.v1/async\n";
    assert!(text.contains(netty), "{text}");
    let path = dir.join("module.yaml");
    fs::write(
        &path,
        text.replace(netty, &format!("{netty}    {setting}\n")),
    )
    .unwrap();
    path
}

/// A Kafka egress without `deliverySemantic` is at least once, the
/// runtime's default (`GenericKafkaEgressSpec.java`: the builder starts
/// with `KafkaProducerSemantic.atLeastOnce()`; `KafkaSinkProvider.java`
/// makes it a `FlinkKafkaProducer` with `Semantic.AT_LEAST_ONCE`, which
/// writes each record at once and, after a failure, writes again what the
/// replay since the last checkpoint produces). Before, statefun-local held
/// every record until a checkpoint: with a 1-hour interval this result
/// would not be in the file before the kill, and not twice after it.
#[test]
fn an_at_least_once_egress_writes_at_once_and_again_after_a_kill() {
    let cart = rust_cart_on("127.0.0.1:0");
    let dir = scratch("at-least-once");
    let module = cart_module(&dir, "");
    let input = dir.join("input.jsonl");
    let egress = dir.join("egress.jsonl");
    append(&input, &[restock("socks", 10), add("kim", "socks", 2)]);
    let args = [
        "--input",
        input.to_str().unwrap(),
        "--follow",
        "--egress",
        egress.to_str().unwrap(),
        "--checkpoint-interval",
        "1h",
    ];
    let local = start_local_module(&dir, &module, &cart.url, &args);
    wait_for("the result", Duration::from_secs(60), || {
        !results(&egress).is_empty()
    });
    let error = try_dump_state(&dir).unwrap_err();
    assert!(
        error.contains("no checkpoint yet"),
        "the record is out before any checkpoint: {error}"
    );
    local.kill_hard();
    // No checkpoint: the restart replays both records from the ingress
    // log, and the result is written again.
    let local = start_local_module(&dir, &module, &cart.url, &args);
    let kim = ("kim".to_owned(), "socks".to_owned(), 2, true);
    wait_for("the replayed result", Duration::from_secs(60), || {
        results(&egress).len() >= 2
    });
    assert!(local.terminate().success());
    assert_eq!(results(&egress), [kim.clone(), kim], "written twice");
    // State is exactly once all the same.
    let state = dump_state(&dir);
    assert_eq!(
        state["com.example/inventory:socks"]["reserved"]["value"],
        json!(2)
    );
    // After a checkpoint (the one SIGTERM took), nothing is written again.
    let local = start_local_module(&dir, &module, &cart.url, &args);
    std::thread::sleep(Duration::from_millis(500));
    assert!(local.terminate().success());
    assert_eq!(results(&egress).len(), 2);
}

/// `deliverySemantic: {type: exactly-once, transactionTimeout: ..}` makes
/// the egress transactional (`KafkaSinkProvider.java`:
/// `Semantic.EXACTLY_ONCE`, committed when the checkpoint completes): a
/// record is visible only once a checkpoint covers it, and a kill before
/// that discards it, so the replay's copy is the only one.
#[test]
fn an_exactly_once_egress_writes_only_at_checkpoints_and_never_twice() {
    let cart = rust_cart_on("127.0.0.1:0");
    let dir = scratch("exactly-once");
    let module = cart_module(
        &dir,
        "  deliverySemantic:\n    type: exactly-once\n    transactionTimeout: 15min\n",
    );
    let input = dir.join("input.jsonl");
    let egress = dir.join("egress.jsonl");
    append(&input, &[restock("socks", 10), add("kim", "socks", 2)]);
    let args = [
        "--input",
        input.to_str().unwrap(),
        "--follow",
        "--egress",
        egress.to_str().unwrap(),
        "--checkpoint-interval",
        "1h",
        "--verbose",
    ];
    let produced = || {
        fs::read_to_string(dir.join("local.log"))
            .unwrap_or_default()
            .matches("egress com.example/results")
            .count()
    };
    let local = start_local_module(&dir, &module, &cart.url, &args);
    wait_for("the result", Duration::from_secs(60), || produced() >= 1);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        results(&egress).is_empty(),
        "not visible before a checkpoint"
    );
    local.kill_hard();
    let local = start_local_module(&dir, &module, &cart.url, &args);
    wait_for("the replayed result", Duration::from_secs(60), || {
        produced() >= 2
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(results(&egress).is_empty(), "still no checkpoint");
    // SIGTERM takes a checkpoint, which commits it.
    assert!(local.terminate().success());
    let kim = ("kim".to_owned(), "socks".to_owned(), 2, true);
    assert_eq!(results(&egress), std::slice::from_ref(&kim));
    let local = start_local_module(&dir, &module, &cart.url, &args);
    std::thread::sleep(Duration::from_millis(500));
    assert!(local.terminate().success());
    assert_eq!(results(&egress), [kim], "never twice");
}

/// What the runtime loads but is likely a mistake is run, with one line on
/// stderr naming the document and key: here a topic listed twice, which
/// `RoutableKafkaIngressSpec.java` collects into a map (the last entry
/// wins). statefun-local used to refuse the module.
#[test]
fn a_module_the_runtime_loads_is_run_with_warnings() {
    let dir = scratch("warnings");
    let module = dir.join("module.yaml");
    fs::write(
        &module,
        "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/*\n  urlPathTemplate: http://h\n---\nkind: io.statefun.kafka.v1/ingress\nspec:\n  id: a/io\n  topics:\n    - topic: t\n      valueType: a/First\n      targets: [a/f]\n    - topic: t\n      valueType: a/Last\n      targets: [a/g]\n---\nkind: io.statefun.kafka.v1/egress\nspec:\n  id: a/io\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .arg("check")
        .arg("--module")
        .arg(&module)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("module.yaml: warning: document 2 (io.statefun.kafka.v1/ingress), spec.topics[1].topic: \"t\" is listed twice"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ingress   a/io \"t\" (a/Last) -> a/g"),
        "{stdout}"
    );
    assert!(stdout.contains("egress    a/io (Kafka)"), "{stdout}");
}

/// A function server of [`slow_cart`], stopped when dropped.
struct SlowCart {
    url: String,
    /// Requests that hang and have not been answered.
    hanging: Arc<AtomicUsize>,
    /// The most requests it was answering at once (hanging ones aside).
    max_in_flight: Arc<AtomicUsize>,
    /// When each request (hanging ones aside) arrived, in order.
    arrivals: Arc<std::sync::Mutex<Vec<Instant>>>,
    _runtime: tokio::runtime::Runtime,
}

/// The shopping cart behind a delay: the SDK's handler on a hyper HTTP/1.1
/// server on a runtime of its own, answering request `n` (counted from 0)
/// after `latency(n)`, and one whose body holds `hang` (an address id) only
/// after `hang_for`.
fn slow_cart(
    latency: impl Fn(usize) -> Duration + Send + Sync + 'static,
    hang: Option<(&'static str, Duration)>,
) -> SlowCart {
    use hyper::server::conn::http1;
    use hyper_util::rt::TokioIo;
    use stateful_functions::RequestReplyHandler;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let handler = RequestReplyHandler::new(shopping_cart::functions().unwrap());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hanging = Arc::new(AtomicUsize::new(0));
    let stuck = Arc::clone(&hanging);
    let latency = Arc::new(latency);
    let requests = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new((AtomicUsize::new(0), Arc::clone(&max_in_flight)));
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let arrived = Arc::clone(&arrivals);
    runtime.spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (handler, stuck) = (handler.clone(), Arc::clone(&stuck));
            let (latency, requests) = (Arc::clone(&latency), Arc::clone(&requests));
            let in_flight = Arc::clone(&in_flight);
            let arrived = Arc::clone(&arrived);
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let (handler, stuck) = (handler.clone(), Arc::clone(&stuck));
                    let (latency, requests) = (Arc::clone(&latency), Arc::clone(&requests));
                    let in_flight = Arc::clone(&in_flight);
                    let arrived = Arc::clone(&arrived);
                    async move {
                        use http_body_util::BodyExt as _;
                        let body: bytes::Bytes = request.into_body().collect().await?.to_bytes();
                        let hangs = hang
                            .filter(|(id, _)| body.windows(id.len()).any(|w| w == id.as_bytes()));
                        if let Some((_, hang_for)) = hangs {
                            stuck.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(hang_for).await;
                            stuck.fetch_sub(1, Ordering::SeqCst);
                        } else {
                            arrived.lock().unwrap().push(Instant::now());
                            let n = requests.fetch_add(1, Ordering::SeqCst);
                            let now = in_flight.0.fetch_add(1, Ordering::SeqCst) + 1;
                            in_flight.1.fetch_max(now, Ordering::SeqCst);
                            tokio::time::sleep(latency(n)).await;
                            in_flight.0.fetch_sub(1, Ordering::SeqCst);
                        }
                        let answer = handler.handle(body).await.unwrap();
                        Ok::<_, hyper::Error>(
                            hyper::Response::builder()
                                .header("content-type", "application/octet-stream")
                                .body(http_body_util::Full::new(answer))
                                .unwrap(),
                        )
                    }
                },
            );
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    SlowCart {
        url,
        hanging,
        max_in_flight,
        arrivals,
        _runtime: runtime,
    }
}

/// module.yaml's `transport.pool_size` bounds the calls in flight to each
/// function type of its endpoint (`nettyclient/NettyRequestReplySpec.java`
/// reads it; `NettyClient.java` makes the `FixedChannelPool` that size);
/// `--max-connections` is the size of the pools of endpoints that set
/// none. Before, the key was read and ignored.
#[test]
fn a_module_yaml_pool_size_bounds_the_calls_in_flight() {
    let lines: Vec<String> = (0..24).map(|i| restock(&format!("item-{i}"), 1)).collect();
    let run = |name: &str, pool_size: Option<&str>, args: &[&str]| {
        let cart = slow_cart(|_| Duration::from_millis(30), None);
        let dir = scratch(name);
        let input = dir.join("input.jsonl");
        append(&input, &lines);
        let module = match pool_size {
            Some(size) => netty_module(&dir, &format!("pool_size: {size}")),
            None => module_yaml(),
        };
        let mut all = vec!["--input", input.to_str().unwrap()];
        all.extend_from_slice(args);
        let local = start_local_module(&dir, &module, &cart.url, &all);
        assert!(local.wait().success());
        let state = dump_state(&dir);
        for i in 0..24 {
            let address = format!("com.example/inventory:item-{i}");
            assert_eq!(state[&address]["stock"]["value"], json!(1), "{address}");
        }
        cart.max_in_flight.load(Ordering::SeqCst)
    };
    assert_eq!(run("pool-size-2", Some("2"), &[]), 2);
    // The flag does not override the module's size...
    assert_eq!(
        run(
            "pool-size-over-flag",
            Some("3"),
            &["--max-connections", "1"]
        ),
        3
    );
    // ...but sizes the pools it leaves unset.
    assert_eq!(run("pool-size-flag", None, &["--max-connections", "1"]), 1);
    assert!(run("pool-size-default", None, &[]) > 3);
}

/// A failed job is down for Flink's restart delay (1 s) before it
/// restores its last checkpoint, and only then does it send again the
/// requests that checkpoint held in flight (`RequestReplyFunction.java`
/// re-sends its in-flight requests when restored). The call to `slow`
/// runs out of its 300 ms budget (`transport.call`), which fails the job;
/// a checkpoint (every 50 ms) holds it in flight. Its second request must
/// come a restart delay after the failure, not at once as it used to.
#[test]
fn requests_in_flight_at_a_checkpoint_go_again_after_the_restart_delay() {
    // The handshake (request 0) at once; the call (request 1) hangs past
    // its budget; the ones after the restart at once.
    let cart = slow_cart(
        |n| Duration::from_millis(if n == 1 { 2_000 } else { 0 }),
        None,
    );
    let dir = scratch("restart-delay");
    let input = dir.join("input.jsonl");
    append(&input, &[restock("slow", 2)]);
    let module = netty_module(&dir, "call: 300ms");
    let local = start_local_module(
        &dir,
        &module,
        &cart.url,
        &[
            "--input",
            input.to_str().unwrap(),
            "--checkpoint-interval",
            "50ms",
        ],
    );
    assert!(local.wait().success());
    let log = fs::read_to_string(dir.join("local.log")).unwrap();
    assert!(log.contains("no response within"), "{log}");
    assert_eq!(
        dump_state(&dir)["com.example/inventory:slow"]["stock"]["value"],
        json!(2)
    );
    // The restored job's first request of the type is a handshake again
    // (its registries start empty), then the call: four in all.
    let arrivals = cart.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 4, "{log}");
    // 300 ms of budget, then 1 s of restart delay.
    let again = arrivals[2] - arrivals[1];
    assert!(
        again >= Duration::from_millis(1_200),
        "sent again {again:?} after the first attempt\n{log}"
    );
}

/// Calls overlap, so a function that hangs holds up nothing but its own
/// address: the HTTP ingress answers at once, and another address's
/// message is applied, while the hanging call goes on (the runtime's
/// asynchronous operations, `functions/AsyncSink.java`).
#[test]
fn the_http_ingress_answers_while_a_function_hangs() {
    let cart = slow_cart(|_| Duration::ZERO, Some(("stuck", Duration::from_secs(60))));
    let dir = scratch("hang");
    let local = start_local(&dir, &cart.url, &["--http", "127.0.0.1:0"]);
    let address = http_address(&dir);
    // The first request of a function type blocks its partition until it
    // is completed, as in the runtime: a quick one first.
    let (status, _) = http(&address, "POST", "/messages", &restock("socks", 3));
    assert_eq!(status, 202);
    let stock = |item: &str| {
        let path = format!("/state/com.example/inventory:{item}");
        http(&address, "GET", &path, "").1["state"]["stock"]["value"].clone()
    };
    wait_for("the first restock", Duration::from_secs(30), || {
        stock("socks") == json!(3)
    });
    let (status, _) = http(&address, "POST", "/messages", &restock("stuck", 1));
    assert_eq!(status, 202);
    wait_for("the hanging call", Duration::from_secs(30), || {
        cart.hanging.load(Ordering::SeqCst) == 1
    });
    let asked = Instant::now();
    let (status, body) = http(&address, "POST", "/messages", &restock("shoes", 4));
    assert_eq!((status, body), (202, json!({"accepted": 1})));
    wait_for(
        "the restock behind the hanging call",
        Duration::from_secs(30),
        || stock("shoes") == json!(4),
    );
    // Both while the call hangs (for a minute).
    assert_eq!(cart.hanging.load(Ordering::SeqCst), 1);
    assert!(asked.elapsed() < Duration::from_secs(30));
    assert_eq!(stock("stuck"), Json::Null);
    assert!(local.terminate().success());
}

/// A back-pressured job still answers `GET /state`: a call hangs, 70,000
/// messages for its address wait behind it (its backlog blocks the
/// partition at `maxNumBatchRequests`, and the job takes no more input
/// once 65,536 wait undelivered), and the state of another address is
/// read at once. Questions used to wait in line behind the input.
#[test]
fn the_http_ingress_answers_state_while_input_is_held_back() {
    let cart = slow_cart(|_| Duration::ZERO, Some(("stuck", Duration::from_secs(60))));
    let dir = scratch("held-back");
    let input = dir.join("input.jsonl");
    let mut lines = vec![restock("socks", 3)];
    lines.extend((0..70_000).map(|_| restock("stuck", 1)));
    append(&input, &lines);
    let local = start_local(
        &dir,
        &cart.url,
        &["--http", "127.0.0.1:0", "--input", input.to_str().unwrap()],
    );
    let address = http_address(&dir);
    wait_for("the hanging call", Duration::from_secs(30), || {
        cart.hanging.load(Ordering::SeqCst) == 1
    });
    // Held back: a message posted now is not taken (its POST waits for
    // the job to log it).
    wait_for("the input held back", Duration::from_secs(60), || {
        let post = http_within(
            &address,
            "POST",
            "/messages",
            &restock("late", 1),
            Duration::from_secs(1),
        );
        post.is_none()
    });
    let asked = Instant::now();
    let (status, body) = http(&address, "GET", "/state/com.example/inventory:socks", "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["stock"]["value"], json!(3), "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "answered after {:?}",
        asked.elapsed()
    );
    // Still held back: the call hangs.
    assert_eq!(cart.hanging.load(Ordering::SeqCst), 1);
    assert!(local.terminate().success());
}

/// The concurrent workload against a function with 20 ms of latency,
/// killed with SIGKILL three times at different moments and restarted,
/// ends with the same state and the same exactly-once egress records as
/// the same run never killed: calls in flight at a checkpoint are sent
/// again after the restore, and nothing is applied or written twice.
#[test]
fn sigkill_during_concurrent_calls_ends_as_an_unkilled_run() {
    const USERS: usize = 300;
    const ITEMS: usize = 10;
    let cart = slow_cart(|_| Duration::from_millis(20), None);
    let mut lines: Vec<String> = (0..ITEMS)
        .map(|i| restock(&format!("item-{i}"), 100_000))
        .collect();
    for round in 0..2 {
        for u in 0..USERS {
            let item = format!("item-{}", (u + round) % ITEMS);
            let quantity = i32::try_from(u % 3).unwrap() + 1;
            lines.push(add(&format!("user-{u}"), &item, quantity));
        }
    }
    let run = |name: &str, kills: &[u64]| {
        let dir = scratch(name);
        let input = dir.join("input.jsonl");
        let egress = dir.join("egress.jsonl");
        append(&input, &lines);
        let args = [
            "--input",
            input.to_str().unwrap(),
            "--egress",
            egress.to_str().unwrap(),
            "--checkpoint-interval",
            "50ms",
        ];
        for &after in kills {
            let local = start_local(&dir, &cart.url, &args);
            std::thread::sleep(Duration::from_millis(after));
            local.kill_hard();
        }
        let started = Instant::now();
        let local = start_local(&dir, &cart.url, &args);
        // It keeps running for the carts' 15-minute expiry timers: stopped
        // once every result is out, after a few more checkpoints (in which
        // a duplicate would show).
        wait_for("every result", Duration::from_secs(120), || {
            results(&egress).len() >= 2 * USERS
        });
        let took = started.elapsed();
        std::thread::sleep(Duration::from_millis(300));
        assert!(local.terminate().success());
        let log = fs::read_to_string(dir.join("local.log")).unwrap();
        let mut egress: Vec<String> = fs::read_to_string(&egress)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        egress.sort();
        (dump_state(&dir), egress, took, log)
    };
    let (state, egress, took, _) = run("concurrent-unkilled", &[]);
    assert_eq!(egress.len(), 2 * USERS, "one result per add-to-cart");
    // Killed early, mid-way and late in the work the unkilled run did.
    let kills = [took / 4, took / 2, took * 3 / 4].map(|t| u64::try_from(t.as_millis()).unwrap());
    let (killed_state, killed_egress, _, log) = run("concurrent-killed", &kills);
    assert!(
        log.matches("resumed from checkpoint").count() >= 3,
        "each restart resumes from a checkpoint (kills after {kills:?} ms):\n{log}"
    );
    assert_eq!(killed_state, state, "kills after {kills:?} ms");
    assert_eq!(killed_egress, egress, "kills after {kills:?} ms");
}

/// On the virtual clock, a script's output for a seed does not depend on
/// the network's timing: calls overlap, but their answers are applied in
/// the scheduler's order (in rounds), and the input up to each `advance`
/// is taken in before the job runs. Two servers, one answering at once and
/// one after latencies of 0 to 12 ms, give the same egress file, line for
/// line, and the same state.
#[test]
fn a_script_on_the_virtual_clock_gives_one_output_whatever_the_latency() {
    const USERS: usize = 60;
    let mut script: Vec<String> = (0..5)
        .map(|i| restock(&format!("item-{i}"), 1000))
        .collect();
    for round in 0..2 {
        for u in 0..USERS {
            let item = format!("item-{}", (u * 7 + round) % 5);
            script.push(add(&format!("user-{u}"), &item, 1));
        }
    }
    script.push(json!({"advance": "1min"}).to_string());
    for u in (0..USERS).step_by(3) {
        script.push(
            json!({"topic": "checkout", "key": format!("user-{u}"),
                   "value": {"user_id": format!("user-{u}")}})
            .to_string(),
        );
    }
    // Past the carts' 15-minute expiry.
    script.push(json!({"advance": "20min"}).to_string());
    let run = |name: &str, cart: &SlowCart| {
        let dir = scratch(name);
        let input = dir.join("script.jsonl");
        let egress = dir.join("egress.jsonl");
        append(&input, &script);
        let local = start_local(
            &dir,
            &cart.url,
            &[
                "--clock",
                "virtual",
                "--seed",
                "3",
                "--input",
                input.to_str().unwrap(),
                "--egress",
                egress.to_str().unwrap(),
            ],
        );
        assert!(local.wait().success());
        (fs::read_to_string(&egress).unwrap(), dump_state(&dir))
    };
    let at_once = slow_cart(|_| Duration::ZERO, None);
    let jittery = slow_cart(|n| Duration::from_millis((n as u64 * 7919) % 13), None);
    let (egress, state) = run("virtual-at-once", &at_once);
    let (jittery_egress, jittery_state) = run("virtual-jittery", &jittery);
    assert_eq!(egress.lines().count(), 2 * USERS + USERS / 3, "{egress}");
    assert_eq!(jittery_egress, egress);
    assert_eq!(jittery_state, state);
}
