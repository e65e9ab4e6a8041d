//! The public JSON contracts between commands, and with users' own tools: what `order` prints
//! ([`order_report`]), what `convert` writes (`manifest.json`: [`manifest`]; `report.json`:
//! [`run_report`]), where it writes them ([`keys`]: the deterministic output keys), and the
//! header index's SQLite schema ([`index_schema`]). `convert` writes
//! them; `payload`, `register` and later runs read them.
//! Field names are public interfaces: fields are added, never renamed.

pub mod index_schema;
pub mod keys;
pub mod manifest;
pub mod order_report;
pub mod run_report;

pub use order_report::FileIssue;
