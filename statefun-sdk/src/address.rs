//! [`Address`]: one function instance, a function type plus an id; and
//! [`TypedAddress`], an address whose function type, and so the messages
//! it handles, the compiler knows.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use crate::text::Text;
use crate::{FunctionType, IntoTypedBytes, TypeName};

/// The address of one function instance: its function type and its id.
///
/// The id is any string (the empty string included); it is the partitioning
/// key of the runtime. Cloning is cheap.
///
/// The text form is `<namespace>/<name>:<id>`, as in `com.example/cart:Kim`.
/// Parsing splits at the first `:` after the first `/`, so ids may contain
/// `:` and `/` freely. An address round-trips through text when its type
/// has no `:` after the first `/` (true of every conventional type name).
///
/// ```
/// use stateful_functions::{Address, TypeName};
///
/// const CART: TypeName = TypeName::from_static("com.example/cart");
/// let kim = Address::new(CART, "Kim");
/// assert_eq!(kim.to_string(), "com.example/cart:Kim");
/// assert_eq!("com.example/cart:Kim".parse::<Address>()?, kim);
/// # Ok::<(), stateful_functions::AddressError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    function_type: TypeName,
    id: Text,
}

impl Address {
    /// Makes the address of instance `id` of `function_type`.
    #[must_use]
    pub fn new(function_type: TypeName, id: impl Into<String>) -> Self {
        Self {
            function_type,
            id: Text::from(id.into()),
        }
    }

    /// An address whose id shares the request buffer.
    pub(crate) fn from_parts(function_type: TypeName, id: Text) -> Self {
        Self { function_type, id }
    }

    /// The function type.
    #[must_use]
    pub fn function_type(&self) -> &TypeName {
        &self.function_type
    }

    /// The instance id.
    #[must_use]
    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// The instance id's bytes, without the UTF-8 check of [`Address::id`],
    /// for the encoder.
    pub(crate) fn id_bytes(&self) -> &[u8] {
        self.id.as_bytes()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.function_type, self.id)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let colon = s
            .find('/')
            .and_then(|slash| s[slash..].find(':').map(|c| slash + c))
            .ok_or_else(|| AddressError {
                input: s.to_owned(),
                source: None,
            })?;
        let function_type = s[..colon].parse::<TypeName>().map_err(|e| AddressError {
            input: s.to_owned(),
            source: Some(e),
        })?;
        Ok(Self::from_parts(function_type, Text::from(&s[colon + 1..])))
    }
}

/// A string that is not a valid [`Address`] (`<namespace>/<name>:<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    input: String,
    source: Option<crate::TypeNameError>,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid address {:?}: expected <namespace>/<name>:<id>",
            self.input
        )
    }
}

impl std::error::Error for AddressError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// A function type the compiler knows by name, so that a [`TypedAddress`]
/// can point at it.
///
/// Every [`FunctionType`] is addressable (a `#[function]` in particular);
/// for a function served elsewhere, in another language or another
/// service, `#[remote_function]` implements it (or implement it by hand,
/// with [`Handles`] for each message type the function accepts):
///
/// ```
/// use stateful_functions::{Addressable, Handles, TypeName};
///
/// /// `example/greeter`, a Python function that handles strings.
/// struct PyGreeter;
///
/// impl Addressable for PyGreeter {
///     fn function_type() -> TypeName {
///         TypeName::from_static("example/greeter")
///     }
/// }
/// impl Handles<String> for PyGreeter {}
///
/// assert_eq!(PyGreeter::function_type().as_str(), "example/greeter");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a function type a typed address can point at",
    note = "declare it with `#[function]` (implemented here) or `#[remote_function(typename = \"ns/name\", handles(...))]` (served elsewhere, in any language), or send to an untyped `Address`"
)]
pub trait Addressable {
    /// The function type: the typename of its addresses.
    fn function_type() -> TypeName;
}

impl<F: FunctionType> Addressable for F {
    fn function_type() -> TypeName {
        F::TYPE_NAME
    }
}

/// A function type that accepts messages of type `M` (a
/// [`Value`](crate::Value) type), so that a [`TypedAddress<Self>`] accepts
/// `&M`.
///
/// `#[function]` implements it for the message type of each `#[handler]`,
/// and `#[remote_function]` for each type in its `handles(...)`. Sending
/// any other message to a typed address is a compile error:
///
/// ```compile_fail,E0277
/// # use stateful_functions::{Addressable, Context, Handles, SendError, TypeName, TypedAddress};
/// # struct Counter;
/// # impl Addressable for Counter {
/// #     fn function_type() -> TypeName { TypeName::from_static("example/counter") }
/// # }
/// impl Handles<i64> for Counter {}
///
/// fn count(ctx: &mut Context) -> Result<(), SendError> {
///     // error: `Counter` has no handler for `String`
///     ctx.send(TypedAddress::<Counter>::new("Kim"), &"one".to_owned())
/// }
/// ```
///
/// A function written by hand that accepts any message (it decodes
/// [`Message`](crate::Message) itself) can say so for every type:
///
/// ```
/// use stateful_functions::{
///     async_trait, Context, FunctionError, FunctionType, Handles, Message, StatefulFunction,
///     TypeName, TypedAddress, Value,
/// };
///
/// /// Logs whatever it receives.
/// struct Logger;
///
/// #[async_trait]
/// impl StatefulFunction for Logger {
///     async fn invoke(&self, _: &mut Context, message: Message) -> Result<(), FunctionError> {
///         let _ = message.value_type_name();
///         Ok(())
///     }
/// }
///
/// impl FunctionType for Logger {
///     const TYPE_NAME: TypeName = TypeName::from_static("example/logger");
///     type State = ();
/// }
///
/// impl<M: Value> Handles<M> for Logger {}
///
/// fn log(ctx: &mut Context) -> Result<(), stateful_functions::SendError> {
///     let logger = TypedAddress::<Logger>::new("main");
///     ctx.send(&logger, &42_i32)?;
///     ctx.send(&logger, &"anything".to_owned())
/// }
/// # let _ = log;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no handler for `{M}`",
    label = "`{Self}` does not handle `{M}`",
    note = "a `#[function]` handles the message type of each `#[handler]` method, a `#[remote_function]` each type in its `handles(...)`: add `{M}` there, or send to an untyped `Address`, which is not checked"
)]
pub trait Handles<M>: Addressable {}

/// The address of an instance of the function type `F`, which accepts only
/// the messages `F` [`Handles`].
///
/// `#[function]` and `#[remote_function]` types make them with
/// `F::address(id)`; any [`Addressable`] type with
/// [`TypedAddress::new`]. On the wire it is the [`Address`] it wraps, so it
/// works with functions written with any StateFun SDK; untyped
/// [`Address`]es remain for targets known only at run time.
///
/// ```
/// use stateful_functions::{Address, Addressable, Handles, TypeName, TypedAddress};
///
/// struct Counter;
/// impl Addressable for Counter {
///     fn function_type() -> TypeName {
///         TypeName::from_static("example/counter")
///     }
/// }
/// impl Handles<i64> for Counter {}
///
/// let kim = TypedAddress::<Counter>::new("Kim");
/// assert_eq!(kim.id(), "Kim");
/// assert_eq!(kim.to_string(), "example/counter:Kim");
/// let untyped: Address = kim.into_address();
/// assert_eq!(untyped, "example/counter:Kim".parse::<Address>()?);
/// # Ok::<(), stateful_functions::AddressError>(())
/// ```
pub struct TypedAddress<F: ?Sized> {
    address: Address,
    function: PhantomData<fn() -> F>,
}

impl<F: Addressable + ?Sized> TypedAddress<F> {
    /// The address of instance `id` of `F`.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            address: Address::new(F::function_type(), id),
            function: PhantomData,
        }
    }
}

// No `Deref<Target = Address>`: with it, the compiler's answer to a
// message the target does not handle would suggest `&*address`, which
// compiles by dropping the check.
impl<F: ?Sized> TypedAddress<F> {
    /// The function type.
    #[must_use]
    pub fn function_type(&self) -> &TypeName {
        self.address.function_type()
    }

    /// The instance id.
    #[must_use]
    pub fn id(&self) -> &str {
        self.address.id()
    }

    /// The untyped address: for the APIs that take an `&Address`, and to
    /// send what the type does not check (such as
    /// [`TypedBytes`](crate::TypedBytes)).
    #[must_use]
    pub fn as_address(&self) -> &Address {
        &self.address
    }

    /// The untyped address.
    #[must_use]
    pub fn into_address(self) -> Address {
        self.address
    }
}

impl<F: ?Sized> Clone for TypedAddress<F> {
    fn clone(&self) -> Self {
        Self {
            address: self.address.clone(),
            function: PhantomData,
        }
    }
}

impl<F: ?Sized> PartialEq for TypedAddress<F> {
    fn eq(&self, other: &Self) -> bool {
        self.address == other.address
    }
}

impl<F: ?Sized> Eq for TypedAddress<F> {}

impl<F: ?Sized> PartialEq<Address> for TypedAddress<F> {
    fn eq(&self, other: &Address) -> bool {
        self.address == *other
    }
}

impl<F: ?Sized> PartialEq<TypedAddress<F>> for Address {
    fn eq(&self, other: &TypedAddress<F>) -> bool {
        *self == other.address
    }
}

impl<F: ?Sized> PartialOrd for TypedAddress<F> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<F: ?Sized> Ord for TypedAddress<F> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.address.cmp(&other.address)
    }
}

impl<F: ?Sized> Hash for TypedAddress<F> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.address.hash(state);
    }
}

impl<F: ?Sized> AsRef<Address> for TypedAddress<F> {
    fn as_ref(&self) -> &Address {
        &self.address
    }
}

impl<F: ?Sized> From<TypedAddress<F>> for Address {
    fn from(typed: TypedAddress<F>) -> Self {
        typed.address
    }
}

impl<F: ?Sized> fmt::Display for TypedAddress<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.address, f)
    }
}

impl<F: ?Sized> fmt::Debug for TypedAddress<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TypedAddress({})", self.address)
    }
}

/// A payload a [`TypedAddress<F>`] accepts: `&M` for every message type
/// `M` that `F` [`Handles`]. Implemented by the SDK only.
#[diagnostic::on_unimplemented(
    message = "a typed address takes a reference to a message its function handles, not `{Self}`",
    label = "not `&M` for a message type `M` that `{F}` handles",
    note = "send `&message`; to send `TypedBytes` or anything else unchecked, send to the untyped address (`.as_address()`)"
)]
pub trait HandledBy<F: ?Sized>: sealed::Payload {}

impl<M, F: Handles<M> + ?Sized> HandledBy<F> for &M {}

/// Where [`Context::send`](crate::Context::send) and its delayed forms
/// (and the test harness's `send`) deliver a payload `P`: an [`Address`]
/// takes any payload, a [`TypedAddress<F>`] a reference to a message `F`
/// [`Handles`]. Either is passed by value or by reference. Implemented by
/// the SDK only.
///
/// ```
/// use stateful_functions::{Address, Addressable, Destination, Handles, TypeName, TypedAddress};
///
/// struct Counter;
/// impl Addressable for Counter {
///     fn function_type() -> TypeName {
///         TypeName::from_static("example/counter")
///     }
/// }
/// impl Handles<i64> for Counter {}
///
/// /// Where a count would go.
/// fn target_of(to: impl Destination<&'static i64>) -> Address {
///     to.into_address()
/// }
///
/// let kim = TypedAddress::<Counter>::new("Kim");
/// assert_eq!(target_of(&kim), kim);
/// assert_eq!(target_of(kim.as_address()), kim);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a StateFun address",
    label = "expected an `Address` or a `TypedAddress`",
    note = "send to an `Address` (any payload) or a typed address such as `MyFunction::address(id)` (a message the function handles), or a reference to either"
)]
pub trait Destination<P>: sealed::Destination {
    /// The address the payload goes to.
    fn address(&self) -> &Address;

    /// The address the payload goes to, owned.
    fn into_address(self) -> Address;
}

impl<P: IntoTypedBytes> Destination<P> for Address {
    fn address(&self) -> &Address {
        self
    }

    fn into_address(self) -> Address {
        self
    }
}

impl<P: IntoTypedBytes> Destination<P> for &Address {
    fn address(&self) -> &Address {
        self
    }

    fn into_address(self) -> Address {
        self.clone()
    }
}

impl<F: ?Sized, P: HandledBy<F>> Destination<P> for TypedAddress<F> {
    fn address(&self) -> &Address {
        &self.address
    }

    fn into_address(self) -> Address {
        self.address
    }
}

impl<F: ?Sized, P: HandledBy<F>> Destination<P> for &TypedAddress<F> {
    fn address(&self) -> &Address {
        &self.address
    }

    fn into_address(self) -> Address {
        self.address.clone()
    }
}

mod sealed {
    use super::{Address, TypedAddress};

    pub trait Destination {}

    impl Destination for Address {}
    impl Destination for &Address {}
    impl<F: ?Sized> Destination for TypedAddress<F> {}
    impl<F: ?Sized> Destination for &TypedAddress<F> {}

    pub trait Payload {}

    impl<M> Payload for &M {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_may_contain_separators() {
        let a: Address = "com.example/cart:cart-expiry:Kim/1".parse().unwrap();
        assert_eq!(a.function_type().as_str(), "com.example/cart");
        assert_eq!(a.id(), "cart-expiry:Kim/1");
        let empty: Address = "ns/f:".parse().unwrap();
        assert_eq!(empty.id(), "");
        let ns_with_colon: Address = "urn:x/cart:Kim".parse().unwrap();
        assert_eq!(ns_with_colon.function_type().namespace(), "urn:x");
    }

    #[test]
    fn rejects_addresses_without_type_or_id() {
        for bad in ["", "cart", "ns/cart", "/cart:x", "ns/:x"] {
            let err = bad.parse::<Address>().unwrap_err();
            assert!(
                err.to_string().contains("<namespace>/<name>:<id>"),
                "{bad:?}"
            );
        }
    }

    struct Cart;

    impl Addressable for Cart {
        fn function_type() -> TypeName {
            TypeName::from_static("com.example/cart")
        }
    }

    impl Handles<i32> for Cart {}

    #[test]
    fn a_typed_address_compares_hashes_and_prints_as_its_address() {
        use std::collections::hash_map::DefaultHasher;

        let hash = |value: &dyn Fn(&mut DefaultHasher)| {
            let mut hasher = DefaultHasher::new();
            value(&mut hasher);
            hasher.finish()
        };
        let kim = TypedAddress::<Cart>::new("Kim");
        let untyped = Address::new(TypeName::from_static("com.example/cart"), "Kim");
        assert_eq!(kim, untyped);
        assert_eq!(untyped, kim);
        assert_eq!(kim.to_string(), "com.example/cart:Kim");
        assert_eq!(format!("{kim:?}"), "TypedAddress(com.example/cart:Kim)");
        assert_eq!(
            hash(&|h| kim.hash(h)),
            hash(&|h| untyped.hash(h)),
            "a typed address hashes as its address"
        );
        let ann = TypedAddress::<Cart>::new("Ann");
        assert!(ann < kim);
        assert_eq!(ann.cmp(&kim), ann.as_address().cmp(kim.as_address()));
        assert_eq!(Address::from(kim.clone()), untyped);
        assert_eq!(kim.id(), "Kim");
        assert_eq!(kim.function_type().as_str(), "com.example/cart");
    }

    #[test]
    fn every_destination_names_its_address() {
        fn address_of<P>(to: impl Destination<P>) -> Address {
            to.into_address()
        }
        let kim = TypedAddress::<Cart>::new("Kim");
        let untyped = kim.as_address().clone();
        assert_eq!(address_of::<&i32>(&kim), untyped);
        assert_eq!(address_of::<&i32>(kim.clone()), untyped);
        assert_eq!(address_of::<&i32>(&untyped), untyped);
        assert_eq!(address_of::<&String>(untyped.clone()), untyped);
        assert_eq!(Destination::<&i32>::address(&kim), &untyped);
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(
            ns in "[^/]{1,10}(/[^/:]{1,6}){0,2}",
            name in "[^/:]{1,12}",
            id in any::<String>(),
        ) {
            let address = Address::new(TypeName::new(&ns, &name).unwrap(), id.as_str());
            let text = address.to_string();
            prop_assert_eq!(text.parse::<Address>().unwrap(), address);
        }
    }
}
