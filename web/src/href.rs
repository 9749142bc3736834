//! Values placed in a link's path.
//!
//! A patient id comes from the record: new imports accept only FHIR ids
//! (`journey::event::is_fhir_id`), but a store filled by an earlier version may hold
//! any text, and askama's HTML escaping does not make text a valid URL path segment
//! (`/`, `?`, `#`, `%` or a space would change where the link goes). So every id put
//! in an `href`, `action` or `hx-*` URL goes through [`path_segment`].

use std::fmt::Write as _;

/// `text` as one URL path segment: every byte outside RFC 3986's unreserved set
/// (`A-Z a-z 0-9 - . _ ~`) percent-encoded, so the router's `{id}` decodes it back
/// to `text`. (Ids that are only dots, which browsers read as `.`/`..` path steps
/// even encoded, are refused at import: see `is_fhir_id`.)
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_one_path_segment() {
        assert_eq!(path_segment("6b1e4c5e-0b8a.v2"), "6b1e4c5e-0b8a.v2");
        assert_eq!(path_segment("a/b?c#d"), "a%2Fb%3Fc%23d");
        assert_eq!(path_segment("p 1\"><script>"), "p%201%22%3E%3Cscript%3E");
        assert_eq!(path_segment("100%"), "100%25");
        assert_eq!(path_segment("é"), "%C3%A9");
    }
}
