//! [`Address`]: one function instance, a function type plus an id.

use std::fmt;
use std::str::FromStr;

use crate::TypeName;
use crate::text::Text;

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
