//! The same run against the function in process and over HTTP (the SDK's
//! own server on loopback): identical traces and state.

use statefun_harness::Harness;
use statefun_sdk::{RequestReplyHandler, Server};

use crate::fixture::{Command, RESULTS, functions, log, recorder, sum};

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
    let server = Server::new(RequestReplyHandler::new(functions()))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("http://{}/statefun", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));

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

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
