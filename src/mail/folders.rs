//! Which folder of a server is Sent, Drafts or Trash: the special-use
//! attribute (RFC 6154) first, then the names servers use without it.
//! Sync and the outbox both ask here, so they always agree.

/// A folder with a role every account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialFolder {
    Sent,
    Drafts,
    Trash,
}

impl SpecialFolder {
    /// The special-use attribute as the store keeps it.
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialFolder::Sent => "\\Sent",
            SpecialFolder::Drafts => "\\Drafts",
            SpecialFolder::Trash => "\\Trash",
        }
    }

    /// Names that mean this folder on servers without SPECIAL-USE, most
    /// usual first.
    fn names(self) -> &'static [&'static str] {
        match self {
            SpecialFolder::Sent => &[
                "Sent",
                "Sent Items",
                "Sent Messages",
                "INBOX.Sent",
                "INBOX/Sent",
                "Отправленные",
            ],
            SpecialFolder::Drafts => &["Drafts", "INBOX.Drafts", "INBOX/Drafts", "Черновики"],
            SpecialFolder::Trash => &[
                "Trash",
                "Deleted Items",
                "Deleted Messages",
                "INBOX.Trash",
                "INBOX/Trash",
                "Корзина",
            ],
        }
    }
}

/// The folder of a listing (name, special use) that plays `role`.
pub fn find(list: &[(String, Option<String>)], role: SpecialFolder) -> Option<String> {
    list.iter()
        .find(|(_, s)| s.as_deref() == Some(role.attribute()))
        .or_else(|| {
            role.names()
                .iter()
                .find_map(|want| list.iter().find(|(n, _)| n.eq_ignore_ascii_case(want)))
        })
        .map(|(n, _)| n.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(names: &[&str]) -> Vec<(String, Option<String>)> {
        names.iter().map(|n| (n.to_string(), None)).collect()
    }

    #[test]
    fn special_use_wins_over_a_usual_name() {
        let mut l = plain(&["INBOX", "Sent"]);
        l.push(("Gesendet".into(), Some("\\Sent".into())));
        assert_eq!(find(&l, SpecialFolder::Sent).as_deref(), Some("Gesendet"));
    }

    #[test]
    fn a_sent_folder_under_inbox_is_found_with_either_separator() {
        for name in ["INBOX/Sent", "INBOX.Sent"] {
            let l = plain(&["INBOX", name]);
            assert_eq!(find(&l, SpecialFolder::Sent).as_deref(), Some(name));
        }
    }

    #[test]
    fn drafts_and_trash_by_name_and_none_when_absent() {
        let l = plain(&["INBOX", "Deleted Items", "INBOX.Drafts"]);
        assert_eq!(
            find(&l, SpecialFolder::Trash).as_deref(),
            Some("Deleted Items")
        );
        assert_eq!(
            find(&l, SpecialFolder::Drafts).as_deref(),
            Some("INBOX.Drafts")
        );
        assert_eq!(find(&l, SpecialFolder::Sent), None);
    }
}
