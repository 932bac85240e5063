//! Just enough of JSON to take a change event apart without decoding its rows: the members of
//! an object and the elements of an array, each as the exact text it was written with. The
//! rows inside (`before`, `after`, `data`) are then decoded by the table's json format, as
//! any record's value is — so a DECIMAL keeps every digit, which a detour through a generic
//! JSON value (numbers as f64) would not.

/// A member of an object: its key (as written, without its quotes) and its value's text.
pub(crate) type Member<'a> = (&'a [u8], &'a [u8]);

/// The members of the object `text`, in order.
pub(crate) fn members(text: &[u8]) -> Result<Vec<Member<'_>>, String> {
    let mut at = skip_space(text, 0);
    if text.get(at) != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    at = skip_space(text, at + 1);
    let mut out = Vec::new();
    if text.get(at) == Some(&b'}') {
        return finish(text, at + 1, out);
    }
    loop {
        if text.get(at) != Some(&b'"') {
            return Err(format!("expected a member's name at byte {at}"));
        }
        let key_end = string_end(text, at)?;
        let key = &text[at + 1..key_end - 1];
        at = skip_space(text, key_end);
        if text.get(at) != Some(&b':') {
            return Err(format!("expected ':' at byte {at}"));
        }
        at = skip_space(text, at + 1);
        let value_end = value_end(text, at)?;
        out.push((key, &text[at..value_end]));
        at = skip_space(text, value_end);
        match text.get(at) {
            Some(b',') => at = skip_space(text, at + 1),
            Some(b'}') => return finish(text, at + 1, out),
            _ => return Err(format!("expected ',' or '}}' at byte {at}")),
        }
    }
}

/// The elements of the array `text`, each as its text.
pub(crate) fn elements(text: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut at = skip_space(text, 0);
    if text.get(at) != Some(&b'[') {
        return Err("not a JSON array".into());
    }
    at = skip_space(text, at + 1);
    let mut out = Vec::new();
    if text.get(at) == Some(&b']') {
        return finish(text, at + 1, out);
    }
    loop {
        let end = value_end(text, at)?;
        out.push(&text[at..end]);
        at = skip_space(text, end);
        match text.get(at) {
            Some(b',') => at = skip_space(text, at + 1),
            Some(b']') => return finish(text, at + 1, out),
            _ => return Err(format!("expected ',' or ']' at byte {at}")),
        }
    }
}

/// The member `name` of `members`, unless it is missing or `null`.
pub(crate) fn member<'a>(members: &[Member<'a>], name: &str) -> Option<&'a [u8]> {
    members
        .iter()
        .find(|(key, _)| *key == name.as_bytes())
        .map(|(_, value)| *value)
        .filter(|value| *value != b"null")
}

/// The text of the JSON string `value` (escapes other than `\"` and `\\` are kept as
/// written: the names and kinds read here have none).
pub(crate) fn string(value: &[u8]) -> Option<String> {
    let inner = value.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let text = std::str::from_utf8(inner).ok()?;
    Some(text.replace("\\\"", "\"").replace("\\\\", "\\"))
}

/// An object of `members`, written back as JSON text.
pub(crate) fn object(members: &[Member<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(members.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
    out.push(b'{');
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key);
        out.extend_from_slice(b"\":");
        out.extend_from_slice(value);
    }
    out.push(b'}');
    out
}

fn finish<T>(text: &[u8], at: usize, out: T) -> Result<T, String> {
    match skip_space(text, at) == text.len() {
        true => Ok(out),
        false => Err(format!("unexpected text after the end at byte {at}")),
    }
}

fn skip_space(text: &[u8], mut at: usize) -> usize {
    while text.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// The end (exclusive) of the string starting at `at` (its opening quote).
fn string_end(text: &[u8], at: usize) -> Result<usize, String> {
    let mut i = at + 1;
    while let Some(byte) = text.get(i) {
        match byte {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(format!("a string opened at byte {at} is not closed"))
}

/// The end (exclusive) of the value starting at `at`.
fn value_end(text: &[u8], at: usize) -> Result<usize, String> {
    match text.get(at) {
        None => Err("the text ends where a value was expected".into()),
        Some(b'"') => string_end(text, at),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(byte) = text.get(i) {
                match byte {
                    b'"' => {
                        i = string_end(text, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            Err(format!(
                "an object or array opened at byte {at} is not closed"
            ))
        }
        Some(_) => {
            let mut i = at;
            while let Some(byte) = text.get(i) {
                if matches!(byte, b',' | b'}' | b']') || byte.is_ascii_whitespace() {
                    break;
                }
                i += 1;
            }
            match i > at {
                true => Ok(i),
                false => Err(format!("expected a value at byte {at}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_their_values_as_written() {
        let text = br#" {"before": null, "after": {"id": 1, "note": "a, \"b\" }"},
            "op":"u", "n": 12345678901234567890.125, "list": [1, [2], {"x": "]"}]} "#;
        let found = members(text).unwrap();
        let keys: Vec<&[u8]> = found.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [&b"before"[..], b"after", b"op", b"n", b"list"]);
        assert_eq!(member(&found, "before"), None);
        assert_eq!(
            member(&found, "after"),
            Some(&br#"{"id": 1, "note": "a, \"b\" }"}"#[..])
        );
        assert_eq!(string(member(&found, "op").unwrap()).as_deref(), Some("u"));
        assert_eq!(member(&found, "n"), Some(&b"12345678901234567890.125"[..]));
        let list = elements(member(&found, "list").unwrap()).unwrap();
        assert_eq!(list, [&b"1"[..], b"[2]", br#"{"x": "]"}"#]);
    }

    #[test]
    fn bad_text_is_an_error_not_a_guess() {
        for bad in [
            &b""[..],
            b"[1]",
            b"{\"a\" 1}",
            b"{\"a\": [1}",
            b"{\"a\": 1} x",
            b"{\"a\": \"x}",
        ] {
            assert!(members(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(elements(b"[1, 2").is_err());
        assert_eq!(elements(b"[]").unwrap(), Vec::<&[u8]>::new());
    }

    #[test]
    fn an_object_is_written_back_from_its_members() {
        let text = br#"{"id":"1","name":"x"}"#;
        let found = members(text).unwrap();
        assert_eq!(object(&found), text.to_vec());
    }
}
