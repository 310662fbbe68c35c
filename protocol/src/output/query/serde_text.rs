//! Serde adapters for the crate's parsing types, which carry no serde impls of their own: each is
//! written as its text form and read back through its parser, so a bad value in a request is a
//! serde error naming the problem.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serializer};

use crate::error::ParseError;
use crate::types::{Network, Point};

pub(super) fn de_parse<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = ParseError>,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

pub(super) fn de_parse_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = ParseError>,
{
    Option::<String>::deserialize(d)?
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .transpose()
}

pub(super) fn ser_display<S: Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

pub(super) fn ser_display_opt<S: Serializer, T: fmt::Display>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

pub(super) fn de_points<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Point>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Point::parse(s).map_err(|e| serde::de::Error::custom(e.within(&format!("Ys[{i}]"))))
        })
        .collect()
}

pub(super) fn ser_points<S: Serializer>(v: &[Point], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(Point::to_hex))
}

pub(super) fn de_network_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Network>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| match Network::from_tag(&s) {
            Network::Unknown if !s.trim().eq_ignore_ascii_case("unknown") => Err(
                serde::de::Error::custom(format!("network: unknown network {s:?}")),
            ),
            n => Ok(n),
        })
        .transpose()
}

pub(super) fn ser_network_opt<S: Serializer>(v: &Option<Network>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(n) => s.serialize_str(n.as_str()),
        None => s.serialize_none(),
    }
}
