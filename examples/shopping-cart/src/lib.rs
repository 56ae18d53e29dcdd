//! The shopping cart of the StateFun internals walkthrough (Tzu-Li Tai,
//! 2020): a `cart` per user and an `inventory` per item, exchanging
//! reservations, with results and receipts on a Kafka egress.
//!
//! All messages and the cart's items are UTF-8 JSON under
//! `com.example.types/<Name>`; stock and reservations are built-in ints.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stateful_functions::{
    Address, CancellationToken, Context, EgressIdentifier, FunctionError, FunctionType, Functions,
    KafkaRecord, State, Value, function,
};

/// The egress for add-to-cart results and receipts (a Kafka egress).
pub const RESULTS: EgressIdentifier = EgressIdentifier::from_static("com.example/results");
/// Topic of the add-to-cart results.
pub const RESULTS_TOPIC: &str = "add-to-cart-results";
/// Topic of the receipts.
pub const RECEIPTS_TOPIC: &str = "receipts";
/// How long a cart keeps its reservations without a checkout.
pub const CART_EXPIRY: Duration = Duration::from_secs(15 * 60);

macro_rules! message {
    ($(#[$doc:meta])* $name:ident, $typename:literal { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Value)]
        #[statefun(typename = $typename)]
        pub struct $name {
            $(
                #[allow(missing_docs)]
                pub $field: $ty,
            )*
        }
    };
}

message!(
    /// A user adds an item to their cart (ingress, to `cart:<user_id>`).
    AddToCart, "com.example.types/AddToCart" { user_id: String, item_id: String, quantity: i32 }
);
message!(
    /// The cart asks an inventory to reserve items.
    RequestItem, "com.example.types/RequestItem" { item_id: String, quantity: i32 }
);
message!(
    /// The inventory reserved the items for the caller.
    ItemReserved, "com.example.types/ItemReserved" { item_id: String, quantity: i32 }
);
message!(
    /// The inventory cannot reserve the items.
    ItemUnavailable, "com.example.types/ItemUnavailable" { item_id: String, quantity: i32 }
);
message!(
    /// New stock arrives (ingress, to `inventory:<item_id>`).
    Restock, "com.example.types/Restock" { item_id: String, quantity: i32 }
);
message!(
    /// A cart gives reserved items back.
    ReleaseItem, "com.example.types/ReleaseItem" { item_id: String, quantity: i32 }
);
message!(
    /// A cart bought its reserved items.
    CommitItem, "com.example.types/CommitItem" { item_id: String, quantity: i32 }
);
message!(
    /// The user checks out (ingress, to `cart:<user_id>`).
    Checkout, "com.example.types/Checkout" { user_id: String }
);
message!(
    /// The cart's reservations time out (the cart to itself, delayed).
    CartExpired, "com.example.types/CartExpired" { user_id: String }
);

/// The outcome of an `AddToCart`, on the results topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddToCartResult {
    #[allow(missing_docs)]
    pub user_id: String,
    #[allow(missing_docs)]
    pub item_id: String,
    #[allow(missing_docs)]
    pub quantity: i32,
    /// Whether the items were reserved.
    pub success: bool,
}

/// What a checkout bought, on the receipts topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    #[allow(missing_docs)]
    pub user_id: String,
    /// Item id to quantity.
    pub items: BTreeMap<String, i32>,
}

/// The items in a cart: item id to quantity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Value)]
#[statefun(typename = "com.example.types/ItemsInCart")]
pub struct ItemsInCart(pub BTreeMap<String, i32>);

/// A cart's state.
#[derive(Debug, State)]
pub struct CartState {
    /// Reserved items; absent when the cart is empty.
    pub items: ItemsInCart,
}

/// An inventory's state.
#[derive(Debug, State)]
pub struct InventoryState {
    /// Items in stock.
    pub stock: i32,
    /// Items reserved by carts.
    pub reserved: i32,
}

/// `com.example/cart`, one per user.
#[derive(Debug, Default)]
pub struct Cart;

fn expiry_token(user: &str) -> Result<CancellationToken, FunctionError> {
    Ok(CancellationToken::new(format!("cart-expiry:{user}"))?)
}

fn json<T: Serialize>(value: &T) -> Result<String, FunctionError> {
    Ok(serde_json::to_string(value)?)
}

#[function(typename = "com.example/cart", state = CartState)]
impl Cart {
    /// Asks the item's inventory for a reservation.
    #[handler]
    async fn add_to_cart(&self, ctx: &mut Context, msg: AddToCart) -> Result<(), FunctionError> {
        let request = RequestItem {
            item_id: msg.item_id.clone(),
            quantity: msg.quantity,
        };
        ctx.send(Inventory::address(&msg.item_id), &request)?;
        Ok(())
    }

    /// Adds reserved items; the first ones start the cart's expiry.
    #[handler]
    async fn item_reserved(
        &self,
        ctx: &mut Context,
        msg: ItemReserved,
    ) -> Result<(), FunctionError> {
        let user = ctx.self_address().id().to_owned();
        let mut items = ctx.storage().get(&CartState::ITEMS)?.unwrap_or_default();
        if items.0.is_empty() {
            ctx.send_after_with_token(
                CART_EXPIRY,
                expiry_token(&user)?,
                Cart::address(&user),
                &CartExpired {
                    user_id: user.clone(),
                },
            )?;
        }
        *items.0.entry(msg.item_id.clone()).or_default() += msg.quantity;
        ctx.storage().set(&CartState::ITEMS, &items)?;
        result(ctx, &user, &msg.item_id, msg.quantity, true)
    }

    /// Reports that the items could not be reserved.
    #[handler]
    async fn item_unavailable(
        &self,
        ctx: &mut Context,
        msg: ItemUnavailable,
    ) -> Result<(), FunctionError> {
        let user = ctx.self_address().id().to_owned();
        result(ctx, &user, &msg.item_id, msg.quantity, false)
    }

    /// Buys everything in the cart.
    #[handler]
    async fn checkout(&self, ctx: &mut Context, msg: Checkout) -> Result<(), FunctionError> {
        let items = ctx.storage().get(&CartState::ITEMS)?.unwrap_or_default();
        if !items.0.is_empty() {
            ctx.cancel_delayed_message(&expiry_token(&msg.user_id)?);
        }
        let receipt = Receipt {
            user_id: msg.user_id.clone(),
            items: items.0.clone(),
        };
        ctx.send_egress(
            &RESULTS,
            KafkaRecord::new(RECEIPTS_TOPIC, json(&receipt)?).with_key(msg.user_id),
        )?;
        for (item_id, quantity) in items.0 {
            ctx.send(
                Inventory::address(&item_id),
                &CommitItem {
                    item_id: item_id.clone(),
                    quantity,
                },
            )?;
        }
        ctx.storage().remove(&CartState::ITEMS)?;
        Ok(())
    }

    /// Gives every reservation back.
    #[handler]
    async fn cart_expired(
        &self,
        ctx: &mut Context,
        _msg: CartExpired,
    ) -> Result<(), FunctionError> {
        let items = ctx.storage().get(&CartState::ITEMS)?.unwrap_or_default();
        for (item_id, quantity) in items.0 {
            ctx.send(
                Inventory::address(&item_id),
                &ReleaseItem {
                    item_id: item_id.clone(),
                    quantity,
                },
            )?;
        }
        ctx.storage().remove(&CartState::ITEMS)?;
        Ok(())
    }
}

fn result(
    ctx: &mut Context,
    user: &str,
    item_id: &str,
    quantity: i32,
    success: bool,
) -> Result<(), FunctionError> {
    let result = AddToCartResult {
        user_id: user.to_owned(),
        item_id: item_id.to_owned(),
        quantity,
        success,
    };
    ctx.send_egress(
        &RESULTS,
        KafkaRecord::new(RESULTS_TOPIC, json(&result)?).with_key(user),
    )?;
    Ok(())
}

/// `com.example/inventory`, one per item.
#[derive(Debug, Default)]
pub struct Inventory;

#[function(typename = "com.example/inventory", state = InventoryState)]
impl Inventory {
    /// Adds stock.
    #[handler]
    async fn restock(&self, ctx: &mut Context, msg: Restock) -> Result<(), FunctionError> {
        let stock = ctx.storage().get(&InventoryState::STOCK)?.unwrap_or(0);
        ctx.storage()
            .set(&InventoryState::STOCK, &(stock + msg.quantity))?;
        Ok(())
    }

    /// Reserves items for the caller when stock allows.
    #[handler]
    async fn request_item(&self, ctx: &mut Context, msg: RequestItem) -> Result<(), FunctionError> {
        let stock = ctx.storage().get(&InventoryState::STOCK)?.unwrap_or(0);
        let reserved = ctx.storage().get(&InventoryState::RESERVED)?.unwrap_or(0);
        // The caller is known only at run time: its untyped address.
        let Some(caller) = ctx.caller().cloned() else {
            return Err(FunctionError::msg("RequestItem must come from a cart"));
        };
        if stock - reserved >= msg.quantity {
            ctx.storage()
                .set(&InventoryState::RESERVED, &(reserved + msg.quantity))?;
            ctx.send(
                caller,
                &ItemReserved {
                    item_id: msg.item_id,
                    quantity: msg.quantity,
                },
            )?;
        } else {
            ctx.send(
                caller,
                &ItemUnavailable {
                    item_id: msg.item_id,
                    quantity: msg.quantity,
                },
            )?;
        }
        Ok(())
    }

    /// Takes a reservation back.
    #[handler]
    async fn release_item(&self, ctx: &mut Context, msg: ReleaseItem) -> Result<(), FunctionError> {
        let reserved = ctx.storage().get(&InventoryState::RESERVED)?.unwrap_or(0);
        ctx.storage()
            .set(&InventoryState::RESERVED, &(reserved - msg.quantity))?;
        Ok(())
    }

    /// Sells reserved items.
    #[handler]
    async fn commit_item(&self, ctx: &mut Context, msg: CommitItem) -> Result<(), FunctionError> {
        let stock = ctx.storage().get(&InventoryState::STOCK)?.unwrap_or(0);
        let reserved = ctx.storage().get(&InventoryState::RESERVED)?.unwrap_or(0);
        ctx.storage()
            .set(&InventoryState::STOCK, &(stock - msg.quantity))?;
        ctx.storage()
            .set(&InventoryState::RESERVED, &(reserved - msg.quantity))?;
        Ok(())
    }
}

/// The cart and the inventory, registered explicitly.
///
/// # Errors
///
/// When a declaration is invalid (they are checked at compile time, so in
/// practice never).
pub fn functions() -> Result<Functions, Box<dyn std::error::Error + Send + Sync>> {
    Ok(Functions::new()
        .with(Cart.spec()?)?
        .with(Inventory.spec()?)?)
}

/// The module.yaml that deploys the cart on a StateFun cluster: both
/// function types at `url` (the server's `/statefun`), a Kafka ingress for
/// `AddToCart`, `Checkout` (to carts, keyed by user id) and `Restock` (to
/// inventories, keyed by item id), and the results egress, exactly once.
#[must_use]
pub fn module_yaml(url: &str, kafka: &str) -> String {
    use stateful_functions::{KafkaTopic, ModuleYaml, TypeName};
    let functions = functions().unwrap_or_default();
    let value_type = |name: &'static str| TypeName::from_static(name);
    ModuleYaml::new()
        .http_endpoints(&functions, url)
        .kafka_ingress(
            TypeName::from_static("com.example/shop-requests"),
            kafka,
            "shopping-cart",
            [
                KafkaTopic::new("add-to-cart", value_type("com.example.types/AddToCart"))
                    .target(Cart::TYPE_NAME),
                KafkaTopic::new("checkout", value_type("com.example.types/Checkout"))
                    .target(Cart::TYPE_NAME),
                KafkaTopic::new("restock", value_type("com.example.types/Restock"))
                    .target(Inventory::TYPE_NAME),
            ],
        )
        .kafka_egress(&RESULTS, kafka, Some(Duration::from_secs(15 * 60)))
        .to_string()
}

/// The cart of `user`.
#[must_use]
pub fn cart(user: &str) -> Address {
    Cart::address(user).into_address()
}

/// The inventory of `item`.
#[must_use]
pub fn item(item_id: &str) -> Address {
    Inventory::address(item_id).into_address()
}
