//! What storage says of objects: the metadata an open gives, and a page of a listing.

use std::borrow::Cow;
use std::time::SystemTime;

use reelay_http::EntityTag;

/// What every backend knows of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    pub etag: EntityTag,
    pub last_modified: Option<SystemTime>,
    /// By extension; for unknown extensions, what the backend says (if anything).
    pub content_type: Cow<'static, str>,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<SystemTime>,
    pub content_type: Cow<'static, str>,
}

/// One page of a listing: objects and, with a delimiter, the "folders" (common prefixes).
/// Both are in key order; `next_cursor` (the last key or prefix of this page) is absent on
/// the last page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ListEntry>,
    pub prefixes: Vec<String>,
    pub next_cursor: Option<String>,
}
