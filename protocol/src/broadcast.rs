//! The Nostr Broadcast draft (cashubtc/nuts PR #155): a mint's identity (11467), its batches of
//! burnt `Y`s and issued signatures (4919) and its closed-epoch balances (1337). Each kind has a
//! parser (tolerant of the shapes seen in the wild, strict on values) and an encoder (used by the
//! simulator), and `decode(encode(x)) == x`.

use ciborium::Value as Cbor;

use crate::error::{ParseError, Reason};
use crate::event::{EventId, SignedEvent};
use crate::kinds::{CASHU_DATA, FIN_EPOCH, MAX_BATCH_ENTRIES, MAX_EVENT_JSON_BYTES, MINT_INFO};
use crate::types::{Amount, Epoch, MintUrl, Point, Unit};

/// How deep CBOR may nest. The draft's shapes need 4 levels (array, group, contents, entry) and a
/// `GetInfoResponse` about 7; ciborium's default of 256 risks the stack of a small thread when
/// each level costs a few kilobytes in a debug build.
const CBOR_DEPTH_LIMIT: usize = 64;

/// A parsed kind 11467: the mint's NUT-06 `GetInfoResponse`.
#[derive(Debug, Clone, PartialEq)]
pub struct MintInfo {
    /// The content's `pubkey` (compressed), if present and valid.
    pub pubkey: Option<Point>,
    /// `name`.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `urls`, normalised; invalid ones skipped.
    pub urls: Vec<MintUrl>,
    /// The NUT numbers listed under `nuts`, sorted.
    pub nuts: Vec<u16>,
    /// Units supported (from NUT-04/05 methods), sorted and deduplicated.
    pub units: Vec<Unit>,
    /// The whole content as JSON, for display.
    pub raw: serde_json::Value,
}

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

/// A parsed kind 1337.
///
/// `outstanding_balance` is accepted in 0..2^63 (like [`Amount`], so it fits a Postgres `bigint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinEpoch {
    /// The closed epoch.
    pub epoch: Epoch,
    /// Outstanding balance claimed for (unit, epoch).
    pub outstanding_balance: u64,
    /// The unit.
    pub unit: Unit,
    /// The `e` tag: the previous 1337 of the same unit, if named.
    pub prev: Option<EventId>,
}

fn base64_cbor<T: serde::Serialize>(value: &T) -> String {
    use base64::Engine;
    let mut bytes = Vec::new();
    // Writing CBOR into a Vec cannot fail for values built from plain maps, arrays and scalars.
    if ciborium::into_writer(value, &mut bytes).is_err() {
        bytes.clear();
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
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

impl MintInfo {
    /// The content of a 11467: base64 of CBOR of the NUT-06 `GetInfoResponse` given as JSON.
    pub fn encode_content(info: &serde_json::Value) -> String {
        base64_cbor(info)
    }
}

impl FinEpoch {
    /// The content of a 1337 as JSON.
    pub fn encode_content_json(&self) -> String {
        serde_json::json!({
            "epoch": self.epoch.get(),
            "outstanding_balance": self.outstanding_balance,
            "unit": self.unit.as_str(),
        })
        .to_string()
    }

    /// The content of a 1337 as base64 of CBOR.
    pub fn encode_content_cbor(&self) -> String {
        base64_cbor(&serde_json::json!({
            "epoch": self.epoch.get(),
            "outstanding_balance": self.outstanding_balance,
            "unit": self.unit.as_str(),
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing: shared steps.

fn expect_kind(event: &SignedEvent, kind: u16) -> Result<(), ParseError> {
    if event.kind == kind {
        Ok(())
    } else {
        Err(ParseError::new(
            "kind",
            Reason::WrongKind {
                expected: kind,
                found: event.kind,
            },
        ))
    }
}

/// Refuses content over the event limit before any decoding, so every later step (base64, CBOR,
/// JSON) works on a bounded input: at most one decoded item per input byte, so a hostile 512 KiB
/// content costs tens of megabytes at worst, briefly, and never more.
fn check_content_size(content: &str) -> Result<(), ParseError> {
    if content.len() > MAX_EVENT_JSON_BYTES {
        return Err(ParseError::new(
            "content",
            Reason::TooLarge {
                limit: MAX_EVENT_JSON_BYTES,
                found: content.len(),
            },
        ));
    }
    Ok(())
}

fn decode_base64(field: &str, text: &str) -> Result<Vec<u8>, ParseError> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    // The draft says padded; a writer that drops the padding loses no information, so take both.
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT
        .decode(text.trim())
        .map_err(|e| ParseError::malformed(field, format!("not base64: {e}")))
}

/// One CBOR item, with nothing after it. ciborium never pre-allocates from a declared length (it
/// pushes element by element and reads byte strings in scratch-sized chunks), so a hostile length
/// fails at the end of the input; nesting is capped by [`CBOR_DEPTH_LIMIT`].
fn decode_cbor(field: &str, bytes: &[u8]) -> Result<Cbor, ParseError> {
    let mut rest = bytes;
    let value: Cbor = ciborium::de::from_reader_with_recursion_limit(&mut rest, CBOR_DEPTH_LIMIT)
        .map_err(|e| ParseError::malformed(field, format!("not CBOR: {e}")))?;
    if !rest.is_empty() {
        return Err(ParseError::malformed(
            field,
            format!("{} bytes after the CBOR item", rest.len()),
        ));
    }
    Ok(value)
}

/// CBOR as JSON, for display and for the shapes that JSON and CBOR share (11467, 1337). Byte
/// strings become lowercase hex (so a 33-byte `pubkey` reads like the hex form), tags are dropped,
/// integers outside the 64-bit range become decimal strings, non-finite floats become null.
fn cbor_to_json(value: &Cbor) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Cbor::Integer(i) => {
            let n = i128::from(*i);
            if let Ok(v) = i64::try_from(n) {
                Json::from(v)
            } else if let Ok(v) = u64::try_from(n) {
                Json::from(v)
            } else {
                Json::String(n.to_string())
            }
        }
        Cbor::Bytes(b) => Json::String(hex::encode(b)),
        Cbor::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Cbor::Text(s) => Json::String(s.clone()),
        Cbor::Bool(b) => Json::Bool(*b),
        Cbor::Null => Json::Null,
        Cbor::Tag(_, inner) => cbor_to_json(inner),
        Cbor::Array(items) => Json::Array(items.iter().map(cbor_to_json).collect()),
        Cbor::Map(pairs) => {
            let mut out = serde_json::Map::new();
            for (k, v) in pairs {
                let key = match cbor_to_json(k) {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, cbor_to_json(v));
            }
            Json::Object(out)
        }
        // `ciborium::Value` is `#[non_exhaustive]`: a variant added later reads as null.
        _ => Json::Null,
    }
}

/// Content that is either a JSON object (starts with `{`) or base64 of CBOR, as JSON.
fn json_or_base64_cbor(content: &str) -> Result<serde_json::Value, ParseError> {
    let trimmed = content.trim_start();
    if trimmed.starts_with('{') {
        serde_json::from_str(trimmed)
            .map_err(|e| ParseError::malformed("content", format!("not JSON: {e}")))
    } else {
        let bytes = decode_base64("content", content)?;
        Ok(cbor_to_json(&decode_cbor("content", &bytes)?))
    }
}

/// The optional `e` tag naming the previous event. Two different `e` tags are refused: a chain
/// link must be unambiguous, or a fork could hide behind whichever one a reader picks.
fn prev_from_tags(event: &SignedEvent) -> Result<Option<EventId>, ParseError> {
    let mut prev: Option<EventId> = None;
    for values in event.tags_named("e") {
        let raw = values
            .first()
            .ok_or_else(|| ParseError::malformed("tags.e", "an e tag without a value"))?;
        let id = EventId::parse(raw).map_err(|e| ParseError {
            field: "tags.e".into(),
            ..e
        })?;
        match prev {
            Some(p) if p != id => {
                return Err(ParseError::malformed(
                    "tags.e",
                    "more than one previous event named",
                ))
            }
            _ => prev = Some(id),
        }
    }
    Ok(prev)
}

fn renamed(e: ParseError, field: &str) -> ParseError {
    ParseError {
        field: field.to_string(),
        ..e
    }
}

// ---------------------------------------------------------------------------------------------
// 4919 CASHU_DATA

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
        expect_kind(event, CASHU_DATA)?;
        let groups = Self::decode_content(&event.content)?;
        let prev = prev_from_tags(event)?;
        Ok(Self { groups, prev })
    }

    /// Decodes a 4919 content: base64 of a CBOR array of groups. Refuses content over
    /// [`MAX_EVENT_JSON_BYTES`] before decoding, and more than [`MAX_BATCH_ENTRIES`] entries in
    /// all before any point is checked (the curve check is the costly step).
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

// ---------------------------------------------------------------------------------------------
// 11467 mint identity

fn json_str(obj: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

/// Units named by the `methods` of one NUT (4 = mint, 5 = melt) of a `GetInfoResponse`.
fn method_units<'a>(
    nuts: Option<&'a serde_json::Map<String, serde_json::Value>>,
    nut: &'a str,
) -> impl Iterator<Item = Unit> + 'a {
    nuts.and_then(|n| n.get(nut))
        .and_then(|n| n.get("methods"))
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("unit").and_then(|u| u.as_str()))
        .filter_map(|u| Unit::parse(u).ok())
}

impl MintInfo {
    /// Parses a kind 11467: content = base64 of CBOR of a NUT-06 `GetInfoResponse`, or the same
    /// as a JSON object. Only the shape is required (an object); every field is optional, and an
    /// invalid `pubkey`, URL or unit is left out rather than refusing the event.
    pub fn parse(event: &SignedEvent) -> Result<Self, ParseError> {
        expect_kind(event, MINT_INFO)?;
        Self::decode_content(&event.content)
    }

    /// Decodes a 11467 content (see [`MintInfo::parse`]).
    pub fn decode_content(content: &str) -> Result<Self, ParseError> {
        check_content_size(content)?;
        let raw = json_or_base64_cbor(content)?;
        let obj = raw
            .as_object()
            .ok_or_else(|| ParseError::malformed("content", "expected a GetInfoResponse object"))?;
        let pubkey = obj
            .get("pubkey")
            .and_then(|v| v.as_str())
            .and_then(|s| Point::parse(s).ok());
        let mut urls: Vec<MintUrl> = Vec::new();
        for url in obj
            .get("urls")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|u| u.as_str())
            .filter_map(|u| MintUrl::parse(u).ok())
        {
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        let nuts_map = obj.get("nuts").and_then(|v| v.as_object());
        let mut nuts: Vec<u16> = nuts_map
            .into_iter()
            .flat_map(|m| m.keys())
            .filter_map(|k| k.trim().parse().ok())
            .collect();
        nuts.sort_unstable();
        nuts.dedup();
        let mut units: Vec<Unit> = method_units(nuts_map, "4")
            .chain(method_units(nuts_map, "5"))
            .collect();
        units.sort();
        units.dedup();
        Ok(Self {
            pubkey,
            name: json_str(obj, "name"),
            description: json_str(obj, "description"),
            urls,
            nuts,
            units,
            raw,
        })
    }

    /// Whether the signer of the event is the mint named by the content `pubkey` (its x
    /// coordinate, PROTOCOL.md §1); `None` when the content names no valid `pubkey`.
    pub fn signer_matches(&self, signer: &[u8; 32]) -> Option<bool> {
        self.pubkey.map(|p| p.x_only().as_bytes() == signer)
    }
}

// ---------------------------------------------------------------------------------------------
// 1337 CASHU_FIN_EPOCH

const FIN_EPOCH_KEYS: [&str; 3] = ["epoch", "outstanding_balance", "unit"];

fn json_u64(
    obj: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<u64, ParseError> {
    let value = obj.get(key).ok_or_else(|| ParseError::missing(key))?;
    if let Some(v) = value.as_u64() {
        if v > i64::MAX as u64 {
            return Err(ParseError::new(
                key,
                Reason::OutOfRange(format!("{v} is not below 2^63")),
            ));
        }
        return Ok(v);
    }
    if value.as_i64().is_some() {
        return Err(ParseError::new(
            key,
            Reason::OutOfRange("negative".to_string()),
        ));
    }
    Err(ParseError::malformed(
        key,
        "expected a non-negative integer",
    ))
}

impl FinEpoch {
    /// Parses a kind 1337. Kind 1337 is also NIP-C0 code snippets: content that is not a
    /// JSON or CBOR object carrying at least one of `epoch`, `outstanding_balance`, `unit` is
    /// [`Reason::NotForUs`]; an object that carries them with bad values is an error of that field.
    pub fn parse(event: &SignedEvent) -> Result<Self, ParseError> {
        expect_kind(event, FIN_EPOCH)?;
        let mut parsed = Self::decode_content(&event.content)?;
        parsed.prev = prev_from_tags(event)?;
        Ok(parsed)
    }

    /// Decodes a 1337 content (JSON or base64 CBOR); `prev` is left `None`.
    pub fn decode_content(content: &str) -> Result<Self, ParseError> {
        check_content_size(content)?;
        let not_ours = |why: &str| ParseError::new("content", Reason::NotForUs(why.to_string()));
        let value =
            json_or_base64_cbor(content).map_err(|_| not_ours("neither JSON nor base64 CBOR"))?;
        let Some(obj) = value.as_object() else {
            return Err(not_ours("not an object"));
        };
        if !FIN_EPOCH_KEYS.iter().any(|k| obj.contains_key(*k)) {
            return Err(not_ours("no CASHU_FIN_EPOCH field"));
        }
        let epoch = Epoch::new(json_u64(obj, "epoch")?)?;
        let outstanding_balance = json_u64(obj, "outstanding_balance")?;
        let unit = match obj.get("unit") {
            None => return Err(ParseError::missing("unit")),
            Some(serde_json::Value::String(s)) => Unit::parse(s)?,
            Some(_) => return Err(ParseError::malformed("unit", "expected text")),
        };
        Ok(Self {
            epoch,
            outstanding_balance,
            unit,
            prev: None,
        })
    }
}
