//! Kind 4919 (`CASHU_DATA`): a mint's batch of burnt `Y`s and issued blind signatures, as
//! base64 of a CBOR array of groups; its types, its encoder and its parser.

use ciborium::Value as Cbor;

use super::content::{
    base64_cbor, check_content_size, decode_base64, decode_cbor, prev_from_tags, renamed,
};
use crate::error::{ParseError, Reason};
use crate::event::{EventId, SignedEvent};
use crate::kinds::{CASHU_DATA, MAX_BATCH_ENTRIES};
use crate::types::{Amount, Epoch, Point, Unit};

/// `MINT` or `BURN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataEvent {
    /// Blind signatures issued.
    Mint,
    /// Secrets redeemed.
    Burn,
}

/// A redeemed secret: `Y = hash_to_curve(secret)` and its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BurnEntry {
    /// The burnt `Y`.
    pub y: Point,
    /// Its amount.
    pub amount: Amount,
}

/// An issued blind signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MintEntry {
    /// The blinded message `B_`.
    pub b_: Point,
    /// The blind signature `C_`.
    pub c_: Point,
    /// Its amount.
    pub amount: Amount,
}

/// The entries of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupContents {
    /// `event = "BURN"`.
    Burn(Vec<BurnEntry>),
    /// `event = "MINT"`.
    Mint(Vec<MintEntry>),
}

/// One element of a 4919's array: entries of one kind, unit and epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataGroup {
    /// The epoch of the keyset that signed the tokens.
    pub epoch: Epoch,
    /// The unit.
    pub unit: Unit,
    /// The entries.
    pub contents: GroupContents,
}

/// A parsed kind 4919.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashuData {
    /// The groups, in order.
    pub groups: Vec<DataGroup>,
    /// The `e` tag: the mint's previous 4919, if named.
    pub prev: Option<EventId>,
}

impl DataEvent {
    /// `"MINT"` or `"BURN"`, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DataEvent::Mint => "MINT",
            DataEvent::Burn => "BURN",
        }
    }
}

impl GroupContents {
    /// Whether this group is `MINT` or `BURN`.
    pub fn event(&self) -> DataEvent {
        match self {
            GroupContents::Burn(_) => DataEvent::Burn,
            GroupContents::Mint(_) => DataEvent::Mint,
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        match self {
            GroupContents::Burn(v) => v.len(),
            GroupContents::Mint(v) => v.len(),
        }
    }

    /// Whether the group has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every point of the group: the `Y`s of a `BURN`, the `B_` and `C_` of a `MINT`.
    pub fn points(&self) -> impl Iterator<Item = &Point> {
        let (burns, mints): (&[BurnEntry], &[MintEntry]) = match self {
            GroupContents::Burn(v) => (v, &[]),
            GroupContents::Mint(v) => (&[], v),
        };
        burns
            .iter()
            .map(|e| &e.y)
            .chain(mints.iter().flat_map(|e| [&e.b_, &e.c_]))
    }
}

impl CashuData {
    /// The content of a 4919 as the draft writes it: base64 (standard, padded) of CBOR, with
    /// points as lowercase text hex.
    pub fn encode_content(&self) -> String {
        use ciborium::Value;
        let text = |s: &str| Value::Text(s.to_string());
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|g| {
                let contents: Vec<Value> = match &g.contents {
                    GroupContents::Burn(entries) => entries
                        .iter()
                        .map(|e| {
                            Value::Map(vec![
                                (text("Y"), Value::Text(e.y.to_hex())),
                                (text("amount"), Value::Integer(e.amount.get().into())),
                            ])
                        })
                        .collect(),
                    GroupContents::Mint(entries) => entries
                        .iter()
                        .map(|e| {
                            Value::Map(vec![
                                (text("B_"), Value::Text(e.b_.to_hex())),
                                (text("C_"), Value::Text(e.c_.to_hex())),
                                (text("amount"), Value::Integer(e.amount.get().into())),
                            ])
                        })
                        .collect(),
                };
                Value::Map(vec![
                    (text("epoch"), Value::Integer(g.epoch.get().into())),
                    (text("event"), text(g.contents.event().as_str())),
                    (text("unit"), text(g.unit.as_str())),
                    (text("contents"), Value::Array(contents)),
                ])
            })
            .collect();
        base64_cbor(&Value::Array(groups))
    }

    /// The number of entries over all groups.
    pub fn entry_count(&self) -> usize {
        self.groups.iter().map(|g| g.contents.len()).sum()
    }
}

// Reading the CBOR.

/// The value of `key` in a CBOR map. A key given twice is refused: two readers picking different
/// copies would see different batches.
fn map_get<'a>(pairs: &'a [(Cbor, Cbor)], key: &str) -> Result<Option<&'a Cbor>, ParseError> {
    let mut found = None;
    for (k, v) in pairs {
        if matches!(k, Cbor::Text(t) if t == key) {
            if found.is_some() {
                return Err(ParseError::malformed(key, "key given more than once"));
            }
            found = Some(v);
        }
    }
    Ok(found)
}

fn map_require<'a>(pairs: &'a [(Cbor, Cbor)], key: &str) -> Result<&'a Cbor, ParseError> {
    map_get(pairs, key)?.ok_or_else(|| ParseError::missing(key))
}

fn cbor_int(value: &Cbor, field: &str) -> Result<i128, ParseError> {
    match value {
        Cbor::Integer(i) => Ok(i128::from(*i)),
        _ => Err(ParseError::malformed(field, "expected an integer")),
    }
}

fn cbor_text<'a>(value: &'a Cbor, field: &str) -> Result<&'a str, ParseError> {
    match value {
        Cbor::Text(s) => Ok(s),
        _ => Err(ParseError::malformed(field, "expected text")),
    }
}

/// When a 4919's points are checked against the curve.
#[derive(Clone, Copy)]
enum CurveCheck {
    /// Each point as it is read: names the first bad one.
    EachPoint,
    /// Not while reading: the caller checks the whole batch afterwards ([`crate::on_curve`]).
    Deferred,
}

fn cbor_point(pairs: &[(Cbor, Cbor)], key: &str, check: CurveCheck) -> Result<Point, ParseError> {
    match (map_require(pairs, key)?, check) {
        (Cbor::Text(s), CurveCheck::EachPoint) => Point::parse(s),
        (Cbor::Bytes(b), CurveCheck::EachPoint) => Point::from_bytes(b),
        (Cbor::Text(s), CurveCheck::Deferred) => Point::parse_curve_unchecked(s),
        (Cbor::Bytes(b), CurveCheck::Deferred) => Point::from_bytes_curve_unchecked(b),
        _ => Err(ParseError::malformed(
            key,
            "expected 66-hex text or 33 bytes",
        )),
    }
    .map_err(|e| renamed(e, key))
}

fn cbor_amount(pairs: &[(Cbor, Cbor)]) -> Result<Amount, ParseError> {
    Amount::from_i128(cbor_int(map_require(pairs, "amount")?, "amount")?)
        .map_err(|e| renamed(e, "amount"))
}

fn entry_map(entry: &Cbor) -> Result<&[(Cbor, Cbor)], ParseError> {
    match entry {
        Cbor::Map(pairs) => Ok(pairs),
        _ => Err(ParseError::malformed("", "expected a map")),
    }
}

fn parse_entries<T>(
    entries: &[Cbor],
    parse: impl Fn(&[(Cbor, Cbor)]) -> Result<T, ParseError>,
) -> Result<Vec<T>, ParseError> {
    entries
        .iter()
        .enumerate()
        .map(|(j, entry)| {
            entry_map(entry)
                .and_then(&parse)
                .map_err(|e| e.within(&format!("contents[{j}]")))
        })
        .collect()
}

fn parse_group(pairs: &[(Cbor, Cbor)], check: CurveCheck) -> Result<DataGroup, ParseError> {
    let epoch = Epoch::from_i128(cbor_int(map_require(pairs, "epoch")?, "epoch")?)
        .map_err(|e| renamed(e, "epoch"))?;
    let event = match cbor_text(map_require(pairs, "event")?, "event")? {
        "MINT" => DataEvent::Mint,
        "BURN" => DataEvent::Burn,
        other => {
            return Err(ParseError::malformed(
                "event",
                format!("{other:?} is neither MINT nor BURN"),
            ))
        }
    };
    let unit = Unit::parse(cbor_text(map_require(pairs, "unit")?, "unit")?)
        .map_err(|e| renamed(e, "unit"))?;
    let Cbor::Array(entries) = map_require(pairs, "contents")? else {
        return Err(ParseError::malformed("contents", "expected an array"));
    };
    let contents = match event {
        DataEvent::Burn => GroupContents::Burn(parse_entries(entries, |m| {
            Ok(BurnEntry {
                y: cbor_point(m, "Y", check)?,
                amount: cbor_amount(m)?,
            })
        })?),
        DataEvent::Mint => GroupContents::Mint(parse_entries(entries, |m| {
            Ok(MintEntry {
                b_: cbor_point(m, "B_", check)?,
                c_: cbor_point(m, "C_", check)?,
                amount: cbor_amount(m)?,
            })
        })?),
    };
    Ok(DataGroup {
        epoch,
        unit,
        contents,
    })
}

impl CashuData {
    /// Parses a kind 4919: its content (see [`CashuData::decode_content`]) and its optional `e`.
    pub fn parse(event: &SignedEvent) -> Result<Self, ParseError> {
        event.expect_kind(CASHU_DATA)?;
        let groups = Self::decode_content(&event.content)?;
        let prev = prev_from_tags(event)?;
        Ok(Self { groups, prev })
    }

    /// Decodes a 4919 content: base64 of a CBOR array of groups. Refuses content over
    /// [`MAX_EVENT_JSON_BYTES`](crate::kinds::MAX_EVENT_JSON_BYTES) before decoding, and more
    /// than [`MAX_BATCH_ENTRIES`] entries in all before any point is checked (the curve check is
    /// the costly step).
    pub fn decode_content(content: &str) -> Result<Vec<DataGroup>, ParseError> {
        check_content_size(content)?;
        let bytes = decode_base64("content", content)?;
        let Cbor::Array(groups) = decode_cbor("content", &bytes)? else {
            return Err(ParseError::malformed(
                "content",
                "expected a CBOR array of groups",
            ));
        };
        let at = |i: usize| move |e: ParseError| e.within(&format!("[{i}]")).within("content");
        let mut total = 0usize;
        for (i, group) in groups.iter().enumerate() {
            let pairs = entry_map(group).map_err(at(i))?;
            if let Some(Cbor::Array(entries)) = map_get(pairs, "contents").map_err(at(i))? {
                total = total.saturating_add(entries.len());
            }
        }
        if total > MAX_BATCH_ENTRIES {
            return Err(ParseError::new(
                "content",
                Reason::TooLarge {
                    limit: MAX_BATCH_ENTRIES,
                    found: total,
                },
            ));
        }
        let parse_all = |check| {
            groups
                .iter()
                .enumerate()
                .map(|(i, group)| {
                    entry_map(group)
                        .and_then(|pairs| parse_group(pairs, check))
                        .map_err(at(i))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        if let Ok(parsed) = parse_all(CurveCheck::Deferred) {
            let points = parsed.iter().flat_map(|g| g.contents.points());
            if crate::on_curve::all_on_curve(points.map(Point::as_bytes)) {
                return Ok(parsed);
            }
        }
        // Something is wrong: read again checking each point as it comes, so the error is the
        // first in document order, whether it is a point off the curve or anything else.
        parse_all(CurveCheck::EachPoint)
    }
}
