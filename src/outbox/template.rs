//! Mail templates with placeholders such as `{Person.name}`. A known
//! placeholder without a value becomes empty and is flagged; an unknown one
//! stays literally in the text and is flagged, so neither goes out unseen.
//! Also the signature block (`-- ` separator) and where it goes in a reply.

/// Every placeholder a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "Person.name",
    "Person.emailAddress",
    "Account.name",
    "Case.number",
    "Case.name",
    "User.name",
    "today",
    "optOutUrl",
    "optOutLink",
];

pub use crate::protocol::TemplateContext;

impl TemplateContext {
    /// `today` as YYYY-MM-DD in local time, and `optOutLink` from `optOutUrl`.
    pub fn with_defaults(mut self) -> TemplateContext {
        if !self.values.contains_key("today") {
            let today = chrono::Local::now().format("%Y-%m-%d").to_string();
            self.set("today", today);
        }
        if !self.values.contains_key("optOutLink")
            && let Some(url) = self.values.get("optOutUrl").cloned()
        {
            self.set("optOutLink", format!("Unsubscribe: <{url}>"));
        }
        self
    }
}

/// A rendered template and what needs the agent's attention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Placeholders deskmail does not know; left in the text as written.
    pub unknown: Vec<String>,
    /// Known placeholders that had no value; replaced by nothing.
    pub empty: Vec<String>,
}

impl Rendered {
    /// Whether the text can go out without a second look.
    pub fn is_clean(&self) -> bool {
        self.unknown.is_empty() && self.empty.is_empty()
    }

    /// One line per flagged placeholder, for the compose pane or the CLI.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for u in &self.unknown {
            out.push(format!(
                "{{{u}}} is not a known placeholder and stays in the text as written"
            ));
        }
        for e in &self.empty {
            out.push(format!("{{{e}}} has no value here and was left empty"));
        }
        out
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
}

/// Replace the placeholders of `template` with the values of `ctx`.
/// Braces around anything that does not look like a name (spaces, nested
/// braces, JSON) are left alone and not flagged.
pub fn render(template: &str, ctx: &TemplateContext) -> Rendered {
    let mut out = Rendered {
        text: String::with_capacity(template.len()),
        ..Rendered::default()
    };
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(['}', '{', '\n']);
        match close {
            Some(end) if after.as_bytes()[end] == b'}' && is_name(&after[..end]) => {
                let name = &after[..end];
                if PLACEHOLDERS.contains(&name) {
                    match ctx.get(name) {
                        Some(v) => out.text.push_str(v),
                        None => {
                            if !out.empty.iter().any(|e| e == name) {
                                out.empty.push(name.to_string());
                            }
                        }
                    }
                } else {
                    out.text.push('{');
                    out.text.push_str(name);
                    out.text.push('}');
                    if !out.unknown.iter().any(|u| u == name) {
                        out.unknown.push(name.to_string());
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.text.push('{');
                rest = after;
            }
        }
    }
    out.text.push_str(rest);
    out
}

/// Where a signature goes in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignaturePlacement {
    /// Right under the new text, above the quoted mail (the default).
    #[default]
    AboveQuote,
    /// At the very end, under the quote.
    BelowQuote,
}

/// The signature block: the standard `-- ` separator line, then the
/// signature without any separator it already had, trailing blanks trimmed.
pub fn signature_block(signature: &str) -> String {
    let sig = signature.replace("\r\n", "\n");
    let sig = sig.trim_end();
    let sig = sig
        .strip_prefix("-- \n")
        .or_else(|| sig.strip_prefix("--\n"))
        .unwrap_or(sig)
        .trim_start_matches('\n');
    format!("-- \n{sig}\n")
}

/// Put together the text the agent wrote, the identity's signature and the
/// quoted mail (already quoted, attribution line included).
pub fn compose_body(
    text: &str,
    signature: Option<&str>,
    quote: Option<&str>,
    placement: SignaturePlacement,
) -> String {
    let mut out = text.trim_end().to_string();
    out.push('\n');
    let sig = signature
        .filter(|s| !s.trim().is_empty())
        .map(signature_block);
    let quote = quote.filter(|q| !q.trim().is_empty()).map(|q| {
        let mut q = q.trim_end().to_string();
        q.push('\n');
        q
    });
    let parts: Vec<String> = match placement {
        SignaturePlacement::AboveQuote => sig.into_iter().chain(quote).collect(),
        SignaturePlacement::BelowQuote => quote.into_iter().chain(sig).collect(),
    };
    for p in parts {
        out.push('\n');
        out.push_str(&p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_are_filled() {
        let mut ctx = TemplateContext::new();
        ctx.set("Person.name", "Ann").set("Case.number", "42");
        let r = render("Dear {Person.name}, case #{Case.number}.", &ctx);
        assert_eq!(r.text, "Dear Ann, case #42.");
        assert!(r.is_clean());
    }

    #[test]
    fn unknown_stays_literal_and_is_flagged() {
        let r = render("Hi {Person.nmae}!", &TemplateContext::new());
        assert_eq!(r.text, "Hi {Person.nmae}!");
        assert_eq!(r.unknown, vec!["Person.nmae"]);
        assert!(r.warnings()[0].contains("{Person.nmae}"));
    }

    #[test]
    fn known_without_value_becomes_empty_and_is_flagged() {
        let r = render("Case {Case.name}: {Case.name}.", &TemplateContext::new());
        assert_eq!(r.text, "Case : .");
        assert_eq!(r.empty, vec!["Case.name"]);
    }

    #[test]
    fn other_braces_are_left_alone() {
        let r = render(
            "json {\"a\": 1} and { spaced } and {",
            &TemplateContext::new(),
        );
        assert_eq!(r.text, "json {\"a\": 1} and { spaced } and {");
        assert!(r.is_clean());
    }

    #[test]
    fn defaults_fill_today_and_opt_out_link() {
        let mut ctx = TemplateContext::new();
        ctx.set("optOutUrl", "https://desk.example/o/1");
        let ctx = ctx.with_defaults();
        let r = render("{today}|{optOutLink}", &ctx);
        assert!(r.is_clean(), "{r:?}");
        assert!(r.text.ends_with("Unsubscribe: <https://desk.example/o/1>"));
        assert_eq!(r.text.split('|').next().map(str::len), Some(10));
    }

    #[test]
    fn signature_goes_above_the_quote_with_the_standard_separator() {
        let body = compose_body(
            "Thanks, fixed.\n\n",
            Some("--\nSam\nSupport desk\n\n"),
            Some("On Monday Ann wrote:\n> it broke\n"),
            SignaturePlacement::default(),
        );
        assert_eq!(
            body,
            "Thanks, fixed.\n\n-- \nSam\nSupport desk\n\nOn Monday Ann wrote:\n> it broke\n"
        );
    }

    #[test]
    fn signature_below_the_quote_and_without_one() {
        let body = compose_body(
            "Hi",
            Some("Sam"),
            Some("> q"),
            SignaturePlacement::BelowQuote,
        );
        assert_eq!(body, "Hi\n\n> q\n\n-- \nSam\n");
        assert_eq!(
            compose_body("Hi", None, None, SignaturePlacement::AboveQuote),
            "Hi\n"
        );
        assert_eq!(signature_block("-- \nSam"), "-- \nSam\n");
    }
}
