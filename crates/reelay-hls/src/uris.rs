//! A query put on every URI of a playlist: the viewer's signature on a playlist rendered once
//! for everyone.
//!
//! A live playlist is the same for every viewer but for the signed query each viewer's URIs
//! carry (`?exp=…&sig=…`), so the server renders it once, bare, and adds the query here for
//! each signed viewer — a string pass, not a rendering per signature.
//!
//! The URIs of a playlist (RFC 8216 §4.1, §4.2): every line that is neither blank nor starts
//! with `#`, and every `URI` attribute of a tag, whose value is a quoted string (which cannot
//! hold a `"` or a line break). Attribute lists are walked attribute by attribute, so text
//! inside another attribute's quoted string (`NAME="a,URI=x"`) is never taken for one.

/// `text` with `query` (`?a=b…`, or empty for no change) on each of its URIs: appended as it
/// is to a URI without a query, with `&` in place of its `?` to one that has one already.
pub fn with_query(text: &str, query: &str) -> String {
    let Some(params) = query.strip_prefix('?').filter(|p| !p.is_empty()) else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len().saturating_add(text.len() / 4));
    for line in text.split_inclusive('\n') {
        let (body, end) = split_line_end(line);
        if body.is_empty() {
            out.push_str(line);
        } else if body.starts_with('#') {
            tag_with_query(&mut out, body, params);
            out.push_str(end);
        } else {
            push_uri(&mut out, body, params);
            out.push_str(end);
        }
    }
    out
}

/// A line without its line break (`\n` or `\r\n`), and the break.
fn split_line_end(line: &str) -> (&str, &str) {
    let body = line.strip_suffix('\n').unwrap_or(line);
    let body = body.strip_suffix('\r').unwrap_or(body);
    (body, &line[body.len()..])
}

/// `uri` and the query parameters `params` (without their `?`).
fn push_uri(out: &mut String, uri: &str, params: &str) {
    out.push_str(uri);
    out.push(if uri.contains('?') { '&' } else { '?' });
    out.push_str(params);
}

/// The attribute value at the start of `value`, with the query on it when `params` is given
/// and it is a quoted string; how many bytes of `value` it took.
fn push_value(out: &mut String, value: &str, params: Option<&str>) -> usize {
    let Some(quoted) = value.strip_prefix('"') else {
        let end = value.find(',').unwrap_or(value.len());
        out.push_str(&value[..end]);
        return end;
    };
    let Some(close) = quoted.find('"') else {
        // An unterminated string: the rest as it is.
        out.push_str(value);
        return value.len();
    };
    let inner = &quoted[..close];
    out.push('"');
    match params {
        Some(params) => push_uri(out, inner, params),
        None => out.push_str(inner),
    }
    out.push('"');
    close.saturating_add(2)
}

/// A tag line, with the query on its `URI` attribute when it has one.
fn tag_with_query(out: &mut String, tag: &str, params: &str) {
    let Some(colon) = tag.find(':') else {
        out.push_str(tag);
        return;
    };
    let (name, mut rest) = tag.split_at(colon.saturating_add(1));
    out.push_str(name);
    while !rest.is_empty() {
        let Some(eq) = rest
            .find(['=', ','])
            .filter(|&i| rest.as_bytes()[i] == b'=')
        else {
            // Not an attribute list (`#EXTINF:4.0,title`): the rest as it is.
            out.push_str(rest);
            return;
        };
        let (attribute, value) = (&rest[..eq], &rest[eq.saturating_add(1)..]);
        out.push_str(&rest[..=eq]);
        let taken = push_value(out, value, (attribute == "URI").then_some(params));
        rest = &value[taken.min(value.len())..];
        if let Some(next) = rest.strip_prefix(',') {
            out.push(',');
            rest = next;
        } else if !rest.is_empty() {
            out.push_str(rest);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LL: &str = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.750\n\
        #EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.000,\n7.m4s\n\
        #EXT-X-PART:DURATION=0.250,URI=\"p8-0.m4s\",INDEPENDENT=YES\n\
        #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p8-1.m4s\"\n\
        #EXT-X-RENDITION-REPORT:URI=\"../a/index.m3u8\",LAST-MSN=8,LAST-PART=0\n";

    #[test]
    fn every_uri_of_an_ll_playlist_gets_the_query_and_nothing_else_changes() {
        let q = with_query(LL, "?exp=9&sig=ab");
        let want = LL
            .replace("init.mp4", "init.mp4?exp=9&sig=ab")
            .replace("\n7.m4s\n", "\n7.m4s?exp=9&sig=ab\n")
            .replace("p8-0.m4s", "p8-0.m4s?exp=9&sig=ab")
            .replace("p8-1.m4s", "p8-1.m4s?exp=9&sig=ab")
            .replace("index.m3u8", "index.m3u8?exp=9&sig=ab");
        assert_eq!(q, want);
    }

    #[test]
    fn an_empty_query_changes_nothing() {
        assert_eq!(with_query(LL, ""), LL);
        assert_eq!(with_query(LL, "?"), LL);
    }

    #[test]
    fn a_uri_with_a_query_gets_an_ampersand_and_crlf_lines_keep_their_breaks() {
        let text = "#EXTM3U\r\n#EXT-X-MAP:URI=\"i.mp4?v=1\"\r\n#EXTINF:2,\r\ns.ts?x=1\r\n\r\n";
        assert_eq!(
            with_query(text, "?sig=z"),
            "#EXTM3U\r\n#EXT-X-MAP:URI=\"i.mp4?v=1&sig=z\"\r\n#EXTINF:2,\r\ns.ts?x=1&sig=z\r\n\r\n"
        );
    }

    #[test]
    fn uri_text_inside_another_quoted_attribute_is_not_a_uri() {
        let text = "#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"a,URI=x\",URI=\"a.m3u8\"\n";
        assert_eq!(
            with_query(text, "?s=1"),
            "#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"a,URI=x\",URI=\"a.m3u8?s=1\"\n"
        );
    }

    #[test]
    fn tags_that_are_not_attribute_lists_stay_as_they_are() {
        for tag in [
            "#EXTINF:4.0,title",
            "#EXTINF:4.0,",
            "#EXT-X-ENDLIST",
            "#X:a=\"open",
        ] {
            assert_eq!(with_query(&format!("{tag}\n"), "?s=1"), format!("{tag}\n"));
        }
    }

    proptest! {
        /// Removing every inserted query gives the text back, and the text grows by exactly
        /// one query per URI.
        #[test]
        fn the_query_is_only_ever_inserted(lines in proptest::collection::vec(
            prop_oneof![
                "[a-z0-9./-]{1,12}",
                "#[A-Z-]{1,8}:([A-Z]{1,4}=(\"[a-z,=.]{0,6}\"|[A-Z0-9.]{1,4}),){0,3}URI=\"[a-z.]{1,6}\"",
                "#[A-Z-]{1,8}(:[a-z0-9,.=]{0,10})?",
                "",
            ],
            0..12,
        )) {
            let text = lines.join("\n");
            let q = with_query(&text, "?sig=Q");
            prop_assert_eq!(q.replace("?sig=Q", ""), text.clone());
            let uris = lines.iter().filter(|l| !l.is_empty() && !l.starts_with('#')).count()
                + lines.iter().filter(|l| l.starts_with('#') && l.contains("URI=\"")).count();
            prop_assert_eq!(q.matches("?sig=Q").count(), uris);
        }
    }
}
