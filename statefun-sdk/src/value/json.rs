//! [`Json<T>`]: values encoded as UTF-8 JSON through serde.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Value, ValueError};
use crate::TypeName;

/// A serde type with a fixed StateFun typename, encoded as JSON by
/// [`Json<T>`].
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use stateful_functions::{Json, JsonType, TypeName, Value};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct AddToCart { user_id: String, item_id: String, quantity: u32 }
///
/// impl JsonType for AddToCart {
///     const TYPE_NAME: TypeName = TypeName::from_static("com.example.types/AddToCart");
/// }
///
/// let msg = Json(AddToCart { user_id: "Kim".into(), item_id: "socks".into(), quantity: 2 });
/// let bytes = msg.to_bytes()?;
/// assert_eq!(&bytes[..], br#"{"user_id":"Kim","item_id":"socks","quantity":2}"#);
/// assert_eq!(Json::<AddToCart>::from_bytes(&bytes)?, msg);
/// # Ok::<(), stateful_functions::ValueError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no StateFun typename for `Json<{Self}>`",
    note = "implement `stateful_functions::JsonType` for it: `impl JsonType for {Self} {{ const TYPE_NAME: TypeName = TypeName::from_static(\"ns/Name\"); }}`"
)]
pub trait JsonType: Serialize + DeserializeOwned {
    /// The typename carried with every value.
    const TYPE_NAME: TypeName;
}

/// A value encoded as UTF-8 JSON (serde_json), under `T`'s typename.
///
/// Output is compact JSON. Other SDKs add whitespace (Python) or a trailing
/// newline (Go); decoding tolerates both, so the bytes differ but the
/// values agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: JsonType> Value for Json<T> {
    fn type_name() -> TypeName {
        T::TYPE_NAME
    }

    fn to_bytes(&self) -> Result<Bytes, ValueError> {
        crate::codec::json::encode(&self.0, T::TYPE_NAME)
    }

    fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
        crate::codec::json::decode(bytes, T::TYPE_NAME).map(Json)
    }

    fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
        crate::codec::json::encode_into(&self.0, buf, T::TYPE_NAME)
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
        crate::codec::json::decode_slice(bytes, T::TYPE_NAME).map(Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Items(BTreeMap<String, u32>);

    impl JsonType for Items {
        const TYPE_NAME: TypeName = TypeName::from_static("com.example.types/ItemsInCart");
    }

    #[test]
    fn decodes_other_sdks_spacing_and_newlines() {
        let python = Bytes::from_static(b"{\"socks\": 2, \"hat\": 1}");
        let go = Bytes::from_static(b"{\"socks\":2,\"hat\":1}\n");
        let a = Json::<Items>::from_bytes(&python).unwrap();
        let b = Json::<Items>::from_bytes(&go).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.0.0["socks"], 2);
    }

    #[test]
    fn invalid_json_names_the_type() {
        let err = Json::<Items>::from_bytes(&Bytes::from_static(b"{")).unwrap_err();
        assert!(
            err.to_string().contains("com.example.types/ItemsInCart"),
            "{err}"
        );
    }
}
