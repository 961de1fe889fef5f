//! JSON parsing that refuses duplicate member names at every depth.
//!
//! `serde_json::Value` keeps the last of two members with the same name. For a token that is
//! an attack surface: `{"org_id":"org_a","org_id":"org_b"}` must not mean whatever the last
//! parser in the chain decides, so token headers and claims are parsed with this instead.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A JSON value parsed with duplicate member names rejected.
pub(crate) struct StrictValue(pub(crate) Value);

/// Parses `bytes` as a JSON object, rejecting duplicate member names anywhere in it.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<StrictValue>(bytes) {
        Ok(StrictValue(Value::Object(map))) => Ok(map),
        Ok(_) => Err("not a JSON object".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

/// Parses `bytes` as any JSON value, rejecting duplicate member names anywhere in it.
#[cfg(feature = "fuzzing")]
pub(crate) fn parse_value(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice::<StrictValue>(bytes)
        .map(|StrictValue(value)| value)
        .map_err(|error| error.to_string())
}

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if map.contains_key(&name) {
                return Err(de::Error::custom(format_args!("duplicate member `{name}`")));
            }
            let StrictValue(value) = access.next_value()?;
            map.insert(name, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_rejected_at_the_top_level() {
        let error = parse_object(br#"{"org_id":"org_a","org_id":"org_b"}"#).unwrap_err();
        assert!(error.contains("duplicate member `org_id`"), "{error}");
    }

    #[test]
    fn duplicate_members_are_rejected_when_nested() {
        let error = parse_object(br#"{"act":{"sub":"a","sub":"b"}}"#).unwrap_err();
        assert!(error.contains("duplicate member `sub`"), "{error}");
        let error = parse_object(br#"{"list":[{"x":1,"x":2}]}"#).unwrap_err();
        assert!(error.contains("duplicate member `x`"), "{error}");
    }

    #[test]
    fn objects_without_duplicates_parse_to_the_same_value_as_serde_json() {
        let text = br#"{"a":1,"b":[true,null,-2,1.5,"s"],"c":{"d":"e"}}"#;
        let strict = parse_object(text).unwrap();
        let lenient: Map<String, Value> = serde_json::from_slice(text).unwrap();
        assert_eq!(strict, lenient);
    }

    #[test]
    fn non_objects_are_rejected() {
        assert_eq!(parse_object(b"[1]").unwrap_err(), "not a JSON object");
        assert!(parse_object(b"{").is_err());
    }
}
