//! What storage says of objects: the metadata an open gives, and a page of a listing.

use std::borrow::Cow;
use std::time::SystemTime;

use reelay_http::EntityTag;

/// What every backend knows of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub(crate) size: u64,
    pub(crate) etag: EntityTag,
    pub(crate) last_modified: Option<SystemTime>,
    /// By extension; for unknown extensions, what the backend says (if anything).
    pub(crate) content_type: Cow<'static, str>,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) last_modified: Option<SystemTime>,
    pub(crate) content_type: Cow<'static, str>,
}

/// One page of a listing: objects and, with a delimiter, the "folders" (common prefixes).
/// Both are in key order; `next_cursor` (the last key or prefix of this page) is absent on
/// the last page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub(crate) objects: Vec<ListEntry>,
    pub(crate) prefixes: Vec<String>,
    pub(crate) next_cursor: Option<String>,
}
