//! Storage: where object bytes and metadata come from, behind one type.
//!
//! A [`Bucket`] is a backend — a closed set dispatched by enum, no trait objects: local folders
//! (`fs`), S3-compatible stores (`s3`) and HTTP origins (`origin`) — together with the
//! [`Reads`] policy of the registry that handed it out: fs bytes are read in frames under the
//! process-wide [`ReadBudget`], remote bytes go through the chunk cache when one is configured
//! (the cache decorates remote reads here, so no caller ever passes a cache in). Every backend
//! answers the same questions — open an object (metadata + a handle), stream a span of it, list
//! keys, store a body, delete — and reports failures as [`StorageError`], which says who failed
//! and whether a retry is safe. Incoming bodies arrive as [`BodyStream`]s bounded by
//! [`crate::stream::Limited`]; a failure of the body itself is the sender's ([`PutError::Body`]).

//!
//! [`bucket`] is the one type and its dispatch; [`object`] what a listing or an open says;
//! [`error`] who failed; [`registry`] every bucket by name with its [`Reads`]; the backends are
//! [`fs`] (+ [`fs_write`]), [`s3`] and [`origin`], with their shared [`retry`], [`http_meta`]
//! and [`meta_cache`]; [`frames`] reads local files under the budget; [`key`] checks keys.

pub(crate) mod bucket;
pub(crate) mod error;
pub mod frames;
pub mod fs;
pub(crate) mod fs_list;
pub(crate) mod fs_write;
pub(crate) mod http_meta;
pub(crate) mod key;
pub(crate) mod meta_cache;
pub(crate) mod object;
pub mod origin;
pub(crate) mod page_cache;
pub mod reads;
pub(crate) mod registry;
pub(crate) mod retry;
pub mod s3;

pub use bucket::{Backend, Bucket, OpenObject};
pub use error::{PutError, StorageError};
pub use frames::ReadBudget;
pub use key::{KeyError, ObjectKey, validate_bucket_name};
pub use object::{ListEntry, ListPage, ObjectMeta};
pub use reads::Reads;
pub use registry::{BucketInfo, Buckets, Origin};
