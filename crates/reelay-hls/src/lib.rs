//! Pure RFC 8216 logic for reelay: parsing ingest playlists and building live, event and VOD
//! playlists. Empty until the live relay lands (issue 5); kept in the workspace so the layout in
//! `docs/architecture.md` is the layout in the tree.
