//! [`Protobuf<T>`]: values that are the user's own prost messages.

use bytes::Bytes;

use super::{Value, ValueError};
use crate::TypeName;

/// A prost message as a StateFun value, under the typename
/// `type.googleapis.com/<fully.qualified.MessageName>` that every official
/// SDK uses for protobuf types.
///
/// `T` needs [`prost::Name`] (prost-build's `enable_type_names()`); only its
/// package and message name are used, whatever type-URL domain it was
/// generated with.
///
/// ```
/// use stateful_functions::{Protobuf, Value};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Greeting {
///     #[prost(string, tag = "1")]
///     text: String,
/// }
/// impl prost::Name for Greeting {
///     const NAME: &'static str = "Greeting";
///     const PACKAGE: &'static str = "example.v1";
/// }
///
/// assert_eq!(
///     Protobuf::<Greeting>::type_name().as_str(),
///     "type.googleapis.com/example.v1.Greeting"
/// );
/// let bytes = Protobuf(Greeting { text: "hi".into() }).to_bytes()?;
/// assert_eq!(Protobuf::<Greeting>::from_bytes(&bytes)?.0.text, "hi");
/// # Ok::<(), stateful_functions::ValueError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Protobuf<T>(pub T);

impl<T> Protobuf<T> {
    /// Unwraps the message.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: prost::Message + prost::Name + Default> Value for Protobuf<T> {
    fn type_name() -> TypeName {
        crate::codec::protobuf::type_name::<T>()
    }

    fn to_bytes(&self) -> Result<Bytes, ValueError> {
        crate::codec::protobuf::encode(&self.0, Self::type_name())
    }

    fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
        crate::codec::protobuf::decode(bytes, Self::type_name()).map(Protobuf)
    }

    fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
        crate::codec::protobuf::encode_into(&self.0, buf, Self::type_name())
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
        crate::codec::protobuf::decode_slice(bytes, Self::type_name()).map(Protobuf)
    }
}
