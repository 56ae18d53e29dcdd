//! Values between JSON and typed bytes: how input lines give a value, and
//! how state and egress records are shown.
//!
//! A value is written under one of three keys: `value` (JSON: the built-in
//! `io.statefun.types/*` types take their JSON scalar and are encoded as
//! the SDKs encode them; any other type takes the compact JSON text, which
//! is how JSON types are encoded by every SDK), `value_text` (the UTF-8
//! bytes of a string, verbatim) or `value_base64` (any bytes).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};
use stateful_functions::Value as _;
use stateful_functions::types::{
    BOOL_TYPE, DOUBLE_TYPE, FLOAT_TYPE, INT_TYPE, LONG_TYPE, STRING_TYPE,
};

/// The keys a value may be written under.
pub(crate) const VALUE_KEYS: [&str; 3] = ["value", "value_text", "value_base64"];

/// The bytes of the value in `object` (under one of [`VALUE_KEYS`]) for
/// a value of type `type_name`.
/// `raw` is the JSON text of `value` as written, which a JSON type takes
/// verbatim.
pub(crate) fn encode(
    type_name: &str,
    object: &Map<String, Json>,
    raw: Option<&RawValue>,
) -> Result<Bytes, String> {
    let present: Vec<&str> = VALUE_KEYS
        .iter()
        .copied()
        .filter(|k| object.contains_key(*k))
        .collect();
    let key = match present.as_slice() {
        [key] => *key,
        [] => return Err("no value: give `value` (JSON), `value_text` or `value_base64`".into()),
        _ => return Err(format!("more than one value: {}", present.join(", "))),
    };
    let given = &object[key];
    match key {
        "value_text" => match given {
            Json::String(text) => Ok(Bytes::from(text.clone().into_bytes())),
            _ => Err("`value_text` must be a string".into()),
        },
        "value_base64" => match given {
            Json::String(text) => STANDARD
                .decode(text)
                .map(Bytes::from)
                .map_err(|e| format!("`value_base64` is not base64: {e}")),
            _ => Err("`value_base64` must be a string".into()),
        },
        _ => encode_json(type_name, given, raw),
    }
}

fn encode_json(type_name: &str, value: &Json, raw: Option<&RawValue>) -> Result<Bytes, String> {
    let wrong = |what: &str| format!("a {type_name} value must be {what}, not {value}");
    let bytes = if type_name == INT_TYPE.as_str() {
        let n = value
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| wrong("a 32-bit integer"))?;
        n.to_bytes()
    } else if type_name == LONG_TYPE.as_str() {
        value
            .as_i64()
            .ok_or_else(|| wrong("a 64-bit integer"))?
            .to_bytes()
    } else if type_name == FLOAT_TYPE.as_str() {
        #[allow(clippy::cast_possible_truncation)] // a float value is f32 by definition
        let n = value.as_f64().ok_or_else(|| wrong("a number"))? as f32;
        n.to_bytes()
    } else if type_name == DOUBLE_TYPE.as_str() {
        value.as_f64().ok_or_else(|| wrong("a number"))?.to_bytes()
    } else if type_name == BOOL_TYPE.as_str() {
        value
            .as_bool()
            .ok_or_else(|| wrong("true or false"))?
            .to_bytes()
    } else if type_name == STRING_TYPE.as_str() {
        value
            .as_str()
            .ok_or_else(|| wrong("a string"))?
            .to_owned()
            .to_bytes()
    } else {
        return match raw {
            Some(raw) => Ok(Bytes::from(raw.get().trim().to_owned())),
            None => serde_json::to_vec(value)
                .map(Bytes::from)
                .map_err(|e| e.to_string()),
        };
    };
    bytes.map_err(|e| e.to_string())
}

/// Shows `bytes` (of type `type_name`, when known) as `(key, value)`: a
/// built-in type decoded, JSON as JSON, other UTF-8 as text, the rest as
/// base64.
pub(crate) fn render(type_name: Option<&str>, bytes: &Bytes) -> (&'static str, Json) {
    if let Some(decoded) = type_name.and_then(|t| decode_builtin(t, bytes)) {
        return ("value", decoded);
    }
    if let Ok(json) = serde_json::from_slice::<Json>(bytes) {
        return ("value", json);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => ("value_text", Json::String(text.to_owned())),
        Err(_) => ("value_base64", Json::String(STANDARD.encode(bytes))),
    }
}

fn decode_builtin(type_name: &str, bytes: &Bytes) -> Option<Json> {
    Some(if type_name == INT_TYPE.as_str() {
        Json::from(i32::from_bytes(bytes).ok()?)
    } else if type_name == LONG_TYPE.as_str() {
        Json::from(i64::from_bytes(bytes).ok()?)
    } else if type_name == FLOAT_TYPE.as_str() {
        Json::from(f64::from(f32::from_bytes(bytes).ok()?))
    } else if type_name == DOUBLE_TYPE.as_str() {
        Json::from(f64::from_bytes(bytes).ok()?)
    } else if type_name == BOOL_TYPE.as_str() {
        Json::from(bool::from_bytes(bytes).ok()?)
    } else if type_name == STRING_TYPE.as_str() {
        Json::from(String::from_bytes(bytes).ok()?)
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: &Json) -> Map<String, Json> {
        value.as_object().cloned().unwrap()
    }

    fn enc(type_name: &str, object: &Map<String, Json>) -> Result<Bytes, String> {
        encode(type_name, object, None)
    }

    #[test]
    fn builtin_types_encode_as_the_sdks_do() {
        let int = enc("io.statefun.types/int", &object(&json!({"value": 7}))).unwrap();
        assert_eq!(int, 7i32.to_bytes().unwrap());
        let string = enc("io.statefun.types/string", &object(&json!({"value": "hi"}))).unwrap();
        assert_eq!(string, "hi".to_owned().to_bytes().unwrap());
        assert_eq!(
            render(Some("io.statefun.types/int"), &int),
            ("value", json!(7))
        );
        assert_eq!(
            render(Some("io.statefun.types/string"), &string),
            ("value", json!("hi"))
        );
        let error = enc("io.statefun.types/int", &object(&json!({"value": 1e12}))).unwrap_err();
        assert!(error.contains("32-bit integer"), "{error}");
    }

    #[test]
    fn json_text_and_bytes() {
        let json_bytes = enc(
            "shop/Order",
            &object(&json!({"value": {"id": 1, "items": ["a"]}})),
        )
        .unwrap();
        assert_eq!(&json_bytes[..], br#"{"id":1,"items":["a"]}"#);
        assert_eq!(
            render(Some("shop/Order"), &json_bytes).1,
            json!({"id": 1, "items": ["a"]})
        );
        let text = enc("shop/Text", &object(&json!({"value_text": "plain words"}))).unwrap();
        assert_eq!(&text[..], b"plain words");
        assert_eq!(render(None, &text), ("value_text", json!("plain words")));
        let raw = enc("shop/Raw", &object(&json!({"value_base64": "AP8="}))).unwrap();
        assert_eq!(&raw[..], &[0x00, 0xff]);
        assert_eq!(render(None, &raw), ("value_base64", json!("AP8=")));
    }

    #[test]
    fn exactly_one_value() {
        assert!(
            enc("a/b", &object(&json!({})))
                .unwrap_err()
                .contains("no value")
        );
        assert!(
            enc("a/b", &object(&json!({"value": 1, "value_text": "1"})))
                .unwrap_err()
                .contains("more than one value")
        );
        assert!(
            enc("a/b", &object(&json!({"value_base64": "%%"})))
                .unwrap_err()
                .contains("not base64")
        );
    }
}
