//! Templates from `<config dir>/templates/`, filled from the mail's records.

use super::*;

/// The template files in `dir`, by name.
pub fn template_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && !n.ends_with('~'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Placeholder values for a mail answering `parent` (its linked records)
/// or, without links, for a mail to `to`.
pub fn template_context(desk: &Desk, parent: Option<u64>, to: Option<&str>) -> TemplateContext {
    let cfg = desk.config();
    let linked = parent.map(|id| desk.links_of(id)).unwrap_or_default();
    if linked.is_empty()
        && let Some(to) = to
        && let Ok(ctx) = crate::outbox::send::context_for(desk.store(), cfg, to)
    {
        return ctx;
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
                .and_then(|r| desk.record(r))
        });
    // The case: linked, or the person's newest open one.
    let case = case.or_else(|| {
        let p = person.as_ref()?;
        let mut cases: Vec<_> = desk
            .store()
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
            && let Some(a) = desk.record(r)
        {
            ctx.set("Account.name", a.name);
        }
    }
    let account = alive(RecordKind::Account).or_else(|| {
        case.as_ref()?
            .related
            .iter()
            .find(|r| r.0 == RecordKind::Account)
            .and_then(|r| desk.record(*r))
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
    ctx.with_defaults()
}

impl ComposeState {
    /// Open the template picker.
    pub fn open_templates(&mut self) -> Result<(), String> {
        let names = template_names(&self.templates_dir);
        if names.is_empty() {
            return Err(format!(
                "No templates: put text files in {}.",
                self.templates_dir.display()
            ));
        }
        self.mode = Mode::Templates { names, cursor: 0 };
        Ok(())
    }

    /// Fill template `name` with `ctx` and insert it at the body's cursor.
    pub fn insert_template(&mut self, name: &str, ctx: &TemplateContext) -> Result<(), String> {
        let file = self.templates_dir.join(name);
        let raw = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read template {}: {e}", file.display()))?;
        let r = template::render(&raw, ctx);
        self.field = BODY;
        self.body.insert_str(r.text.trim_end_matches('\n'));
        for u in r.unknown {
            if !self.template_unknown.contains(&u) {
                self.template_unknown.push(u);
            }
        }
        for e in r.empty {
            if !self.template_empty.contains(&e) {
                self.template_empty.push(e);
            }
        }
        self.touch();
        Ok(())
    }

    /// Template placeholders needing a look: unknown ones still in the body
    /// (they block sending) and known ones that were left empty.
    pub fn template_warnings(&self) -> Vec<String> {
        let body = text(&self.body);
        let r = template::Rendered {
            text: String::new(),
            unknown: self
                .template_unknown
                .iter()
                .filter(|u| body.contains(&format!("{{{u}}}")))
                .cloned()
                .collect(),
            empty: self.template_empty.clone(),
        };
        r.warnings()
    }
}
