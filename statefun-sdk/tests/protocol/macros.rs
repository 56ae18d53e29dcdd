//! A function declared with the macros, end to end through the handler:
//! handshake, typed dispatch, state mutations, outgoing messages.

use std::collections::BTreeMap;

use stateful_functions::{
    Address, Context, FunctionError, FunctionType, Functions, HandlerError, Origin, RegistryError,
    RequestReplyHandler, State, TypeName, UnexpectedMessage, Value, function, registered_functions,
};
use statefun_protocol::reqreply::from_function::{expiration_spec, persisted_value_mutation};

use crate::wire::{Request, address, missing, result, typed};

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/AddToCart")]
struct AddToCart {
    item_id: String,
    quantity: u32,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/ItemReserved")]
struct ItemReserved {
    item_id: String,
    quantity: u32,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/RequestItem")]
struct RequestItem {
    item_id: String,
    quantity: u32,
}

#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/ItemsInCart")]
struct ItemsInCart(BTreeMap<String, u32>);

#[derive(State)]
struct CartState {
    #[state(expire_after_write = "15m")]
    items: ItemsInCart,
    reservations: i32,
}

const INVENTORY: TypeName = TypeName::from_static("com.example/inventory");

#[derive(Default)]
struct Cart;

#[function(typename = "com.example/cart", state = CartState)]
impl Cart {
    #[handler]
    async fn add(&self, ctx: &mut Context, msg: AddToCart) -> Result<(), FunctionError> {
        let request = RequestItem {
            item_id: msg.item_id.clone(),
            quantity: msg.quantity,
        };
        ctx.send(Address::new(INVENTORY, msg.item_id), &request)?;
        Ok(())
    }

    #[handler]
    async fn reserved(&self, ctx: &mut Context, msg: ItemReserved) -> Result<(), FunctionError> {
        let mut items = ctx.storage().get(&CartState::ITEMS)?.unwrap_or_default();
        *items.0.entry(msg.item_id).or_default() += msg.quantity;
        ctx.storage().set(&CartState::ITEMS, &items)?;
        let n = ctx.storage().get(&CartState::RESERVATIONS)?.unwrap_or(0);
        ctx.storage().set(&CartState::RESERVATIONS, &(n + 1))?;
        Ok(())
    }
}

fn handler() -> RequestReplyHandler {
    RequestReplyHandler::new(Functions::new().with(Cart.spec().unwrap()).unwrap())
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn value<T: Value>(v: &T) -> statefun_protocol::reqreply::TypedValue {
    typed(T::type_name().as_str(), v.to_bytes().unwrap())
}

#[test]
fn handshake_lists_the_derived_state() {
    let request = Request::to("com.example/cart", "Kim").invoke(
        None,
        value(&AddToCart {
            item_id: "socks".into(),
            quantity: 2,
        }),
    );
    let specs = missing(&block_on(handler().handle(request.encode())).unwrap());
    let summary: Vec<_> = specs
        .iter()
        .map(|s| {
            let e = s.expiration_spec.unwrap();
            (
                s.state_name.as_str(),
                s.type_typename.as_str(),
                e.mode(),
                e.expire_after_millis,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "items",
                "com.example.types/ItemsInCart",
                expiration_spec::ExpireMode::AfterWrite,
                900_000
            ),
            (
                "reservations",
                "io.statefun.types/int",
                expiration_spec::ExpireMode::None,
                0
            ),
        ]
    );
}

fn with_state(request: Request) -> Request {
    request.state("items", None).state("reservations", None)
}

#[test]
fn messages_dispatch_by_type_to_their_handler() {
    let add = AddToCart {
        item_id: "socks".into(),
        quantity: 2,
    };
    let reserved = ItemReserved {
        item_id: "socks".into(),
        quantity: 2,
    };
    let request = with_state(Request::to("com.example/cart", "Kim"))
        .invoke(None, value(&add))
        .invoke(
            Some(address("com.example/inventory", "socks")),
            value(&reserved),
        );
    let response = result(&block_on(handler().handle(request.encode())).unwrap());

    let [out] = response.outgoing_messages.as_slice() else {
        panic!("{response:?}")
    };
    let target = out.target.as_ref().unwrap();
    assert_eq!(
        (target.r#type.as_str(), target.id.as_str()),
        ("inventory", "socks")
    );
    let argument = out.argument.as_ref().unwrap();
    assert_eq!(argument.typename, "com.example.types/RequestItem");
    assert_eq!(
        RequestItem::from_bytes(&argument.value).unwrap(),
        RequestItem {
            item_id: "socks".into(),
            quantity: 2
        }
    );

    let mutations: Vec<_> = response
        .state_mutations
        .iter()
        .map(|m| (m.state_name.as_str(), m.mutation_type()))
        .collect();
    assert_eq!(
        mutations,
        [
            ("items", persisted_value_mutation::MutationType::Modify),
            (
                "reservations",
                persisted_value_mutation::MutationType::Modify
            ),
        ]
    );
    let items = &response.state_mutations[0]
        .state_value
        .as_ref()
        .unwrap()
        .value;
    assert_eq!(&items[..], br#"{"socks":2}"#);
}

/// A message type whose decoding panics on `"boom"`, and fails on
/// anything that is not UTF-8.
#[derive(Debug)]
struct Touchy(String);

impl Value for Touchy {
    fn type_name() -> TypeName {
        TypeName::from_static("com.example.types/Touchy")
    }

    fn to_bytes(
        &self,
    ) -> Result<stateful_functions::__private::Bytes, stateful_functions::ValueError> {
        Ok(self.0.clone().into_bytes().into())
    }

    fn from_bytes(
        bytes: &stateful_functions::__private::Bytes,
    ) -> Result<Self, stateful_functions::ValueError> {
        match std::str::from_utf8(bytes) {
            Ok("boom") => panic!("decoding exploded"),
            Ok(text) => Ok(Self(text.to_owned())),
            Err(e) => Err(stateful_functions::ValueError::decode(Self::type_name(), e)),
        }
    }
}

/// Counts the messages its handler saw.
#[derive(Default, Clone)]
struct Fragile(std::sync::Arc<std::sync::atomic::AtomicUsize>);

#[function(typename = "com.example/fragile", auto_register = false)]
impl Fragile {
    #[handler]
    async fn touch(&self, _ctx: &mut Context, _msg: Touchy) -> Result<(), FunctionError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

#[test]
fn a_message_that_panics_or_fails_to_decode_fails_the_batch_cleanly() {
    let fragile = Fragile::default();
    let seen = || fragile.0.load(std::sync::atomic::Ordering::Relaxed);
    let handler = RequestReplyHandler::new(
        Functions::new()
            .with(fragile.clone().spec().unwrap())
            .unwrap(),
    );
    let touchy = |bytes: &[u8]| typed("com.example.types/Touchy", bytes.to_vec());
    let request = |bytes: &[u8]| {
        Request::to("com.example/fragile", "f")
            .invoke(None, touchy(b"fine"))
            .invoke(None, touchy(bytes))
            .encode()
    };

    let err = block_on(handler.handle(request(b"boom"))).unwrap_err();
    let HandlerError::FunctionPanicked {
        address,
        invocation,
        message,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(address.to_string(), "com.example/fragile:f");
    assert_eq!(invocation, 1);
    assert_eq!(message, "decoding exploded");
    // The first message reached the handler, the second did not.
    assert_eq!(seen(), 1);

    let err = block_on(handler.handle(request(b"\xff"))).unwrap_err();
    let HandlerError::FunctionFailed {
        invocation, source, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(invocation, 1);
    assert!(
        source.to_string().contains("com.example.types/Touchy"),
        "{source}"
    );
    assert_eq!(seen(), 2);

    // Still serving afterwards.
    block_on(handler.handle(request(b"fine"))).unwrap();
    assert_eq!(seen(), 4);
}

#[test]
fn an_unexpected_message_type_names_what_the_function_accepts() {
    let request = with_state(Request::to("com.example/cart", "Kim"))
        .invoke(None, value(&"not a cart message".to_owned()));
    let err = block_on(handler().handle(request.encode())).unwrap_err();
    let HandlerError::FunctionFailed {
        source, address, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(address.to_string(), "com.example/cart:Kim");
    let unexpected = source
        .downcast_ref::<UnexpectedMessage>()
        .expect("an UnexpectedMessage");
    assert_eq!(unexpected.type_name(), "io.statefun.types/string");
    assert_eq!(
        source.to_string(),
        "unexpected message of type \"io.statefun.types/string\"; this function accepts \
         com.example.types/AddToCart, com.example.types/ItemReserved"
    );
}

#[test]
fn auto_registration_lists_and_rejects_duplicates_with_both_origins() {
    let listed: Vec<_> = registered_functions().iter().map(|r| r.type_name).collect();
    assert!(listed.contains(&"com.example/cart"), "{listed:?}");
    let functions = Functions::auto_registered().unwrap();
    let origin = functions.origin(&Cart::TYPE_NAME).unwrap();
    let Origin::Declared(location) = origin else {
        panic!("{origin:?}")
    };
    assert!(location.file.ends_with("macros.rs"), "{location:?}");

    let err = functions.with(Cart.spec().unwrap()).unwrap_err();
    assert!(matches!(err, RegistryError::DuplicateFunction { .. }));
    let text = err.to_string();
    assert!(
        text.contains("registered twice: by #[function] at"),
        "{text}"
    );
    assert!(text.contains("macros.rs"), "{text}");
    assert!(text.contains("and by an explicit registration"), "{text}");
}

#[test]
fn state_structs_store_every_field() {
    // `State::store` writes each field through the typed specs.
    #[derive(Default)]
    struct Seed;
    #[function(typename = "com.example/seed", state = CartState, auto_register = false)]
    impl Seed {
        #[handler]
        async fn seed(&self, ctx: &mut Context, n: i32) -> Result<(), FunctionError> {
            let state = CartState {
                items: ItemsInCart::default(),
                reservations: n,
            };
            state.store(ctx.storage())?;
            Ok(())
        }
    }
    let handler = RequestReplyHandler::new(Functions::new().with(Seed.spec().unwrap()).unwrap());
    let request = with_state(Request::to("com.example/seed", "s")).invoke(None, value(&7_i32));
    let response = result(&block_on(handler.handle(request.encode())).unwrap());
    assert_eq!(response.state_mutations.len(), 2);
    let reservations = &response.state_mutations[1]
        .state_value
        .as_ref()
        .unwrap()
        .value;
    assert_eq!(i32::from_bytes(reservations).unwrap(), 7);
}
