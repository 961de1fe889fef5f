//! The strict JSON reader against serde_json: the same value when the text has no duplicate
//! member, an error when it has one, never a panic.
//!
//! Duplicates are found independently of the reader under test: a visitor counts every member
//! it is shown, and serde_json's value (where the last of two equal names wins) holds fewer
//! exactly when some object named a member twice.
#![no_main]

use std::fmt;

use libfuzzer_sys::fuzz_target;
use serde::Deserializer as _;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use workos_authz::fuzzing::strict_json_value;

/// Counts the members of every object in a JSON text, duplicates included.
struct MemberCounter;

impl<'de> Visitor<'de> for MemberCounter {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut members = 0;
        while let Some(inner) = seq.next_element::<Counted>()? {
            members += inner.0;
        }
        Ok(members)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut members = 0;
        while let Some(IgnoredAny) = map.next_key()? {
            members += 1 + map.next_value::<Counted>()?.0;
        }
        Ok(members)
    }
}

struct Counted(usize);

impl<'de> serde::Deserialize<'de> for Counted {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemberCounter).map(Counted)
    }
}

fn members_in(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.len() + map.values().map(members_in).sum::<usize>(),
        Value::Array(items) => items.iter().map(members_in).sum(),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let strict = strict_json_value(data);
    let Ok(lenient) = serde_json::from_slice::<Value>(data) else {
        assert!(
            strict.is_err(),
            "the strict reader accepted what serde_json refuses"
        );
        return;
    };
    let mut reader = serde_json::Deserializer::from_slice(data);
    let counted = reader
        .deserialize_any(MemberCounter)
        .expect("serde_json read this text once already");
    let has_duplicate = counted != members_in(&lenient);
    match strict {
        Ok(value) => {
            assert!(!has_duplicate, "accepted a duplicate member");
            assert_eq!(value, lenient, "the strict reader read another value");
        }
        Err(_) => assert!(has_duplicate, "refused JSON without a duplicate member"),
    }
});
