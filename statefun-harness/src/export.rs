//! The trace as something to look at: a Mermaid sequence diagram and JSON
//! lines, and both written to files when a test fails.

use std::fmt::Write as _;
use std::path::PathBuf;

use stateful_functions::Address;

use crate::engine::Engine;
use crate::trace::Event;

/// A JSON string literal.
fn json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn address(a: &Address) -> String {
    json(&a.to_string())
}

/// A Mermaid participant id for an address (letters, digits and `_`).
fn participant(a: &Address) -> String {
    let mut id = String::from("a_");
    for c in a.to_string().chars() {
        id.push(if c.is_ascii_alphanumeric() { c } else { '_' });
    }
    id
}

/// Text safe inside a Mermaid message.
fn label(s: &str) -> String {
    s.replace([';', '#', '\n'], " ")
}

/// The trace as JSON lines: one object per event, with the virtual time
/// in milliseconds.
pub(crate) fn json_lines(engine: &Engine) -> String {
    let mut out = String::new();
    for entry in engine.trace() {
        let at = entry.at.as_millis();
        let fields = match &entry.event {
            Event::Ingress {
                to,
                type_name,
                partition,
            } => format!(
                "\"event\":\"ingress\",\"to\":{},\"type\":{},\"partition\":{partition}",
                address(to),
                json(type_name)
            ),
            Event::Delivered {
                from,
                to,
                partition,
            } => format!(
                "\"event\":\"delivered\",\"from\":{},\"to\":{},\"partition\":{partition}",
                from.as_ref().map_or_else(|| "null".to_owned(), address),
                address(to)
            ),
            Event::Buffered {
                address: a,
                backlog,
            } => {
                format!(
                    "\"event\":\"buffered\",\"address\":{},\"backlog\":{backlog}",
                    address(a)
                )
            }
            Event::RequestSent {
                address: a,
                batch_size,
                states,
            } => format!(
                "\"event\":\"request\",\"address\":{},\"batch_size\":{batch_size},\"states\":[{}]",
                address(a),
                states.iter().map(|s| json(s)).collect::<Vec<_>>().join(",")
            ),
            Event::Handshake {
                address: a,
                registered,
            } => format!(
                "\"event\":\"handshake\",\"address\":{},\"registered\":[{}]",
                address(a),
                registered
                    .iter()
                    .map(|s| json(s))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Event::Applied {
                address: a,
                messages,
                delayed,
                egress,
            } => format!(
                "\"event\":\"applied\",\"address\":{},\"messages\":{messages},\"delayed\":{delayed},\"egress\":{egress}",
                address(a)
            ),
            Event::StateChanged {
                address: a,
                state,
                modified,
            } => format!(
                "\"event\":\"state\",\"address\":{},\"state\":{},\"modified\":{modified}",
                address(a),
                json(state)
            ),
            Event::Expired { address: a, state } => format!(
                "\"event\":\"expired\",\"address\":{},\"state\":{}",
                address(a),
                json(state)
            ),
            Event::TimerScheduled {
                from,
                to,
                at: fire,
                token,
            } => format!(
                "\"event\":\"timer\",\"from\":{},\"to\":{},\"fire_at_ms\":{},\"token\":{}",
                address(from),
                address(to),
                fire.as_millis(),
                token.as_deref().map_or_else(|| "null".to_owned(), json)
            ),
            Event::TimerCancelled { id, token, found } => format!(
                "\"event\":\"timer_cancelled\",\"id\":{},\"token\":{},\"found\":{found}",
                json(id),
                json(token)
            ),
            Event::TimerFired { from, to } => format!(
                "\"event\":\"timer_fired\",\"from\":{},\"to\":{}",
                address(from),
                address(to)
            ),
            Event::Egress { egress, type_name } => format!(
                "\"event\":\"egress\",\"egress\":{},\"type\":{}",
                json(egress),
                json(type_name)
            ),
            Event::Checkpoint { id } => format!("\"event\":\"checkpoint\",\"id\":{id}"),
            Event::Answered { address: a } => {
                format!("\"event\":\"answered\",\"address\":{}", address(a))
            }
            Event::AttemptFailed {
                address: a,
                attempt,
                reason,
                retry_in,
            } => format!(
                "\"event\":\"attempt_failed\",\"address\":{},\"attempt\":{attempt},\"reason\":{},\"retry_in_ms\":{}",
                address(a),
                json(reason),
                retry_in.map_or_else(|| "null".to_owned(), |d| d.as_millis().to_string())
            ),
            Event::JobFailed { reason } => {
                format!("\"event\":\"job_failed\",\"reason\":{}", json(reason))
            }
            Event::InvariantViolated { name, message } => format!(
                "\"event\":\"invariant_violated\",\"name\":{},\"message\":{}",
                json(name),
                json(message)
            ),
            Event::Restored {
                checkpoint,
                resent,
                replayed,
            } => format!(
                "\"event\":\"restored\",\"checkpoint\":{checkpoint},\"resent\":{resent},\"replayed\":{replayed}"
            ),
        };
        let _ = writeln!(out, "{{\"at_ms\":{at},{fields}}}");
    }
    out
}

/// The trace as a Mermaid sequence diagram: one participant per address
/// (with its partition), messages as arrows, batches, state changes,
/// timers, egress, checkpoints and crashes as notes. Paste it into any
/// Mermaid viewer.
pub(crate) fn mermaid(engine: &Engine) -> String {
    let mut participants: Vec<Address> = Vec::new();
    for entry in engine.trace() {
        let addresses: Vec<&Address> = match &entry.event {
            Event::Delivered { from, to, .. } => from.iter().chain([to]).collect(),
            Event::TimerScheduled { from, to, .. } | Event::TimerFired { from, to } => {
                vec![from, to]
            }
            _ => Vec::new(),
        };
        for a in addresses {
            if !participants.contains(a) {
                participants.push(a.clone());
            }
        }
    }
    let mut out = String::from("sequenceDiagram\n    participant ingress as ingress\n");
    for a in &participants {
        let _ = writeln!(
            out,
            "    participant {} as {} [p{}]",
            participant(a),
            label(&a.to_string()),
            engine.partition_of(a)
        );
    }
    out.push_str("    participant egress as egress\n");
    for entry in engine.trace() {
        let at = entry.at.as_millis();
        let line = match &entry.event {
            Event::Delivered { from, to, .. } => Some(format!(
                "{}->>{}: t={at}ms",
                from.as_ref()
                    .map_or_else(|| "ingress".to_owned(), participant),
                participant(to)
            )),
            Event::RequestSent {
                address: a,
                batch_size,
                ..
            } => Some(format!(
                "Note over {}: request, batch of {batch_size}",
                participant(a)
            )),
            Event::Handshake {
                address: a,
                registered,
            } => Some(format!(
                "Note over {}: handshake: {}",
                participant(a),
                label(&registered.join(", "))
            )),
            Event::StateChanged {
                address: a,
                state,
                modified,
            } => Some(format!(
                "Note over {}: {} {}",
                participant(a),
                label(state),
                if *modified { "modified" } else { "deleted" }
            )),
            Event::TimerScheduled {
                from, to, at: fire, ..
            } => Some(format!(
                "{}-->>{}: timer at {}ms",
                participant(from),
                participant(to),
                fire.as_millis()
            )),
            Event::TimerFired { from, to } => Some(format!(
                "{}-->>{}: timer fired t={at}ms",
                participant(from),
                participant(to)
            )),
            Event::Egress { egress, .. } => Some(format!("Note over egress: {}", label(egress))),
            Event::Checkpoint { id } => Some(format!("Note over ingress,egress: checkpoint {id}")),
            Event::Restored { checkpoint, .. } => Some(format!(
                "Note over ingress,egress: CRASH, restored checkpoint {checkpoint}"
            )),
            Event::AttemptFailed {
                address: a,
                attempt,
                retry_in,
                ..
            } => Some(format!(
                "Note over {}: attempt {attempt} failed{}",
                participant(a),
                retry_in.map_or_else(
                    || ", budget spent".to_owned(),
                    |d| format!(", retry in {}ms", d.as_millis())
                )
            )),
            Event::JobFailed { reason } => Some(format!(
                "Note over ingress,egress: JOB FAILED: {}",
                label(reason)
            )),
            Event::InvariantViolated { name, message } => Some(format!(
                "Note over ingress,egress: INVARIANT {} DOES NOT HOLD: {}",
                label(name),
                label(message)
            )),
            _ => None,
        };
        if let Some(line) = line {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// Writes the trace as `.mmd` and `.jsonl` files into
/// `$STATEFUN_HARNESS_TRACE_DIR` (default: `statefun-harness` in the
/// temporary directory) and returns the path of the diagram.
///
/// # Errors
///
/// When the files cannot be written.
pub(crate) fn write(engine: &Engine) -> std::io::Result<PathBuf> {
    let dir = std::env::var_os("STATEFUN_HARNESS_TRACE_DIR").map_or_else(
        || std::env::temp_dir().join("statefun-harness"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir)?;
    let stem = format!(
        "trace-seed{}-{}events-{}",
        engine.seed(),
        engine.trace().len(),
        std::process::id()
    );
    let diagram = dir.join(format!("{stem}.mmd"));
    std::fs::write(&diagram, mermaid(engine))?;
    std::fs::write(dir.join(format!("{stem}.jsonl")), json_lines(engine))?;
    Ok(diagram)
}
