//! Readable item names (`convert --name TEMPLATE`). Pure code.
//!
//! A [`NameTemplate`] such as `{modality}_{series_number}_{series_description}_{volume}` is
//! rendered with a volume's header values ([`NameFields`]): every field is made safe and
//! bounded ([`clean`]), then the whole name; [`deduplicate`] then gives colliding names
//! `-2`, `-3`… in an order that depends only on the items, never on thread scheduling.
//!
//! Names are titles only: output keys stay derived from UIDs (see
//! [`crate::contract::keys`]), so a name never changes where a file is stored.

mod clean;
mod template;
mod unique;

pub use clean::{FIELD_MAX_BYTES, NAME_MAX_BYTES, PLACEHOLDER, clean, truncate_utf8};
pub use template::{
    DEFAULT_TEMPLATE, NameFields, NameTemplate, NameTemplateError, Target, field_names,
};
pub use unique::deduplicate;
