//! A request's `Ys` list, read point by point so that a bad one is named by its index
//! (`Ys[3]: …`), which a plain `Vec<Point>` error would not say.

use serde::{Deserialize, Deserializer};

use crate::types::Point;

pub(super) fn de_points<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Point>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Point::parse(s).map_err(|e| serde::de::Error::custom(e.within(&format!("Ys[{i}]"))))
        })
        .collect()
}
