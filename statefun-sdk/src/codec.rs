//! The codecs behind [`Json<T>`], [`Protobuf<T>`]
//! and `#[derive(Value)]`, as plain functions for hand-written
//! [`Value`](crate::Value) implementations.
//!
//! ```
//! # #[cfg(feature = "json")] {
//! use bytes::Bytes;
//! use stateful_functions::{codec, TypeName, Value, ValueError};
//!
//! #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Restock { item_id: String, quantity: u32 }
//!
//! // What `#[derive(Value)] #[statefun(typename = "com.example.types/Restock")]`
//! // expands to, written by hand:
//! impl Value for Restock {
//!     fn type_name() -> TypeName {
//!         TypeName::from_static("com.example.types/Restock")
//!     }
//!     fn to_bytes(&self) -> Result<Bytes, ValueError> {
//!         codec::json::encode(self, Self::type_name())
//!     }
//!     fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
//!         codec::json::decode(bytes, Self::type_name())
//!     }
//!     fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
//!         codec::json::encode_into(self, buf, Self::type_name())
//!     }
//!     fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
//!         codec::json::decode_slice(bytes, Self::type_name())
//!     }
//! }
//!
//! let r = Restock { item_id: "socks".into(), quantity: 3 };
//! assert_eq!(Restock::from_bytes(&r.to_bytes()?)?, r);
//! let mut buf = Vec::new();
//! r.encode_into(&mut buf)?;
//! assert_eq!(Restock::from_slice(&buf)?, r);
//! # }
//! # Ok::<(), stateful_functions::ValueError>(())
//! ```
#![doc = ""]
#![cfg_attr(feature = "json", doc = "[`Json<T>`]: crate::Json")]
#![cfg_attr(
    not(feature = "json"),
    doc = "[`Json<T>`]: https://docs.rs/stateful-functions/latest/stateful_functions/struct.Json.html"
)]
#![cfg_attr(feature = "protobuf", doc = "[`Protobuf<T>`]: crate::Protobuf")]
#![cfg_attr(
    not(feature = "protobuf"),
    doc = "[`Protobuf<T>`]: https://docs.rs/stateful-functions/latest/stateful_functions/struct.Protobuf.html"
)]

/// UTF-8 JSON through serde_json.
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub mod json {
    use bytes::Bytes;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::{TypeName, ValueError};

    /// Encodes `value` as compact JSON.
    ///
    /// # Errors
    ///
    /// When serde cannot serialize the value (for example a map with
    /// non-string keys); the error names `type_name`.
    pub fn encode<T: Serialize + ?Sized>(
        value: &T,
        type_name: TypeName,
    ) -> Result<Bytes, ValueError> {
        // Serialized into a buffer the thread reuses, then copied out at
        // its exact size: one allocation, where `serde_json::to_vec` makes
        // a 128-byte vector and `Bytes::from` then allocates a header for
        // its spare capacity.
        crate::buffers::with_scratch(|buf| {
            encode_into(value, buf, type_name).map(|()| Bytes::copy_from_slice(buf))
        })
    }

    /// Appends `value` as compact JSON to `buf`: what [`encode`] returns,
    /// without a buffer of its own (for [`Value::encode_into`]).
    ///
    /// ```
    /// use stateful_functions::{codec, TypeName};
    ///
    /// let mut buf = Vec::new();
    /// codec::json::encode_into(&[1, 2], &mut buf, TypeName::from_static("com.example/t"))?;
    /// assert_eq!(buf, b"[1,2]");
    /// # Ok::<(), stateful_functions::ValueError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`encode`]; `buf` may then hold part of the encoding.
    ///
    /// [`Value::encode_into`]: crate::Value::encode_into
    pub fn encode_into<T: Serialize + ?Sized>(
        value: &T,
        buf: &mut Vec<u8>,
        type_name: TypeName,
    ) -> Result<(), ValueError> {
        serde_json::to_writer(buf, value).map_err(|e| ValueError::encode(type_name, e))
    }

    /// Decodes JSON, tolerating the whitespace other SDKs write.
    ///
    /// # Errors
    ///
    /// When the bytes are not JSON for `T`; the error names `type_name`.
    pub fn decode<T: DeserializeOwned>(
        bytes: &Bytes,
        type_name: TypeName,
    ) -> Result<T, ValueError> {
        decode_slice(bytes, type_name)
    }

    /// [`decode`] from borrowed bytes (for [`Value::from_slice`]).
    ///
    /// ```
    /// use stateful_functions::{codec, TypeName};
    ///
    /// let v: Vec<u32> = codec::json::decode_slice(b"[1, 2]\n", TypeName::from_static("com.example/t"))?;
    /// assert_eq!(v, [1, 2]);
    /// # Ok::<(), stateful_functions::ValueError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`decode`].
    ///
    /// [`Value::from_slice`]: crate::Value::from_slice
    pub fn decode_slice<T: DeserializeOwned>(
        bytes: &[u8],
        type_name: TypeName,
    ) -> Result<T, ValueError> {
        // JSON is UTF-8: checked once here, serde_json then skips the
        // check of every string. Input that is not UTF-8 takes the byte
        // parser, which accepts and rejects exactly what it did before.
        //
        // A short message is checked in an aligned copy: the standard
        // library's check reads whole words only from an aligned address,
        // byte by byte up to it (the copy halves the check's cost on the
        // cart's 36-byte messages).
        let mut aligned = Aligned([0; ALIGNED]);
        let text = match aligned.0.get_mut(..bytes.len()) {
            Some(copy) => {
                copy.copy_from_slice(bytes);
                std::str::from_utf8(copy)
            }
            None => std::str::from_utf8(bytes),
        };
        let result = match text {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(bytes),
        };
        result.map_err(|e| ValueError::decode(type_name, e))
    }

    /// The longest message [`decode_slice`] checks from an aligned copy.
    const ALIGNED: usize = 64;

    #[repr(align(16))]
    struct Aligned([u8; ALIGNED]);
}

/// Protobuf messages through prost.
#[cfg(feature = "protobuf")]
#[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
pub mod protobuf {
    use bytes::Bytes;

    use crate::{TypeName, ValueError};

    /// The typename every official SDK uses for a protobuf message:
    /// `type.googleapis.com/<package>.<Name>`.
    ///
    /// A hand-written `prost::Name` with an empty or `/`-containing name
    /// gets a placeholder that no receiver accepts.
    #[must_use]
    pub fn type_name<T: prost::Name>() -> TypeName {
        TypeName::new("type.googleapis.com", &T::full_name()).unwrap_or(TypeName::from_static(
            "type.googleapis.com/invalid-prost-name",
        ))
    }

    /// Encodes a message.
    ///
    /// # Errors
    ///
    /// Never in practice (encoding into a growable buffer cannot fail); the
    /// signature matches [`Value::to_bytes`](crate::Value::to_bytes).
    pub fn encode<T: prost::Message>(value: &T, _type_name: TypeName) -> Result<Bytes, ValueError> {
        Ok(Bytes::from(value.encode_to_vec()))
    }

    /// Appends a message to `buf`: what [`encode`] returns, without a
    /// buffer of its own (for [`Value::encode_into`]).
    ///
    /// ```
    /// use stateful_functions::{codec, TypeName};
    ///
    /// #[derive(Clone, PartialEq, prost::Message)]
    /// struct Greeting {
    ///     #[prost(string, tag = "1")]
    ///     text: String,
    /// }
    ///
    /// let name = TypeName::from_static("type.googleapis.com/example.v1.Greeting");
    /// let mut buf = b"head".to_vec();
    /// codec::protobuf::encode_into(&Greeting { text: "hi".into() }, &mut buf, name)?;
    /// // Appended: field 1 (length-delimited), two bytes long.
    /// assert_eq!(buf, b"head\x0a\x02hi");
    /// # Ok::<(), stateful_functions::ValueError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Never in practice, as [`encode`].
    ///
    /// [`Value::encode_into`]: crate::Value::encode_into
    pub fn encode_into<T: prost::Message>(
        value: &T,
        buf: &mut Vec<u8>,
        type_name: TypeName,
    ) -> Result<(), ValueError> {
        value
            .encode(buf)
            .map_err(|e| ValueError::encode(type_name, e))
    }

    /// Decodes a message; unknown fields are skipped.
    ///
    /// # Errors
    ///
    /// When the bytes are not a valid encoding; the error names `type_name`.
    pub fn decode<T: prost::Message + Default>(
        bytes: &Bytes,
        type_name: TypeName,
    ) -> Result<T, ValueError> {
        T::decode(bytes.clone()).map_err(|e| ValueError::decode(type_name, e))
    }

    /// [`decode`] from borrowed bytes (for [`Value::from_slice`]).
    ///
    /// ```
    /// use stateful_functions::{codec, TypeName};
    ///
    /// #[derive(Clone, PartialEq, prost::Message)]
    /// struct Greeting {
    ///     #[prost(string, tag = "1")]
    ///     text: String,
    /// }
    ///
    /// let name = TypeName::from_static("type.googleapis.com/example.v1.Greeting");
    /// let greeting: Greeting = codec::protobuf::decode_slice(b"\x0a\x02hi", name.clone())?;
    /// assert_eq!(greeting.text, "hi");
    /// // A length past the end of the bytes.
    /// assert!(codec::protobuf::decode_slice::<Greeting>(b"\x0a\x05hi", name).is_err());
    /// # Ok::<(), stateful_functions::ValueError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`decode`].
    ///
    /// [`Value::from_slice`]: crate::Value::from_slice
    pub fn decode_slice<T: prost::Message + Default>(
        bytes: &[u8],
        type_name: TypeName,
    ) -> Result<T, ValueError> {
        T::decode(bytes).map_err(|e| ValueError::decode(type_name, e))
    }
}

#[cfg(all(test, feature = "json"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::cell::RefCell;
    use std::sync::mpsc;

    use serde::{Serialize, Serializer};

    use crate::TypeName;

    const NAME: TypeName = TypeName::from_static("com.example/t");

    /// Encodes from its destructor, which runs while the thread's locals
    /// are being destroyed.
    struct EncodeOnDrop(mpsc::Sender<Vec<u8>>);

    impl Drop for EncodeOnDrop {
        fn drop(&mut self) {
            let bytes = super::json::encode(&[1, 2], NAME).unwrap();
            let _ = self.0.send(bytes.to_vec());
        }
    }

    thread_local! {
        static GUARD: RefCell<Option<EncodeOnDrop>> = const { RefCell::new(None) };
    }

    #[test]
    fn json_encodes_while_thread_locals_are_destroyed() {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            assert_eq!(&super::json::encode(&"x", NAME).unwrap()[..], b"\"x\"");
            GUARD.with(|g| *g.borrow_mut() = Some(EncodeOnDrop(tx)));
        })
        .join()
        .unwrap();
        assert_eq!(rx.recv().unwrap(), b"[1,2]");
    }

    /// Encodes an inner value with the same function while being encoded.
    struct Nested;

    impl Serialize for Nested {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let inner = super::json::encode(&[3, 4], NAME).unwrap();
            serializer.serialize_str(std::str::from_utf8(&inner).unwrap())
        }
    }

    #[test]
    fn json_encoding_is_reentrant() {
        assert_eq!(
            &super::json::encode(&(Nested, 5), NAME).unwrap()[..],
            br#"["[3,4]",5]"#
        );
        // The buffer kept for the next call holds nothing of the last one.
        assert_eq!(&super::json::encode(&7, NAME).unwrap()[..], b"7");
    }

    /// Short messages are checked from an aligned copy, longer ones in
    /// place: both decode the same, at every length around the switch.
    #[test]
    fn json_decodes_at_every_length_around_the_aligned_copy() {
        for len in 2..=80 {
            for text in ["x".repeat(len - 2), "é".repeat((len - 2) / 2)] {
                let json = format!("\"{text}\"");
                let decoded: String = super::json::decode_slice(json.as_bytes(), NAME).unwrap();
                assert_eq!(decoded, text, "{} bytes", json.len());
            }
            // Not UTF-8: rejected at every length, naming the type.
            let mut bad = vec![b'"'; len];
            bad[len / 2] = 0xff;
            let err = super::json::decode_slice::<String>(&bad, NAME).unwrap_err();
            assert!(err.to_string().contains("com.example/t"), "{err}");
        }
    }
}
