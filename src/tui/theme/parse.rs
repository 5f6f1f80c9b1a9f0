//! Reading a theme file: roles to colours and attributes, with errors that
//! name the file and line; and fitting true colours to a 256-colour terminal.

use super::*;

pub(super) fn line_of(src: &str, span: &Range<usize>) -> usize {
    let end = span.start.min(src.len());
    src.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

pub(super) fn parse_file(src: &str, origin: &Path) -> Result<ThemeFile, ThemeError> {
    let file = origin.display().to_string();
    let line = |span: &Range<usize>| line_of(src, span);
    let invalid = |span: &Range<usize>, message: String| ThemeError::Invalid {
        file: file.clone(),
        line: line(span),
        message,
    };
    let doc = DeTable::parse(src).map_err(|e| ThemeError::Toml {
        file: file.clone(),
        line: e.span().map_or(1, |s| line(&s)),
        message: e.message().trim().to_owned(),
    })?;
    let mut entries: Vec<_> = doc.get_ref().iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut out = ThemeFile::default();
    for (key, value) in entries {
        let key_name: &str = key.get_ref().as_ref();
        if key_name == "extends" {
            let DeValue::String(s) = value.get_ref() else {
                return Err(invalid(
                    &value.span(),
                    "`extends` must be a theme name string".into(),
                ));
            };
            out.extends = Some(Spanned::new(value.span(), s.to_string()));
            continue;
        }
        let role: Role = key_name.parse().map_err(|()| ThemeError::UnknownRole {
            file: file.clone(),
            line: line(&key.span()),
            role: key_name.to_owned(),
        })?;
        let DeValue::Table(table) = value.get_ref() else {
            return Err(invalid(
                &key.span(),
                format!("`{role}` must be a table: write [{role}] and its fields below it"),
            ));
        };
        let mut spec = RoleSpec::default();
        for (field, v) in table.iter() {
            let field_name: &str = field.get_ref().as_ref();
            match field_name {
                "fg" | "bg" => {
                    let colour =
                        parse_colour(v.get_ref()).ok_or_else(|| ThemeError::BadColour {
                            file: file.clone(),
                            line: line(&v.span()),
                            field: format!("{role}.{field_name}"),
                            value: display_value(v.get_ref()),
                        })?;
                    if field_name == "fg" {
                        spec.fg = Some(colour);
                    } else {
                        spec.bg = Some(colour);
                    }
                }
                _ => {
                    let Some(i) = ATTRS.iter().position(|(n, _)| *n == field_name) else {
                        return Err(invalid(
                            &field.span(),
                            format!(
                                "unknown field `{role}.{field_name}` (expected fg, bg, bold, dim, italic, underlined, reversed, crossed_out)"
                            ),
                        ));
                    };
                    let Some(b) = v.get_ref().as_bool() else {
                        return Err(invalid(
                            &v.span(),
                            format!(
                                "`{role}.{field_name}` must be true or false, not {}",
                                v.get_ref().type_str()
                            ),
                        ));
                    };
                    spec.attrs[i] = Some(b);
                }
            }
        }
        out.roles.insert(role, spec);
    }
    Ok(out)
}

pub(super) fn parse_colour(v: &DeValue<'_>) -> Option<Color> {
    match v {
        DeValue::String(s) => {
            let s = s.trim();
            // ratatui accepts things like "light-blue" and "#rrggbb"; "#rgb" is added here.
            if let Some(hex) = s.strip_prefix('#')
                && hex.len() == 3
            {
                let mut digits = hex.chars().map(|c| c.to_digit(16));
                let (Some(Some(r)), Some(Some(g)), Some(Some(b))) =
                    (digits.next(), digits.next(), digits.next())
                else {
                    return None;
                };
                let expand = |d: u32| u8::try_from(d * 17).ok();
                return Some(Color::Rgb(expand(r)?, expand(g)?, expand(b)?));
            }
            Color::from_str(s).ok()
        }
        DeValue::Integer(i) => i.as_str().parse::<u8>().ok().map(Color::Indexed),
        _ => None,
    }
}

fn display_value(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => s.to_string(),
        DeValue::Integer(i) => i.as_str().to_owned(),
        other => other.type_str().to_owned(),
    }
}

/// Maps a colour for a 256-colour terminal: RGB becomes the nearest entry of
/// the xterm colour cube (16-231) or grey ramp (232-255); other colours are
/// returned unchanged. The 16 basic colours are never chosen, since
/// terminals redefine them freely.
pub fn reduce_to_256(c: Color) -> Color {
    match c {
        Color::Rgb(r, g, b) => Color::Indexed(nearest_256(r, g, b)),
        other => other,
    }
}

const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

pub(super) fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    let dist = |(r2, g2, b2): (u8, u8, u8)| {
        let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
        d(r, r2) + d(g, g2) + d(b, b2)
    };
    let level = |v: u8| -> usize {
        CUBE.iter()
            .enumerate()
            .min_by_key(|(_, l)| (i32::from(**l) - i32::from(v)).abs())
            .map_or(0, |(i, _)| i)
    };
    let (ri, gi, bi) = (level(r), level(g), level(b));
    let cube_rgb = (CUBE[ri], CUBE[gi], CUBE[bi]);
    // Indices fit: 16 + 36*5 + 6*5 + 5 = 231.
    let cube_index = (16 + 36 * ri + 6 * gi + bi) as u8;
    let (grey_index, grey_rgb) = (0u8..24)
        .map(|i| {
            let v = 8 + 10 * i;
            (232 + i, (v, v, v))
        })
        .min_by_key(|(_, rgb)| dist(*rgb))
        .unwrap_or((232, (8, 8, 8)));
    if dist(grey_rgb) < dist(cube_rgb) {
        grey_index
    } else {
        cube_index
    }
}
