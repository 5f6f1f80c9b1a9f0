//! The one text analyzer of the search index, used for indexing and queries
//! alike: split on non-alphanumerics, lowercase, fold `ё` to `е`, then stem
//! each token with the Russian stemmer if it is Cyrillic, else the English one.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The name the analyzer is registered under in the index.
pub const NAME: &str = "deskmail";

/// Longer tokens (base64 debris, hashes) are dropped: nobody types them.
const MAX_TOKEN_BYTES: usize = 64;

/// Picks the stemmer per token by script, so one field serves both languages
/// with one posting per word (indexing each text twice would double the index).
#[derive(Clone)]
pub struct MailTokenizer {
    english: frostem::Stemmer,
    russian: frostem::Stemmer,
    tokens: Vec<Token>,
}

impl Default for MailTokenizer {
    fn default() -> Self {
        MailTokenizer {
            english: frostem::Stemmer::new(frostem::Algorithm::English),
            russian: frostem::Stemmer::new(frostem::Algorithm::Russian),
            tokens: Vec::new(),
        }
    }
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}' | '\u{0500}'..='\u{052F}')
}

impl MailTokenizer {
    fn normalise(&self, word: &str) -> Option<String> {
        if word.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let lower: String = word
            .chars()
            .flat_map(char::to_lowercase)
            .map(|c| if c == 'ё' { 'е' } else { c })
            .collect();
        let stemmed = if lower.chars().any(is_cyrillic) {
            self.russian.stem(&lower).into_owned()
        } else if lower.chars().all(|c| c.is_ascii_alphabetic()) {
            self.english.stem(&lower).into_owned()
        } else {
            lower
        };
        Some(stemmed)
    }

    fn fill(&mut self, text: &str) {
        self.tokens.clear();
        let mut position = 0usize;
        let mut start: Option<usize> = None;
        let mut push = |this: &mut Self, from: usize, to: usize| {
            if let Some(t) = this.normalise(&text[from..to]) {
                this.tokens.push(Token {
                    offset_from: from,
                    offset_to: to,
                    position,
                    text: t,
                    position_length: 1,
                });
            }
            position += 1;
        };
        for (i, c) in text.char_indices() {
            match (c.is_alphanumeric(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    push(self, s, i);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            push(self, s, text.len());
        }
    }
}

pub struct MailTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    /// One past the current token; 0 before the first `advance`.
    next: usize,
}

impl Tokenizer for MailTokenizer {
    type TokenStream<'a> = MailTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> MailTokenStream<'a> {
        self.fill(text);
        MailTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

impl TokenStream for MailTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next.saturating_sub(1)]
    }

    fn token_mut(&mut self) -> &mut Token {
        let i = self.next.saturating_sub(1);
        &mut self.tokens[i]
    }
}

/// The terms a piece of query text becomes, in order.
pub fn terms(text: &str) -> Vec<String> {
    let mut t = MailTokenizer::default();
    t.fill(text);
    t.tokens.into_iter().map(|t| t.text).collect()
}

/// The words of `text` with their byte ranges and the terms they become.
pub fn words(text: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut t = MailTokenizer::default();
    t.fill(text);
    t.tokens
        .into_iter()
        .map(|t| (t.offset_from..t.offset_to, t.text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::terms;

    #[test]
    fn russian_forms_of_one_word_share_a_term() {
        assert_eq!(terms("счёт"), terms("счета"));
        assert_eq!(terms("счёт"), terms("СЧЕТУ"));
    }

    #[test]
    fn english_forms_share_a_term_and_addresses_split() {
        assert_eq!(terms("refunds"), terms("refunded"));
        assert_eq!(terms("lucas@example.com"), vec!["luca", "exampl", "com"]);
    }

    #[test]
    fn mixed_text_keeps_positions_for_phrases() {
        assert_eq!(terms("Заказ №42 — refund").len(), 3);
    }
}
