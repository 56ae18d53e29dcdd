//! The shopping cart on the harness: the walkthrough, reservations, stock
//! running out, checkout, expiry on the virtual clock, and cancelling the
//! expiry at checkout.

// Helpers outside `#[test]` functions panic on purpose: a failed unwrap is
// a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use shopping_cart::{
    AddToCart, AddToCartResult, CartState, Checkout, InventoryState, RECEIPTS_TOPIC, RESULTS,
    RESULTS_TOPIC, Receipt, Restock, cart, functions, item,
};
use statefun_harness::{Event, Harness};

async fn shop(seed: u64) -> Harness {
    let mut h = Harness::builder()
        .seed(seed)
        .partitions(8)
        .functions(functions().unwrap())
        .kafka_egress(&RESULTS)
        .build()
        .unwrap();
    restock(&mut h, "socks", 3);
    restock(&mut h, "hats", 5);
    h.run().await.unwrap();
    h
}

fn restock(h: &mut Harness, item_id: &str, quantity: i32) {
    let restock = Restock {
        item_id: item_id.into(),
        quantity,
    };
    h.send(item(item_id), &restock).unwrap();
}

fn add(user: &str, item_id: &str, quantity: i32) -> AddToCart {
    AddToCart {
        user_id: user.into(),
        item_id: item_id.into(),
        quantity,
    }
}

fn results(h: &Harness) -> Vec<AddToCartResult> {
    h.kafka_records(&RESULTS)
        .unwrap()
        .into_iter()
        .filter(|r| r.topic() == RESULTS_TOPIC)
        .map(|r| serde_json::from_slice(r.value()).unwrap())
        .collect()
}

fn receipts(h: &Harness) -> Vec<Receipt> {
    h.kafka_records(&RESULTS)
        .unwrap()
        .into_iter()
        .filter(|r| r.topic() == RECEIPTS_TOPIC)
        .map(|r| serde_json::from_slice(r.value()).unwrap())
        .collect()
}

fn inventory(h: &Harness, item_id: &str) -> (i32, i32) {
    (
        h.state(&item(item_id), &InventoryState::STOCK)
            .unwrap()
            .unwrap_or(0),
        h.state(&item(item_id), &InventoryState::RESERVED)
            .unwrap()
            .unwrap_or(0),
    )
}

fn items(h: &Harness, user: &str) -> Vec<(String, i32)> {
    h.state(&cart(user), &CartState::ITEMS)
        .unwrap()
        .map(|i| i.0.into_iter().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_walkthrough_kim_adds_two_socks_across_partitions() {
    let mut h = shop(2020).await;
    assert_ne!(h.partition_of(&cart("Kim")), h.partition_of(&item("socks")));
    h.send(cart("Kim"), &add("Kim", "socks", 2)).unwrap();
    let from = h.trace().len();
    h.run().await.unwrap();

    // The figure's flow: ingress -> cart:Kim, cart -> inventory:socks (another
    // partition), the reservation, inventory -> cart:Kim, the result.
    let deliveries: Vec<(Option<String>, String, u32)> = h.trace()[from..]
        .iter()
        .filter_map(|e| match &e.event {
            Event::Delivered {
                from,
                to,
                partition,
            } => Some((
                from.as_ref().map(ToString::to_string),
                to.to_string(),
                *partition,
            )),
            _ => None,
        })
        .collect();
    let (kim, socks) = (h.partition_of(&cart("Kim")), h.partition_of(&item("socks")));
    assert_eq!(
        deliveries,
        [
            (None, "com.example/cart:Kim".into(), kim),
            (
                Some("com.example/cart:Kim".into()),
                "com.example/inventory:socks".into(),
                socks
            ),
            (
                Some("com.example/inventory:socks".into()),
                "com.example/cart:Kim".into(),
                kim
            ),
        ]
    );
    assert_eq!(items(&h, "Kim"), [("socks".to_owned(), 2)]);
    assert_eq!(inventory(&h, "socks"), (3, 2));
    assert_eq!(
        results(&h),
        [AddToCartResult {
            user_id: "Kim".into(),
            item_id: "socks".into(),
            quantity: 2,
            success: true
        }]
    );
    let record = &h.kafka_records(&RESULTS).unwrap()[0];
    assert_eq!(record.key(), Some("Kim"));
}

#[tokio::test]
async fn out_of_stock_is_reported_and_reserves_nothing() {
    let mut h = shop(1).await;
    h.send(cart("Kim"), &add("Kim", "socks", 2)).unwrap();
    h.send(cart("Ann"), &add("Ann", "socks", 2)).unwrap();
    h.run().await.unwrap();
    let mut outcomes: Vec<(String, bool)> = results(&h)
        .into_iter()
        .map(|r| (r.user_id, r.success))
        .collect();
    outcomes.sort();
    // Three socks: whoever asks first gets two; the other gets none.
    assert_eq!(
        outcomes.iter().filter(|(_, ok)| *ok).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(outcomes.len(), 2);
    assert_eq!(inventory(&h, "socks"), (3, 2));
}

#[tokio::test]
async fn checkout_commits_the_items_and_writes_a_receipt() {
    let mut h = shop(2).await;
    h.send(cart("Kim"), &add("Kim", "socks", 2)).unwrap();
    h.send(cart("Kim"), &add("Kim", "hats", 1)).unwrap();
    h.run().await.unwrap();
    h.send(
        cart("Kim"),
        &Checkout {
            user_id: "Kim".into(),
        },
    )
    .unwrap();
    h.run().await.unwrap();
    assert_eq!(
        receipts(&h),
        [Receipt {
            user_id: "Kim".into(),
            items: [("hats".to_owned(), 1), ("socks".to_owned(), 2)]
                .into_iter()
                .collect()
        }]
    );
    assert!(items(&h, "Kim").is_empty(), "the cart is emptied");
    assert_eq!(inventory(&h, "socks"), (1, 0));
    assert_eq!(inventory(&h, "hats"), (4, 0));
}

#[tokio::test]
async fn an_abandoned_cart_expires_after_15_minutes_and_releases_its_items() {
    let mut h = shop(3).await;
    h.send(cart("Kim"), &add("Kim", "socks", 2)).unwrap();
    h.run().await.unwrap();
    h.advance(Duration::from_secs(14 * 60)).await.unwrap();
    assert_eq!(
        inventory(&h, "socks"),
        (3, 2),
        "still reserved after 14 minutes"
    );
    h.advance(Duration::from_secs(60)).await.unwrap();
    assert_eq!(inventory(&h, "socks"), (3, 0), "released at 15 minutes");
    assert!(items(&h, "Kim").is_empty());
    // Another user can now buy them.
    h.send(cart("Ann"), &add("Ann", "socks", 3)).unwrap();
    h.run().await.unwrap();
    assert!(results(&h).iter().any(|r| r.user_id == "Ann" && r.success));
}

#[tokio::test]
async fn checkout_cancels_the_expiry() {
    let mut h = shop(4).await;
    h.send(cart("Kim"), &add("Kim", "socks", 2)).unwrap();
    h.run().await.unwrap();
    assert_eq!(h.pending_timers(), 1);
    h.send(
        cart("Kim"),
        &Checkout {
            user_id: "Kim".into(),
        },
    )
    .unwrap();
    h.run().await.unwrap();
    assert_eq!(h.pending_timers(), 0);
    assert!(h.trace().iter().any(|e| matches!(
        &e.event,
        Event::TimerCancelled { token, found: true, .. } if token == "cart-expiry:Kim"
    )));
    h.advance(Duration::from_secs(30 * 60)).await.unwrap();
    // No CartExpired ran: nothing released twice.
    assert_eq!(inventory(&h, "socks"), (1, 0));
}

#[tokio::test]
async fn the_cart_holds_under_every_schedule() {
    for seed in 0..30 {
        let mut h = shop(seed).await;
        for user in ["Kim", "Ann", "Bo"] {
            h.send(cart(user), &add(user, "socks", 1)).unwrap();
            h.send(cart(user), &add(user, "hats", 1)).unwrap();
        }
        h.run().await.unwrap();
        h.send(
            cart("Kim"),
            &Checkout {
                user_id: "Kim".into(),
            },
        )
        .unwrap();
        h.run().await.unwrap();
        h.advance(Duration::from_secs(16 * 60)).await.unwrap();
        // Everyone got their items (there are enough); Kim bought one sock
        // and one hat, and the others' reservations expired.
        assert!(results(&h).iter().all(|r| r.success), "seed {seed}");
        assert_eq!(inventory(&h, "socks"), (2, 0), "seed {seed}");
        assert_eq!(inventory(&h, "hats"), (4, 0), "seed {seed}");
    }
}

#[test]
fn the_module_yaml_deploys_both_functions_with_kafka_in_and_out() {
    let yaml = shopping_cart::module_yaml("http://shop:8000/statefun", "kafka:9092");
    let kinds: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect();
    assert_eq!(
        kinds,
        [
            "io.statefun.endpoints.v2/http",
            "io.statefun.endpoints.v2/http",
            "io.statefun.kafka.v1/ingress",
            "io.statefun.kafka.v1/egress",
        ]
    );
    for expected in [
        "functions: \"com.example/cart\"",
        "functions: \"com.example/inventory\"",
        "valueType: \"com.example.types/AddToCart\"",
        "id: \"com.example/results\"",
        "type: exactly-once",
    ] {
        assert!(yaml.contains(expected), "{expected} in\n{yaml}");
    }
}

#[test]
fn the_checked_in_module_yaml_is_current() {
    let generated = shopping_cart::module_yaml("http://shopping-cart:8000/statefun", "kafka:9092");
    let checked_in = include_str!("../deploy/module.yaml");
    assert_eq!(
        checked_in, generated,
        "regenerate with `cargo run -p shopping-cart -- module-yaml > examples/shopping-cart/deploy/module.yaml`"
    );
}

/// The outcome a crash must not change: inventories, carts and the
/// committed egress (as a sorted list: the order across addresses depends
/// on the schedule).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    inventory: Vec<(i32, i32)>,
    carts: Vec<Vec<(String, i32)>>,
    egress: Vec<(String, Option<String>, String)>,
}

/// Restock, a checkpoint, three reservations, a crash after `crash_after`
/// steps (if any), Kim's checkout, a final checkpoint.
async fn crash_run(crash_after: Option<u64>) -> (Outcome, u64) {
    let mut h = Harness::builder()
        .seed(77)
        .partitions(4)
        .functions(functions().unwrap())
        .kafka_egress(&RESULTS)
        .egress_semantics(statefun_harness::EgressSemantics::ExactlyOnce)
        .build()
        .unwrap();
    restock(&mut h, "socks", 5);
    restock(&mut h, "hats", 5);
    h.run().await.unwrap();
    h.checkpoint();
    h.send(cart("Kim"), &add("Kim", "socks", 2)).unwrap();
    h.send(cart("Kim"), &add("Kim", "hats", 1)).unwrap();
    h.send(cart("Ann"), &add("Ann", "socks", 1)).unwrap();
    let mut steps = 0;
    if let Some(k) = crash_after {
        while steps < k && h.step().await.unwrap() {
            steps += 1;
        }
        h.crash();
    }
    h.run().await.unwrap();
    if crash_after.is_none() {
        steps = h.counters().steps;
    }
    h.send(
        cart("Kim"),
        &Checkout {
            user_id: "Kim".into(),
        },
    )
    .unwrap();
    h.run().await.unwrap();
    h.checkpoint();
    let mut egress: Vec<_> = h
        .kafka_records(&RESULTS)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.topic().to_owned(),
                r.key().map(str::to_owned),
                String::from_utf8(r.value().to_vec()).unwrap(),
            )
        })
        .collect();
    egress.sort();
    let outcome = Outcome {
        inventory: vec![inventory(&h, "socks"), inventory(&h, "hats")],
        carts: vec![items(&h, "Kim"), items(&h, "Ann")],
        egress,
    };
    (outcome, steps)
}

#[tokio::test]
async fn the_cart_survives_a_crash_at_every_step_exactly_once() {
    let (expected, steps) = crash_run(None).await;
    assert_eq!(expected.inventory, [(3, 1), (4, 0)]);
    assert_eq!(
        expected.egress.len(),
        4,
        "three results and one receipt: {expected:?}"
    );
    assert!(steps > 10);
    for k in 0..=steps {
        let (outcome, _) = crash_run(Some(k)).await;
        assert_eq!(outcome, expected, "crash after step {k}");
    }
}

/// Restock, three reservations (two users, one item to its last unit),
/// Kim's checkout, and Ann's cart expiring; with a checkpoint after each
/// step when `checkpoints` is set (the real job takes one every few
/// seconds, long before a user clicks again).
async fn shopping(h: &mut Harness, checkpoints: bool) -> Result<(), Box<dyn std::error::Error>> {
    let pause = async |h: &mut Harness| {
        h.run().await?;
        if checkpoints {
            h.checkpoint();
        }
        Ok::<_, statefun_harness::JobFailure>(())
    };
    restock(h, "socks", 3);
    restock(h, "hats", 5);
    pause(h).await?;
    h.send(cart("Kim"), &add("Kim", "socks", 2))?;
    h.send(cart("Kim"), &add("Kim", "hats", 1))?;
    h.send(cart("Ann"), &add("Ann", "socks", 1))?;
    pause(h).await?;
    h.send(
        cart("Kim"),
        &Checkout {
            user_id: "Kim".into(),
        },
    )?;
    h.advance(shopping_cart::CART_EXPIRY + Duration::from_secs(60))
        .await?;
    Ok(())
}

/// The shop, with a checkpoint every 10 s of virtual time when
/// `checkpoints` is set (as a real job is configured).
fn shop_builder(checkpoints: bool) -> statefun_harness::HarnessBuilder {
    let builder = Harness::builder()
        .partitions(4)
        .functions(functions().unwrap())
        .kafka_egress(&RESULTS);
    if checkpoints {
        builder.checkpoint_interval(Duration::from_secs(10))
    } else {
        builder
    }
}

/// 1,000 generated schedules (seeds, batch shapes, refused, failed and
/// lost calls, checkpoints, up to three crashes), each compared with the
/// fault-free run: the same inventory, carts and committed egress.
#[tokio::test]
async fn the_cart_is_exactly_once_over_a_thousand_generated_schedules() {
    let explorer = statefun_harness::Explorer::new(
        || shop_builder(true),
        async |h: &mut Harness| shopping(h, true).await,
    );
    let report = explorer.cases(1_000).check_exactly_once().await.unwrap();
    assert_eq!(report.schedules, 1_000);
    assert!(report.restarts > 500, "{report:?}");
    assert!(report.failed_attempts > 1_000, "{report:?}");
}

/// Without checkpoints, a crash replays all the ingress at once and
/// restores timers that are overdue by then: the checkout can overtake a
/// reservation still on its way (the late item is not bought, and is
/// released when the cart expires), or the restored expiry can fire before
/// the replayed checkout. The real runtime can do the same; the explorer
/// finds it.
#[tokio::test]
async fn the_explorer_finds_what_a_replay_without_checkpoints_reorders() {
    let explorer = statefun_harness::Explorer::new(
        || shop_builder(false),
        async |h: &mut Harness| shopping(h, false).await,
    );
    let violation = explorer
        .cases(1_000)
        .check_exactly_once()
        .await
        .unwrap_err();
    assert_eq!(violation.schedule().crashes.len(), 1, "{violation}");
    assert!(violation.schedule().faults.is_none(), "{violation}");
    assert!(
        violation.what().contains("com.example/inventory:"),
        "{violation}"
    );
}

#[tokio::test]
async fn the_cart_does_not_depend_on_batch_shapes_or_luck() {
    let explorer = statefun_harness::Explorer::new(
        || shop_builder(true),
        async |h: &mut Harness| shopping(h, true).await,
    );
    explorer.check_batch_shapes().await.unwrap();
    explorer.cases(50).check_deterministic().await.unwrap();
}
