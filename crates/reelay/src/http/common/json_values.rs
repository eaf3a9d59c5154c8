//! JSON bodies read as their JSON Schema says, where serde reads more or less:
//!
//! - A body whose schema is an object must be an object: serde would read a struct from an array
//!   of its fields in order (`[null, null]`), which no schema of the document admits.
//! - Integers: `2.0` is the integer 2 (a number "with a zero fractional part", JSON Schema
//!   2020-12, validation §6.1.1), and clients and generators that type every number as a float
//!   send it so. serde reads only `2` into an integer field; fields the OpenAPI document calls
//!   `integer` read through [`i64`], [`u64`] or [`opt_i64`].

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error, MapAccess, Visitor, value::MapAccessDeserializer};
use serde::{Deserialize, Deserializer};

/// `T` read from a JSON object only.
#[derive(Debug)]
pub(crate) struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Fields(PhantomData)).map(Object)
    }
}

/// The integer `number` is, if it is one (within ±2^127, far beyond any field's range).
fn integral(number: &serde_json::Number) -> Option<i128> {
    if let Some(i) = number.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = number.as_u64() {
        return Some(i128::from(u));
    }
    let f = number.as_f64()?;
    #[expect(
        clippy::cast_possible_truncation,
        reason = "integral and within ±2^127"
    )]
    (f.fract() == 0.0 && f.abs() < 1.7e38).then_some(f as i128)
}

fn read<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<T, D::Error> {
    let number = serde_json::Number::deserialize(d)?;
    let value =
        integral(&number).ok_or_else(|| D::Error::custom(format!("{number} is not an integer")))?;
    T::try_from(value).map_err(|_| D::Error::custom(format!("{number} is out of range")))
}

pub(crate) fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    read(d)
}

pub(crate) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    read(d)
}

/// An optional integer: absent or `null` is `None` (use with `#[serde(default)]`).
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let number = Option::<serde_json::Number>::deserialize(d)?;
    number
        .map(|n| {
            let value =
                integral(&n).ok_or_else(|| D::Error::custom(format!("{n} is not an integer")))?;
            i64::try_from(value).map_err(|_| D::Error::custom(format!("{n} is out of range")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::i64")]
        a: i64,
        #[serde(default, deserialize_with = "super::opt_i64")]
        b: Option<i64>,
    }

    #[test]
    fn a_body_of_an_object_schema_is_an_object_never_an_array_of_its_fields() {
        let t: super::Object<T> = serde_json::from_str(r#"{"a": 1}"#).expect("object");
        assert_eq!(t.0.a, 1);
        let refused = serde_json::from_str::<super::Object<T>>("[1, null]");
        assert!(refused.is_err(), "an array read as a struct");
        assert!(
            serde_json::from_str::<T>("[1, null]").is_ok(),
            "serde alone reads it"
        );
    }

    #[test]
    fn whole_numbers_written_as_floats_are_integers_and_fractions_are_not() {
        let t: T = serde_json::from_str(r#"{"a": 3.0, "b": -2e3}"#).expect("whole");
        assert_eq!((t.a, t.b), (3, Some(-2000)));
        let t: T = serde_json::from_str(r#"{"a": 3, "b": null}"#).expect("plain");
        assert_eq!((t.a, t.b), (3, None));
        let t: T = serde_json::from_str(r#"{"a": 3}"#).expect("absent");
        assert_eq!(t.b, None);
        for bad in [
            r#"{"a": 3.5}"#,
            r#"{"a": 1e300}"#,
            r#"{"a": "3"}"#,
            r#"{"a": 9223372036854775808}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
        }
    }
}
