//! What the benchmarks share: the shopping-cart inventory requests they
//! send, the check that an answer is the one expected, and reading a
//! process's memory and CPU time.
//!
//! The benchmarks themselves are `benches/*.rs` (divan and plain timing
//! loops) and the `http-bench` binary, which `benches/run.sh` drives; see
//! `docs/performance.md` for what each measures and the figures.
//!
//! ```
//! let body = statefun_benches::inventory_request(100);
//! assert!(body.len() > 100 * 40);
//! ```

pub mod client;
pub mod load;
pub mod process;
pub mod wrk;

use bytes::Bytes;
use prost::Message as _;
use stateful_functions::Value as _;
use statefun_protocol::reqreply::{
    Address, FromFunction, ToFunction, TypedValue, from_function, to_function,
};

/// The stock every request carries: large enough that every reservation
/// succeeds.
pub const STOCK: i32 = 1_000_000_000;
/// The reservations every request carries.
pub const RESERVED: i32 = 10;

fn int(value: i32) -> TypedValue {
    TypedValue {
        typename: "io.statefun.types/int".to_owned(),
        has_value: true,
        value: value.to_bytes().unwrap_or_default(),
    }
}

/// The `ToFunction` the runtime sends `com.example/inventory:socks` with
/// both of its states present (`stock`, `reserved`) and `invocations`
/// `RequestItem` messages from carts `com.example/cart:user-<i>`, as
/// protobuf bytes.
#[must_use]
pub fn inventory_request(invocations: usize) -> Bytes {
    let address = |kind: &str, id: String| Address {
        namespace: "com.example".to_owned(),
        r#type: kind.to_owned(),
        id,
    };
    let batch = to_function::InvocationBatchRequest {
        target: Some(address("inventory", "socks".to_owned())),
        state: vec![
            to_function::PersistedValue {
                state_name: "stock".to_owned(),
                state_value: Some(int(STOCK)),
            },
            to_function::PersistedValue {
                state_name: "reserved".to_owned(),
                state_value: Some(int(RESERVED)),
            },
        ],
        invocations: (0..invocations)
            .map(|i| to_function::Invocation {
                caller: Some(address("cart", format!("user-{i}"))),
                argument: Some(TypedValue {
                    typename: "com.example.types/RequestItem".to_owned(),
                    has_value: true,
                    value: Bytes::from_static(br#"{"item_id": "socks", "quantity": 1}"#),
                }),
            })
            .collect(),
    };
    Bytes::from(
        ToFunction {
            request: Some(to_function::Request::Invocation(batch)),
        }
        .encode_to_vec(),
    )
}

/// Checks that `response` is the inventory's answer to
/// [`inventory_request`]`(invocations)`: `reserved` raised by one per
/// invocation and an `ItemReserved` for each cart, in order.
///
/// # Errors
///
/// What differs from the expected answer.
pub fn check_inventory_response(response: &[u8], invocations: usize) -> Result<(), String> {
    let reply = FromFunction::decode(response).map_err(|e| format!("not a FromFunction: {e}"))?;
    let Some(from_function::Response::InvocationResult(result)) = reply.response else {
        return Err(format!("not an invocation result: {reply:?}"));
    };
    let [mutation] = result.state_mutations.as_slice() else {
        return Err(format!(
            "expected one state mutation, got {:?}",
            result.state_mutations
        ));
    };
    let written = mutation
        .state_value
        .as_ref()
        .map(|v| i32::from_bytes(&v.value));
    let expected = i32::try_from(invocations)
        .ok()
        .and_then(|n| RESERVED.checked_add(n));
    match written {
        Some(Ok(value)) if mutation.state_name == "reserved" && Some(value) == expected => {}
        _ => return Err(format!("unexpected state mutation {mutation:?}")),
    }
    if result.outgoing_messages.len() != invocations {
        return Err(format!(
            "expected {invocations} outgoing messages, got {}",
            result.outgoing_messages.len()
        ));
    }
    for (i, message) in result.outgoing_messages.iter().enumerate() {
        let target = message.target.as_ref();
        let typename = message.argument.as_ref().map(|a| a.typename.as_str());
        let to = target.map(|t| (t.namespace.as_str(), t.r#type.as_str(), t.id.clone()));
        if to != Some(("com.example", "cart", format!("user-{i}")))
            || typename != Some("com.example.types/ItemReserved")
        {
            return Err(format!("unexpected outgoing message {i}: {message:?}"));
        }
    }
    Ok(())
}

/// The resident set size of process `pid` in KiB, from `/proc`.
///
/// # Errors
///
/// When `/proc/<pid>/status` cannot be read or has no `VmRSS` line (the
/// process is gone, or this is not Linux).
///
/// ```
/// let kib = statefun_benches::rss_kib(std::process::id()).unwrap();
/// assert!(kib > 0);
/// ```
pub fn rss_kib(pid: u32) -> std::io::Result<u64> {
    status_kib(pid, "VmRSS")
}

/// The highest resident set size of process `pid` so far (`VmHWM`), in
/// KiB.
///
/// # Errors
///
/// As [`rss_kib`].
///
/// ```
/// let pid = std::process::id();
/// // The peak never falls, so it is at least what was resident before.
/// let resident = statefun_benches::rss_kib(pid).unwrap();
/// assert!(statefun_benches::peak_rss_kib(pid).unwrap() >= resident);
/// ```
pub fn peak_rss_kib(pid: u32) -> std::io::Result<u64> {
    status_kib(pid, "VmHWM")
}

/// A `kB` line of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no {field} for process {pid}")))
}

/// The CPU time process `pid` used so far (user and system), from
/// `/proc/<pid>/stat`, in clock ticks of 10 ms.
///
/// # Errors
///
/// When `/proc/<pid>/stat` cannot be read or parsed (the process is gone,
/// or this is not Linux).
///
/// ```
/// let used = statefun_benches::cpu_time(std::process::id()).unwrap();
/// assert!(used < std::time::Duration::from_secs(3600));
/// ```
pub fn cpu_time(pid: u32) -> std::io::Result<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let unreadable = || std::io::Error::other(format!("unreadable /proc/{pid}/stat"));
    // The fields after the command name (which may hold spaces).
    let rest = stat.rsplit_once(')').ok_or_else(unreadable)?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (user, system) = ticks(11).zip(ticks(12)).ok_or_else(unreadable)?;
    Ok(std::time::Duration::from_millis((user + system) * 10))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use stateful_functions::RequestReplyHandler;

    fn answer(invocations: usize) -> Bytes {
        let handler = RequestReplyHandler::new(shopping_cart::functions().unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(handler.handle(inventory_request(invocations)))
            .unwrap()
    }

    #[test]
    fn the_cart_inventory_answers_as_expected() {
        for n in [1, 100] {
            check_inventory_response(&answer(n), n).unwrap();
        }
    }

    #[test]
    fn a_wrong_answer_is_caught() {
        let error = check_inventory_response(&answer(1), 2).unwrap_err();
        assert!(error.contains("unexpected state mutation"), "{error}");
        let error = check_inventory_response(b"\xff", 1).unwrap_err();
        assert!(error.contains("not a FromFunction"), "{error}");
    }
}
