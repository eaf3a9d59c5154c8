//! Listing a folder bucket with S3 semantics in bounded memory.
//!
//! Objects and common prefixes share one key order, one cursor and one limit. A page is made
//! in one walk of the tree that keeps only the `limit + 1` smallest names after the cursor
//! ([`Smallest`]), so a listing of a bucket of 100,000 files holds a page's worth of entries,
//! never the tree; folders that cannot hold a key under the prefix are not entered. Symlinked
//! directories are not followed (no loops, no escape); hidden entries are skipped. Blocking:
//! call from the blocking pool.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use reelay_http::content_type_for;

use super::object::{ListEntry, ListPage};

/// What to list: keys under `prefix`, after `cursor`, grouped by `delimiter`, at most `limit`.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub(crate) prefix: String,
    pub(crate) delimiter: Option<String>,
    pub(crate) cursor: Option<String>,
    pub(crate) limit: usize,
}

/// The smallest names offered (after the cursor), at most `room` of them; a name maps to its
/// object, or to `None` for a common prefix.
#[derive(Debug)]
struct Smallest<'a> {
    kept: BTreeMap<String, Option<ListEntry>>,
    room: usize,
    cursor: Option<&'a str>,
}

impl Smallest<'_> {
    /// Whether `name` would be kept if offered now.
    fn wants(&self, name: &str) -> bool {
        let after_cursor = self.cursor.is_none_or(|c| name > c);
        let has_room = self.kept.len() < self.room
            || self
                .kept
                .last_key_value()
                .is_some_and(|(last, _)| name < last.as_str());
        after_cursor && has_room && !self.kept.contains_key(name)
    }

    fn offer(&mut self, name: String, entry: Option<ListEntry>) {
        self.kept.insert(name, entry);
        if self.kept.len() > self.room {
            self.kept.pop_last();
        }
    }
}

/// One page of the tree at `root` (see the module).
pub fn list_tree(root: &Path, q: &ListQuery) -> io::Result<ListPage> {
    let mut smallest = Smallest {
        kept: BTreeMap::new(),
        room: q.limit.saturating_add(1),
        cursor: q.cursor.as_deref(),
    };
    walk(root, String::new(), q, &mut smallest)?;
    let more = smallest.kept.len() > q.limit;
    let mut page = ListPage::default();
    for (name, entry) in smallest.kept.into_iter().take(q.limit) {
        match entry {
            Some(object) => page.objects.push(object),
            None => page.prefixes.push(name),
        }
    }
    if more {
        page.next_cursor = Some(last_name(&page));
    }
    Ok(page)
}

/// The greatest key or prefix on a page.
fn last_name(page: &ListPage) -> String {
    let object = page.objects.last().map(|o| o.key.as_str());
    let prefix = page.prefixes.last().map(String::as_str);
    object.max(prefix).unwrap_or_default().to_owned()
}

/// With a delimiter, the common prefix `key` is shown as (the delimiter after the prefix).
fn folder_of(key: &str, q: &ListQuery) -> Option<String> {
    let d = q.delimiter.as_deref().filter(|d| !d.is_empty())?;
    let rest = &key[q.prefix.len()..];
    let cut = q.prefix.len() + rest.find(d)? + d.len();
    Some(key[..cut].to_owned())
}

fn walk(dir: &Path, prefix: String, q: &ListQuery, out: &mut Smallest<'_>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let key = format!("{prefix}{name}");
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            let folder = format!("{key}/");
            if folder.starts_with(&q.prefix) || q.prefix.starts_with(&folder) {
                walk(&entry.path(), folder, q, out)?;
            }
        } else if file_type.is_file() && key.starts_with(&q.prefix) {
            match folder_of(&key, q) {
                Some(folder) if out.wants(&folder) => out.offer(folder, None),
                Some(_) => {}
                None if out.wants(&key) => {
                    let meta = entry.metadata()?;
                    let object = ListEntry {
                        content_type: content_type_for(&key).into(),
                        size: meta.len(),
                        last_modified: meta.modified().ok(),
                        key: key.clone(),
                    };
                    out.offer(key, Some(object));
                }
                None => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_smallest_names_after_the_cursor_are_kept_and_never_more_than_the_room() {
        let mut smallest = Smallest {
            kept: BTreeMap::new(),
            room: 3,
            cursor: Some("b"),
        };
        for name in ["z", "a", "y", "c", "x", "d", "b", "e", "c"] {
            if smallest.wants(name) {
                smallest.offer(name.to_owned(), None);
            }
            assert!(smallest.kept.len() <= 3);
        }
        let kept: Vec<&str> = smallest.kept.keys().map(String::as_str).collect();
        assert_eq!(kept, ["c", "d", "e"]);
    }
}
