//! The routes of the systems reelay replaces, so their users can switch: the Lyve Cloud video
//! middleware's ([`lyve`]) and LiveMix's viewer URLs ([`livemix`]) and management routes
//! ([`livemix_manage`], with its shapes and envelope in `livemix_envelope`), each over the
//! same domain verbs and with reelay's auth and error table.

pub(crate) mod livemix;
mod livemix_envelope;
pub(crate) mod livemix_manage;
pub(crate) mod lyve;
