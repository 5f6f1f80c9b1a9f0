//! Reading a keymap file: TOML tables per context into bindings, with every
//! error naming the file and line.

use super::*;

/// Line (1-based) of a byte offset.
fn line_of(src: &str, offset: usize) -> usize {
    let end = offset.min(src.len());
    src.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) file: String,
}

impl Parser<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        line_of(self.src, span.start)
    }

    fn invalid(&self, span: &Range<usize>, message: impl Into<String>) -> KeymapError {
        KeymapError::Invalid {
            file: self.file.clone(),
            line: self.line(span),
            message: message.into(),
        }
    }

    pub(super) fn parse(&self) -> Result<Keymap, KeymapError> {
        let doc = DeTable::parse(self.src).map_err(|e| KeymapError::Toml {
            file: self.file.clone(),
            line: e.span().map_or(1, |s| self.line(&s)),
            message: e.message().trim().to_owned(),
        })?;
        let mut entries: Vec<_> = doc.get_ref().iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let mut keymap = Keymap::default();
        for (name, value) in entries {
            let ctx: Context =
                name.get_ref()
                    .parse()
                    .map_err(|()| KeymapError::UnknownContext {
                        file: self.file.clone(),
                        line: self.line(&name.span()),
                        context: name.get_ref().to_string(),
                    })?;
            let DeValue::Array(items) = value.get_ref() else {
                return Err(self.invalid(
                    &name.span(),
                    format!(
                        "[{ctx}] must be an array of tables: write [[{ctx}]] before each binding"
                    ),
                ));
            };
            let mut lines: Vec<usize> = Vec::new();
            for item in items {
                let binding = self.binding(ctx, item, &name.span())?;
                let table = keymap.tables.entry(ctx).or_default();
                let line = self.line(&item.span());
                if let Some(i) = table.iter().position(|b| b.keys == binding.keys) {
                    return Err(self.invalid(
                        &item.span(),
                        format!(
                            "\"{}\" is bound twice in [[{ctx}]] (first at line {})",
                            Key::sequence_to_string(&binding.keys),
                            lines[i]
                        ),
                    ));
                }
                table.push(binding);
                lines.push(line);
            }
        }
        Ok(keymap)
    }

    fn binding(
        &self,
        ctx: Context,
        item: &Spanned<DeValue<'_>>,
        header: &Range<usize>,
    ) -> Result<Binding, KeymapError> {
        let DeValue::Table(table) = item.get_ref() else {
            return Err(self.invalid(
                header,
                format!("[[{ctx}]] entries must be tables with `on` and `run`"),
            ));
        };
        let mut on = None;
        let mut run = None;
        let mut desc = None;
        for (k, v) in table.iter() {
            match k.get_ref().as_ref() {
                "on" => on = Some(self.keys(ctx, v)?),
                "run" => run = Some(self.actions(ctx, v)?),
                "desc" => match v.get_ref() {
                    DeValue::String(s) => desc = Some(s.to_string()),
                    other => {
                        return Err(self.invalid(
                            &v.span(),
                            format!(
                                "`desc` in [[{ctx}]] must be a string, not {}",
                                other.type_str()
                            ),
                        ));
                    }
                },
                other => {
                    return Err(self.invalid(
                        &k.span(),
                        format!(
                            "unknown field `{other}` in [[{ctx}]] (expected `on`, `run` or `desc`)"
                        ),
                    ));
                }
            }
        }
        let at = if item.span().is_empty() {
            header.clone()
        } else {
            item.span()
        };
        let keys = on.ok_or_else(|| self.invalid(&at, format!("[[{ctx}]] entry has no `on`")))?;
        let actions =
            run.ok_or_else(|| self.invalid(&at, format!("[[{ctx}]] entry has no `run`")))?;
        let desc = desc.unwrap_or_else(|| {
            actions
                .iter()
                .map(Action::describe)
                .collect::<Vec<_>>()
                .join(", ")
        });
        Ok(Binding {
            keys,
            actions,
            desc,
        })
    }

    /// Strings of a string-or-array value, each with its span.
    fn strings<'v>(
        &self,
        ctx: Context,
        field: &str,
        v: &'v Spanned<DeValue<'_>>,
    ) -> Result<Vec<(&'v str, Range<usize>)>, KeymapError> {
        match v.get_ref() {
            DeValue::String(s) => Ok(vec![(s.as_ref(), v.span())]),
            DeValue::Array(items) => items
                .iter()
                .map(|item| match item.get_ref() {
                    DeValue::String(s) => Ok((s.as_ref(), item.span())),
                    other => Err(self.invalid(
                        &item.span(),
                        format!(
                            "`{field}` in [[{ctx}]] must hold strings, not {}",
                            other.type_str()
                        ),
                    )),
                })
                .collect(),
            other => Err(self.invalid(
                &v.span(),
                format!(
                    "`{field}` in [[{ctx}]] must be a string or an array of strings, not {}",
                    other.type_str()
                ),
            )),
        }
    }

    fn keys(&self, ctx: Context, v: &Spanned<DeValue<'_>>) -> Result<Vec<Key>, KeymapError> {
        let single = matches!(v.get_ref(), DeValue::String(_));
        let mut keys = Vec::new();
        for (s, span) in self.strings(ctx, "on", v)? {
            let unknown = |key: &str| KeymapError::UnknownKey {
                file: self.file.clone(),
                line: self.line(&span),
                key: key.to_owned(),
                context: ctx,
            };
            if single {
                for token in s.split_whitespace() {
                    keys.push(token.parse::<Key>().map_err(|_| unknown(token))?);
                }
            } else {
                keys.push(s.parse::<Key>().map_err(|_| unknown(s))?);
            }
        }
        if keys.is_empty() {
            return Err(self.invalid(&v.span(), format!("empty `on` in [[{ctx}]]")));
        }
        Ok(keys)
    }

    fn actions(&self, ctx: Context, v: &Spanned<DeValue<'_>>) -> Result<Vec<Action>, KeymapError> {
        self.strings(ctx, "run", v)?
            .into_iter()
            .filter(|(s, _)| *s != "noop")
            .map(|(s, span)| {
                s.parse::<Action>().map_err(|_| KeymapError::UnknownAction {
                    file: self.file.clone(),
                    line: self.line(&span),
                    action: s.to_owned(),
                    context: ctx,
                })
            })
            .collect()
    }
}
