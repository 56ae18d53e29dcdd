//! The getting-started guide (`docs/getting-started.md`) shows this
//! crate's code: every code block of it that is not plain text is marked
//! with where it comes from, and this test fails when one drifts.
//!
//! - `<!-- quote: PATH -->`: the block is a verbatim part of the file;
//! - `<!-- dependencies: PATH -->`: every dependency the block names is
//!   one of the crate's, in the same section;
//! - `<!-- output: PATH -->`: the block is the egress that statefun-local
//!   writes for that input (checked by running the input on the harness,
//!   the engine statefun-local runs).

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use bank::{Deposit, RESULTS, TransferRequest, account, functions, transfer};
use stateful_functions::module_yaml::parse_duration;
use statefun_harness::Harness;

const GUIDE: &str = include_str!("../../../docs/getting-started.md");

/// The files the guide may quote, by their path from the repository root.
const FILES: [(&str, &str); 6] = [
    ("examples/bank/Cargo.toml", include_str!("../Cargo.toml")),
    ("examples/bank/src/lib.rs", include_str!("../src/lib.rs")),
    ("examples/bank/src/main.rs", include_str!("../src/main.rs")),
    ("examples/bank/tests/bank.rs", include_str!("bank.rs")),
    (
        "examples/bank/deploy/module.yaml",
        include_str!("../deploy/module.yaml"),
    ),
    (
        "examples/bank/deploy/input.jsonl",
        include_str!("../deploy/input.jsonl"),
    ),
];

/// A fenced code block: its info string, the marker before it, its text.
#[derive(Debug)]
struct Block {
    line: usize,
    info: String,
    marker: Option<(String, String)>,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut marker = None;
    let mut open: Option<Block> = None;
    for (n, line) in (1..).zip(markdown.lines()) {
        if let Some(block) = &mut open {
            if line == "```" {
                blocks.extend(open.take());
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
        } else if let Some(info) = line.strip_prefix("```") {
            open = Some(Block {
                line: n,
                info: info.to_owned(),
                marker: marker.take(),
                text: String::new(),
            });
        } else if let Some(comment) = line
            .strip_prefix("<!-- ")
            .and_then(|l| l.strip_suffix(" -->"))
        {
            let (kind, path) = comment.split_once(": ").unwrap();
            marker = Some((kind.to_owned(), path.to_owned()));
        } else if !line.is_empty() {
            marker = None;
        }
    }
    assert!(open.is_none(), "a code block is not closed");
    blocks
}

fn file(path: &str) -> &'static str {
    let found = FILES.iter().find(|(p, _)| *p == path);
    found
        .unwrap_or_else(|| panic!("{path} is not a file the guide may quote"))
        .1
}

#[tokio::test]
async fn every_code_block_of_the_guide_is_the_crates_code() {
    let mut quoted = BTreeSet::new();
    for block in blocks(GUIDE) {
        let at = format!("docs/getting-started.md:{}", block.line);
        if block.info == "text" {
            continue;
        }
        let Some((kind, path)) = &block.marker else {
            panic!("{at}: a {:?} block without a quote marker", block.info);
        };
        match kind.as_str() {
            "quote" => {
                assert!(
                    file(path).contains(&block.text),
                    "{at}: not a verbatim part of {path}:\n{}",
                    block.text
                );
                quoted.insert(path.clone());
            }
            "dependencies" => dependencies_are_the_crates(&at, &block.text, file(path)),
            "output" => assert_eq!(
                sorted_lines(&block.text),
                egress_of(file(path)).await,
                "{at}: not what the input gives"
            ),
            other => panic!("{at}: unknown marker {other:?}"),
        }
    }
    // The guide shows every part of the application.
    for path in [
        "examples/bank/src/lib.rs",
        "examples/bank/src/main.rs",
        "examples/bank/tests/bank.rs",
        "examples/bank/deploy/module.yaml",
        "examples/bank/deploy/input.jsonl",
    ] {
        assert!(quoted.contains(path), "the guide quotes nothing of {path}");
    }
}

/// Every `name = ...` line of the block's sections names a dependency of
/// the manifest's section of the same name.
fn dependencies_are_the_crates(at: &str, block: &str, manifest: &str) {
    let section_of = |text: &str| {
        let mut section = String::new();
        let mut names = BTreeSet::new();
        for line in text.lines() {
            if line.starts_with('[') {
                section = line.to_owned();
            } else if let Some((name, _)) = line.split_once(" = ") {
                let name = name.trim_end_matches(".workspace");
                names.insert((section.clone(), name.to_owned()));
            }
        }
        names
    };
    let crates = section_of(manifest);
    let shown = section_of(block);
    assert!(!shown.is_empty(), "{at}: no dependencies");
    for dependency in &shown {
        assert!(
            crates.contains(dependency),
            "{at}: {dependency:?} is not in the manifest"
        );
    }
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(canonical).collect();
    lines.sort();
    lines
}

fn canonical(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .unwrap()
        .to_string()
}

/// The egress records `input` (statefun-local's input lines) gives, as
/// statefun-local writes them, sorted. One partition, as statefun-local
/// runs by default: an account gets its messages in input order.
async fn egress_of(input: &str) -> Vec<String> {
    let mut h = Harness::builder()
        .functions(functions().unwrap())
        .kafka_egress(&RESULTS)
        .build()
        .unwrap();
    for line in input.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(advance) = record["advance"].as_str() {
            h.advance(parse_duration(advance).unwrap()).await.unwrap();
            continue;
        }
        let key = record["key"].as_str().unwrap();
        let value = record["value"].clone();
        match record["topic"].as_str().unwrap() {
            "deposits" => {
                let deposit: Deposit = serde_json::from_value(value).unwrap();
                h.send(account(key), &deposit).unwrap();
            }
            "transfers" => {
                let request: TransferRequest = serde_json::from_value(value).unwrap();
                h.send(transfer(key), &request).unwrap();
            }
            other => panic!("topic {other} is not in the module"),
        }
    }
    h.run().await.unwrap();
    let records = h.kafka_records(&RESULTS).unwrap();
    let mut lines: Vec<String> = records
        .iter()
        .map(|r| {
            let value: serde_json::Value = serde_json::from_slice(r.value()).unwrap();
            let line = serde_json::json!({
                "egress": RESULTS.type_name().as_str(),
                "topic": r.topic(),
                "key": r.key().unwrap(),
                "value": value,
            });
            line.to_string()
        })
        .collect();
    lines.sort();
    lines
}
