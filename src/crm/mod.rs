//! CRM behaviour over the store: linking rules, system addresses, cases,
//! auto-replies and filters.
//! Owns decisions about records; never talks to the network.

pub mod auto_reply;
pub mod cases;
pub mod create;
pub mod filters;
pub mod followers;
pub mod history;
pub mod import;
pub mod linking;
pub mod vcard;

pub use create::{
    CreateError, case_from_mail, contact_from_mail, create_and_link, lead_from_mail,
    task_from_mail, validate_record,
};
pub use followers::{follow, notifications_for_new_mail, unfollow};
pub use import::{ImportError, ImportSummary, import_contacts};
pub use linking::{
    LinkOutcome, LinkRules, RelinkReport, auto_link, process_new_mail, relink_unlinked,
};

#[cfg(test)]
mod tests;
