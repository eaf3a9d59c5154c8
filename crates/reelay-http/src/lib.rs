//! Pure RFC 9110 logic for reelay: no I/O, no async runtime. Values in, enums out.
//!
//! - [`range`]: `Range` parsing, resolution against a length, coalescing, abuse caps;
//! - [`etag`]: entity tags and `If-Match`/`If-None-Match` lists;
//! - [`conditional`]: the §13.2.2 evaluation order, ending in one [`Outcome`];
//! - [`multipart`]: `multipart/byteranges` framing with an exact length;
//! - [`content_type`]: media types by extension;
//! - [`disposition`]: `Content-Disposition: attachment` with a safe, UTF-8 file name.
//!
//! The service crate calls [`evaluate`] once per media request and streams what it says.

pub mod conditional;
pub mod content_type;
pub mod disposition;
pub mod etag;
pub mod multipart;
pub mod range;

pub use conditional::{Outcome, Representation, evaluate};
pub use content_type::content_type_for;
pub use etag::{EntityTag, EtagCondition};
pub use multipart::{MultipartLayout, Piece, multipart_content_type, multipart_layout};
pub use range::{ByteSpan, MAX_RANGES, RangeDecision, RangeSpec, parse_range_header, resolve};
