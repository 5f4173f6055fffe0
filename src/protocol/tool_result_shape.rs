//! What a `tools/call` result is, read without building it: whether it is a
//! well-formed `CallToolResult`, whether it reports a tool error, and
//! whether it is final. The full [`ToolResult`] (a tree of JSON values) is
//! built only when someone reads it; a caller that hands the server's bytes
//! on (the C ABI, a proxy) never pays for it.
//!
//! The check accepts exactly what [`ToolResult::from_value`] accepts, so a
//! result that passed it always parses later.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::messages::ToolResult;

/// The facts about a `tools/call` result that the call path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ToolResultShape {
    /// `isError: true`: the tool reported an error.
    pub is_error: bool,
    /// No `resultType`, or `"complete"`: the result is final (stateless era).
    pub complete: bool,
}

impl ToolResultShape {
    /// Reads `json` (already known to be valid JSON) as a `CallToolResult`;
    /// `Err` names what [`ToolResult::from_value`] would refuse.
    pub(crate) fn check(json: &str) -> Result<ToolResultShape, String> {
        let mut de = serde_json::Deserializer::from_str(json);
        // Anything but an object is refused with `expecting`'s words.
        de.deserialize_map(ShapeVisitor).map_err(|e| e.to_string())
    }
}

/// The messages of [`ToolResult::from_value`], so both refuse alike.
const NOT_AN_OBJECT: &str = "CallToolResult must be a JSON object";
const CONTENT_NOT_ARRAY: &str = "CallToolResult.content must be an array";
const IS_ERROR_NOT_BOOL: &str = "CallToolResult.isError must be a boolean";

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = ToolResultShape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_AN_OBJECT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolResultShape, A::Error> {
        // A later duplicate member wins, as it does when the result is parsed,
        // so a wrong type is held until the end rather than refused at once.
        let (mut content, mut is_error, mut complete) = (Kind::Null, Kind::Null, true);
        while let Some(key) = map.next_key::<Key>()? {
            let kind = map.next_value::<Kind>()?;
            match key {
                Key::Content => content = kind,
                Key::IsError => is_error = kind,
                Key::ResultType => complete = kind == Kind::Str { complete: true },
                Key::Other => {}
            }
        }
        if !matches!(content, Kind::Array | Kind::Null) {
            return Err(de::Error::custom(CONTENT_NOT_ARRAY));
        }
        let is_error = match is_error {
            Kind::Bool(b) => b,
            Kind::Null => false,
            _ => return Err(de::Error::custom(IS_ERROR_NOT_BOOL)),
        };
        Ok(ToolResultShape { is_error, complete })
    }
}

/// The members the check looks at; every other one is skipped unread.
enum Key {
    Content,
    IsError,
    ResultType,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "content" => Key::Content,
                    "isError" => Key::IsError,
                    "resultType" => Key::ResultType,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// What kind of JSON value a member holds; the value itself is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool(bool),
    Number,
    /// A string; `complete` when it is `"complete"` (all `resultType` needs).
    Str {
        complete: bool,
    },
    Array,
    Object,
}

impl<'de> de::Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Kind, D::Error> {
        struct KindVisitor;
        impl<'de> Visitor<'de> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
                Ok(Kind::Null)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Kind, E> {
                Ok(Kind::Bool(b))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Kind, E> {
                Ok(Kind::Number)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Kind, E> {
                Ok(Kind::Number)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Kind, E> {
                Ok(Kind::Number)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Kind, E> {
                Ok(Kind::Str { complete: s == "complete" })
            }
            // Nested values are read, not skipped: skipping (`IgnoredAny`) checks only
            // their syntax, and the parse refuses more (a number out of range, a lone
            // surrogate), which the check must refuse as well.
            fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Kind, A::Error> {
                while items.next_element::<Kind>()?.is_some() {}
                Ok(Kind::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
                while map.next_entry::<Kind, Kind>()?.is_some() {}
                Ok(Kind::Object)
            }
        }
        deserializer.deserialize_any(KindVisitor)
    }
}

/// Parses a result that passed [`ToolResultShape::check`].
pub(crate) fn parse_checked(json: &str) -> ToolResult {
    serde_json::from_str(json).unwrap_or_else(|e| {
        // Unreachable by construction (the check accepts what the parse
        // accepts); never hand out an empty success in its place.
        ToolResult {
            content: vec![serde_json::json!({
                "type": "text",
                "text": format!("mcpstore could not read the tool's result: {e}"),
            })],
            is_error: true,
            ..ToolResult::default()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Both readings, side by side: the check must accept exactly what the
    /// parse accepts, and agree with it on `isError` and `resultType`.
    fn agree(json: &str) {
        let parsed =
            serde_json::from_str::<Value>(json).map_err(|e| e.to_string()).and_then(ToolResult::from_value);
        let shape = ToolResultShape::check(json);
        let direct = serde_json::from_str::<ToolResult>(json);
        assert_eq!(direct.as_ref().ok(), parsed.as_ref().ok(), "{json}: the direct parse differs");
        match (&parsed, &shape) {
            (Ok(result), Ok(shape)) => {
                assert_eq!(shape.is_error, result.is_error, "{json}");
                let complete = match result.extra.get("resultType") {
                    None => true,
                    Some(Value::String(kind)) => kind == "complete",
                    Some(_) => false,
                };
                assert_eq!(shape.complete, complete, "{json}");
            }
            (Err(parse), Err(check)) => assert!(check.contains(parse.as_str()), "{json}: {check} vs {parse}"),
            _ => panic!("{json}: parse says {parsed:?}, check says {shape:?}"),
        }
    }

    #[test]
    fn the_check_accepts_what_the_parse_accepts() {
        for json in [
            r#"{"content":[{"type":"text","text":"hi"}]}"#,
            r#"{"content":[],"isError":true}"#,
            r#"{"content":null,"isError":null}"#,
            r#"{}"#,
            r#"{"content":[1,[2],{"a":{"b":[3]}}],"structuredContent":{"x":1},"_meta":{"k":"v"}}"#,
            r#"{"resultType":"complete","content":[]}"#,
            r#"{"resultType":"input_required","inputRequests":{}}"#,
            r#"{"resultType":null}"#,
            r#"{"resultType":7}"#,
            r#"{"resultType":{"a":1}}"#,
            r#"{"isError":false,"isError":true}"#,
            r#"{"content":"text"}"#,
            r#"{"content":{"type":"text"}}"#,
            r#"{"content":7}"#,
            r#"{"isError":"yes"}"#,
            r#"{"isError":1}"#,
            r#"{"isError":[true]}"#,
            r#"[]"#,
            r#"[{"content":[]}]"#,
            r#""result""#,
            r#"null"#,
            r#"true"#,
            r#"12"#,
            r#"{"content\u0000":1,"is\u0045rror":true}"#,
            r#"{"content":[],"content":5}"#,
            r#"{"content":5,"content":[]}"#,
            // Found by the `mcp_result` fuzz target: valid JSON syntax that the parse refuses.
            r#"{"completion":{"values":["a","b"],"total":222E222222222222222222}}"#,
            r#"{"content":[{"n":1e400}]}"#,
            r#"{"content":[],"x":"\ud800"}"#,
            r#"{"content":[],"\udc00":1}"#,
            r#"{"isError":"no","isError":false}"#,
            r#"{"resultType":"task","resultType":"complete"}"#,
        ] {
            agree(json);
        }
    }

    #[test]
    fn a_checked_result_parses_whole() {
        let json = r#"{"content":[{"type":"text","text":"hi"}],"isError":true,"x":1}"#;
        assert!(ToolResultShape::check(json).unwrap().is_error);
        let result = parse_checked(json);
        assert!(result.is_error);
        assert_eq!(result.content.len(), 1);
        assert_eq!(result.extra["x"], 1);
    }
}
