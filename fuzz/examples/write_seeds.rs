//! Writes the seed corpora under `fuzz/seeds/TARGET/` from the
//! repository's fixtures, plus a few inputs of each kind written here:
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example write_seeds
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message as _;
use statefun_protocol::reqreply::{self as pb, ToFunction, to_function as pbt};
use statefun_protocol::wire::{AddressRef, ValueRef, from_function, to_function};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("fuzz/seeds").join(target);
    fs::create_dir_all(&dir).expect("seed directory");
    fs::write(dir.join(name), bytes).expect("seed file");
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn main() {
    // The golden wire fixtures: requests the SDK reads (and the handler
    // runs), and the answers a runtime reads.
    let wire =
        fs::read_to_string(root().join("statefun-sdk/tests/golden/wire.json")).expect("wire.json");
    let wire: serde_json::Value = serde_json::from_str(&wire).expect("JSON");
    for case in wire["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let request = hex(case["request_hex"].as_str().expect("request"));
        write("to_function", name, &request);
        write("handler", name, &request);
        if let Some(response) = case["response_hex"].as_str() {
            write("from_function", name, &hex(response));
        }
    }

    // Requests written by prost and by the codec, canonical and not.
    let address = |ns: &str, name: &str, id: &str| pb::Address {
        namespace: ns.into(),
        r#type: name.into(),
        id: id.into(),
    };
    let value = |type_name: &str, has_value: bool, bytes: &[u8]| pb::TypedValue {
        typename: type_name.into(),
        has_value,
        value: bytes.to_vec().into(),
    };
    let request = ToFunction {
        request: Some(pbt::Request::Invocation(pbt::InvocationBatchRequest {
            target: Some(address("ns", "fn", "1")),
            state: vec![
                pbt::PersistedValue {
                    state_name: "seen".into(),
                    state_value: Some(value("io.statefun.types/int", true, b"\x08\x05")),
                },
                pbt::PersistedValue {
                    state_name: "empty".into(),
                    state_value: None,
                },
            ],
            invocations: vec![
                pbt::Invocation {
                    caller: Some(address("ns", "caller", "x")),
                    argument: Some(value("io.statefun.types/string", true, b"\x0a\x02hi")),
                },
                pbt::Invocation {
                    caller: None,
                    argument: Some(value("t/none", false, b"")),
                },
            ],
        })),
    };
    let bytes = request.encode_to_vec();
    write("to_function", "prost_batch", &bytes);
    let mut unknown = bytes.clone();
    unknown.extend_from_slice(&[0x38, 0x96, 0x01, 0x3a, 0x02, 0xaa, 0xbb]);
    write("to_function", "unknown_fields", &unknown);
    let mut twice = bytes.clone();
    twice.extend_from_slice(&bytes);
    write("to_function", "two_batches", &twice);
    write("to_function", "empty_message", &[]);
    let written = to_function::write(
        AddressRef {
            namespace: b"ns",
            name: b"fn",
            id: b"7",
        },
        [].into_iter(),
        [to_function::InvocationRef {
            caller: None,
            argument: ValueRef {
                type_name: b"io.statefun.types/string",
                bytes: Some(b"\x0a\x02hi"),
            },
        }]
        .into_iter(),
    );
    write("to_function", "codec_written", &written);
    write(
        "from_function",
        "empty_result",
        &from_function::write_result([].into_iter(), &[], &[], &[]),
    );

    // Checkpoints: the harness's fixtures of both formats.
    for v in ["v1", "v2"] {
        let name = format!("checkpoint-{v}.bin");
        let bytes = fs::read(
            root()
                .join("statefun-harness/tests/harness/fixtures")
                .join(&name),
        )
        .expect("checkpoint fixture");
        write("checkpoint", &name, &bytes);
    }

    // module.yaml: the first byte picks the unknown-key mode.
    let cart = fs::read_to_string(root().join("examples/shopping-cart/deploy/module.yaml"))
        .expect("module.yaml");
    for (name, text) in [
        ("shopping_cart", cart.as_str()),
        (
            "endpoint_v1",
            "kind: io.statefun.endpoints.v1/http\nspec:\n  functions: shop/*\n  urlPathTemplate: http://fns/{function.name}\n  maxNumBatchRequests: 10\n  timeout: 1min\n",
        ),
        (
            "kinesis",
            "kind: io.statefun.kinesis.v1/ingress\nspec:\n  id: shop/in\n  awsRegion:\n    type: specific\n    id: us-west-1\n  startupPosition:\n    type: latest\n  streams:\n    - stream: s\n      valueType: t/v\n      targets:\n        - shop/cart\n---\nkind: io.statefun.kinesis.v1/egress\nspec:\n  id: shop/out\n---\nkind: io.statefun.endpoints.v2/http\nspec:\n  functions: shop/cart\n  urlPathTemplate: http://fns/cart\n  transport:\n    type: io.statefun.transports.v1/okhttp\n    call: 2s\n",
        ),
        (
            "legacy",
            "version: \"3.0\"\nmodule:\n  meta:\n    type: remote\n",
        ),
    ] {
        let mut bytes = vec![0];
        bytes.extend_from_slice(text.as_bytes());
        write("module_yaml", name, &bytes);
        bytes[0] = 1;
        write("module_yaml", &format!("{name}_strict"), &bytes);
    }

    // statefun-local input lines (the shopping cart's module).
    for (i, line) in [
        r#"{"topic": "add-to-cart", "key": "kim", "value": {"user_id": "kim", "item_id": "socks", "quantity": 2}}"#,
        r#"{"ingress": "com.example/shop-requests", "topic": "restock", "key": "socks", "value": {"item_id": "socks", "quantity": 5}}"#,
        r#"{"to": "com.example/inventory:socks", "type": "io.statefun.types/int", "value": 3}"#,
        r#"{"to": "com.example/cart:a/b:c", "type": "x.y/Z", "value_text": "hi"}"#,
        r#"{"to": "com.example/cart:kim", "type": "io.statefun.types/string", "value_base64": "aGk="}"#,
        r#"{"to": "com.example/cart:kim", "type": "io.statefun.types/double", "value": 1.5e3}"#,
        r#"{"stream": "checkout", "key": "k", "value": {}}"#,
        r#"{"advance": "15min"}"#,
        r#"{"advance": 3}"#,
        "   ",
    ]
    .iter()
    .enumerate()
    {
        write("local_input", &format!("line_{i}"), line.as_bytes());
    }
}
