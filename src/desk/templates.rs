//! The placeholder values of a template for one mail: the agent, and the
//! person, account and open case the mail (or its recipient) is linked to.

use super::Desk;
use crate::outbox::template::TemplateContext;
use crate::store::{RecordKind, Result};

pub(super) fn template_context(
    desk: &Desk,
    parent: Option<u64>,
    to: Option<&str>,
) -> Result<TemplateContext> {
    let cfg = &desk.config;
    let linked = match parent {
        Some(id) => desk.store.links_of(id)?,
        None => vec![],
    };
    if linked.is_empty()
        && let Some(to) = to
        && let Ok(ctx) = crate::outbox::send::context_for(&desk.store, cfg, to)
    {
        return Ok(ctx);
    }
    let mut ctx = TemplateContext::new();
    ctx.set("User.name", cfg.agent.name.clone());
    if let Some(to) = to {
        ctx.set("Person.emailAddress", to.trim());
    }
    let alive = |k: RecordKind| linked.iter().find(|r| r.kind == k && !r.deleted).cloned();
    let case = alive(RecordKind::Case);
    // The person: linked, or the contact the linked case belongs to.
    let person = alive(RecordKind::Contact)
        .or_else(|| alive(RecordKind::Lead))
        .or_else(|| {
            case.as_ref()
                .and_then(|c| c.parent)
                .filter(|r| matches!(r.0, RecordKind::Contact | RecordKind::Lead))
                .and_then(|r| desk.store.record(r.0, r.1).ok().flatten())
        });
    // The case: linked, or the person's newest open one.
    let case = case.or_else(|| {
        let p = person.as_ref()?;
        let mut cases: Vec<_> = desk
            .store
            .children_of(p.reference())
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.kind == RecordKind::Case && !r.deleted)
            .filter(|c| {
                c.field("status")
                    .is_none_or(crate::store::CaseStatus::is_open_name)
            })
            .collect();
        cases.sort_by_key(|c| c.created);
        cases.pop()
    });
    if let Some(p) = &person {
        ctx.set("Person.name", p.name.clone());
        if let Some(e) = p.emails.first() {
            ctx.set("Person.emailAddress", e.clone());
        }
        if let Some(url) = p.field("opt_out_url").or(p.field("optOutUrl")) {
            ctx.set("optOutUrl", url.to_string());
        }
        if let Some(r) = p.parent
            && r.0 == RecordKind::Account
            && let Some(a) = desk.store.record(r.0, r.1).ok().flatten()
        {
            ctx.set("Account.name", a.name);
        }
    }
    let account = alive(RecordKind::Account).or_else(|| {
        case.as_ref()?
            .related
            .iter()
            .find(|r| r.0 == RecordKind::Account)
            .and_then(|r| desk.store.record(r.0, r.1).ok().flatten())
    });
    if let Some(a) = account {
        ctx.set("Account.name", a.name.clone());
    }
    if let Some(c) = &case {
        ctx.set("Case.name", c.name.clone());
        if let Some(n) = c.field("number") {
            ctx.set("Case.number", n.to_string());
        }
    }
    Ok(ctx.with_defaults())
}
