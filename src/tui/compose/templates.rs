//! Templates from `<config dir>/templates/`, filled from the mail's records.

use super::*;

/// The template files in `dir`, by name.
impl ComposeState {
    /// Open the template picker.
    pub fn open_templates(&mut self, desk: &dyn DeskClient) -> Result<(), String> {
        let names = desk.template_names().map_err(|e| e.0)?;
        self.mode = Mode::Templates { names, cursor: 0 };
        Ok(())
    }

    /// Fill template `name` with `ctx` and insert it at the body's cursor.
    pub fn insert_template(
        &mut self,
        desk: &dyn DeskClient,
        name: &str,
        ctx: &TemplateContext,
    ) -> Result<(), String> {
        let raw = desk.template_text(name).map_err(|e| e.0)?;
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
