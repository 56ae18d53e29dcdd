//! The same run against the function in process and over HTTP (the SDK's
//! own server on loopback): identical traces and state.

use stateful_functions::{RequestReplyHandler, Server};
use statefun_harness::Harness;

use crate::fixture::{Command, RESULTS, functions, log, recorder, sum};

/// The SDK's server on a loopback port, until `stop`.
struct Serving {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Serving {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Serves `functions` over HTTP; returns the URL to call and the server.
async fn serve(functions: stateful_functions::Functions) -> (String, Serving) {
    let server = Server::new(RequestReplyHandler::new(functions))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("http://{}/statefun", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));
    (url, Serving { stop, task })
}

async fn workload(mut h: Harness) -> Harness {
    for i in 0..5 {
        h.send(recorder("r"), &Command::Add(i)).unwrap();
        h.send(
            recorder("s"),
            &Command::Forward {
                to: "r".into(),
                text: format!("t{i}"),
            },
        )
        .unwrap();
    }
    h.send(recorder("r"), &Command::Egress { declared: true })
        .unwrap();
    h.run().await.unwrap();
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_endpoint_behaves_as_in_process() {
    let (url, serving) = serve(functions()).await;

    let remote = Harness::builder()
        .seed(21)
        .remote("test/*", &url)
        .kafka_egress(&RESULTS)
        .build()
        .unwrap();
    let local = Harness::builder()
        .seed(21)
        .functions(functions())
        .kafka_egress(&RESULTS)
        .build()
        .unwrap();
    let remote = workload(remote).await;
    let local = workload(local).await;

    assert_eq!(remote.trace_text(), local.trace_text());
    assert_eq!(sum(&remote, "r"), Some(10));
    assert_eq!(log(&remote, "r"), log(&local, "r"));
    assert_eq!(
        remote.kafka_records(&RESULTS).unwrap(),
        local.kafka_records(&RESULTS).unwrap()
    );

    // Close the harness's pooled connection first: a graceful shutdown
    // waits for open connections.
    drop(remote);
    serving.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_from_a_remote_function_are_retried_on_the_virtual_clock() {
    use std::sync::atomic::Ordering;

    use stateful_functions::Address;
    use statefun_harness::{Cause, Event};

    use crate::faults::{FLAKY, TOTAL, flaky};

    // The SDK's server answers 500 for the first three calls.
    let (functions, calls) = flaky(3);
    let (url, serving) = serve(functions).await;
    let mut h = Harness::builder()
        .seed(22)
        .remote("test/flaky", &url)
        .build()
        .unwrap();
    let x = Address::new(FLAKY, "x");
    h.send(x.clone(), &7_i64).unwrap();
    h.run().await.unwrap();
    assert_eq!(h.state(&x, &TOTAL).unwrap(), Some(7));
    assert_eq!(h.counters().failed_attempts, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    let reasons: Vec<String> = h
        .trace()
        .iter()
        .filter_map(|e| match &e.event {
            Event::AttemptFailed { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert!(reasons.iter().all(|r| r.contains("500")), "{reasons:?}");
    // Close the harness's pooled connection, so the server stops at once.
    drop(h);
    serving.stop().await;

    // Nothing listens (port 1): refused until the budget is spent.
    let mut h = Harness::builder()
        .seed(23)
        .remote("test/flaky", "http://127.0.0.1:1/statefun")
        .build()
        .unwrap();
    h.send(x, &1_i64).unwrap();
    let failure = h.run().await.unwrap_err();
    assert!(
        matches!(failure.cause(), Cause::Transport { .. }),
        "{failure}"
    );
    assert!(failure.attempts().unwrap() > 10, "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_function_that_never_answers_spends_one_budget_not_one_per_attempt() {
    use std::time::Duration;

    use stateful_functions::Address;
    use statefun_harness::Cause;

    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/statefun", listener.local_addr().unwrap());
    let holding = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let mut h = Harness::builder()
        .remote("test/*", &url)
        .call_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    h.send(
        Address::new(crate::fixture::recorder("q").function_type().clone(), "q"),
        &Command::Add(1),
    )
    .unwrap();
    let failure = h.run().await.unwrap_err();
    assert!(
        matches!(failure.cause(), Cause::Transport { .. }),
        "{failure}"
    );
    assert_eq!(failure.attempts(), Some(1), "{failure}");
    assert_eq!(h.now(), Duration::from_millis(300));
    holding.abort();
}
