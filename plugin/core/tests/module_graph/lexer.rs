//! Rust source as the few tokens an import graph needs: identifiers, `::`, braces and
//! single punctuation, each with its line. Comments and literals are dropped, so a
//! path written in a doc comment or a string is never taken for an import.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Ident(String),
    /// `::`
    PathSep,
    Open,
    Close,
    Punct(char),
}

/// The tokens of `source`, each with the 1-based line it starts on.
pub fn tokens(source: &str) -> Vec<(Token, usize)> {
    let mut lexer = Lexer { chars: source.chars().collect(), at: 0, line: 1, out: Vec::new() };
    while let Some(c) = lexer.peek(0) {
        lexer.step(c);
    }
    lexer.out
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: usize,
    out: Vec<(Token, usize)>,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    /// Moves past one character, counting lines.
    fn bump(&mut self) {
        if self.peek(0) == Some('\n') {
            self.line += 1;
        }
        self.at += 1;
    }

    fn push(&mut self, token: Token) {
        self.out.push((token, self.line));
    }

    fn step(&mut self, c: char) {
        match (c, self.peek(1)) {
            ('/', Some('/')) => self.skip_line(),
            ('/', Some('*')) => self.skip_block_comment(),
            ('"', _) => self.skip_string(),
            ('\'', _) => self.char_or_lifetime(),
            (':', Some(':')) => {
                self.push(Token::PathSep);
                self.at += 2;
            }
            ('{', _) => self.single(Token::Open),
            ('}', _) => self.single(Token::Close),
            (c, _) if c.is_alphabetic() || c == '_' => self.word(),
            (c, _) if c.is_ascii_digit() => self.skip_while(|c| c.is_alphanumeric() || c == '_'),
            (c, _) if c.is_whitespace() => self.bump(),
            (c, _) => self.single(Token::Punct(c)),
        }
    }

    fn single(&mut self, token: Token) {
        self.push(token);
        self.at += 1;
    }

    fn skip_while(&mut self, keep: impl Fn(char) -> bool) {
        while self.peek(0).is_some_and(&keep) {
            self.bump();
        }
    }

    fn skip_line(&mut self) {
        self.skip_while(|c| c != '\n');
    }

    /// Block comments nest in Rust.
    fn skip_block_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            match (c, self.peek(1)) {
                ('/', Some('*')) => {
                    depth += 1;
                    self.at += 2;
                }
                ('*', Some('/')) => {
                    depth -= 1;
                    self.at += 2;
                    if depth == 0 {
                        return;
                    }
                }
                _ => self.bump(),
            }
        }
    }

    /// A `"…"` literal with backslash escapes, the opening quote under the cursor.
    fn skip_string(&mut self) {
        self.at += 1;
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => {
                    self.bump();
                    self.bump();
                }
                '"' => {
                    self.at += 1;
                    return;
                }
                _ => self.bump(),
            }
        }
    }

    /// `r"…"`, `r#"…"#` and their `b`/`c` forms, the cursor on the first `#` or `"`.
    fn skip_raw_string(&mut self) {
        let mut hashes = 0;
        while self.peek(0) == Some('#') {
            hashes += 1;
            self.at += 1;
        }
        self.at += 1;
        while self.peek(0).is_some() {
            let closes = self.peek(0) == Some('"') && (1..=hashes).all(|i| self.peek(i) == Some('#'));
            self.bump();
            if closes {
                self.at += hashes;
                return;
            }
        }
    }

    /// `'a'`, `'\n'` and `'\u{..}'` are literals; `'a` alone is a lifetime or a label,
    /// whose name is lexed as a word (and never followed by `::`).
    fn char_or_lifetime(&mut self) {
        self.at += 1;
        if self.peek(0) == Some('\\') {
            self.at += 2;
            self.skip_while(|c| c != '\'');
            self.at += 1;
        } else if self.peek(1) == Some('\'') {
            self.at += 2;
        }
    }

    fn word(&mut self) {
        let start = self.at;
        self.skip_while(|c| c.is_alphanumeric() || c == '_');
        let word: String = self.chars[start..self.at].iter().collect();
        let prefix = matches!(word.as_str(), "r" | "b" | "br" | "c" | "cr");
        match self.peek(0) {
            Some('"') if word.ends_with('r') && prefix => self.skip_raw_string(),
            Some('"') if prefix => self.skip_string(),
            Some('#') if word.ends_with('r') && prefix && self.raw_string_follows() => self.skip_raw_string(),
            // A raw identifier (`r#type`): its name follows.
            Some('#') if word == "r" => self.at += 1,
            Some('\'') if word == "b" => self.char_or_lifetime(),
            _ => self.push(Token::Ident(word)),
        }
    }

    /// After `r`, `br` or `cr`: whether `#`s and a `"` follow.
    fn raw_string_follows(&self) -> bool {
        let mut ahead = 0;
        while self.peek(ahead) == Some('#') {
            ahead += 1;
        }
        self.peek(ahead) == Some('"')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(source: &str) -> Vec<String> {
        tokens(source)
            .into_iter()
            .map(|(token, _)| match token {
                Token::Ident(word) => word,
                Token::PathSep => "::".to_owned(),
                Token::Open => "{".to_owned(),
                Token::Close => "}".to_owned(),
                Token::Punct(c) => c.to_string(),
            })
            .collect()
    }

    #[test]
    fn comments_and_literals_leave_no_tokens() {
        let source = r###"a // crate::x
            /* crate::y /* nested */ crate::z */ b "crate::s \" q" r#"crate::" r"# c b'"' '\'' 'x' br##"crate::"#"## d"###;
        assert_eq!(words(source), ["a", "b", "c", "d"]);
    }

    #[test]
    fn lifetimes_and_raw_identifiers_are_words() {
        assert_eq!(words("fn f<'a>(x: &'a r#type::T)"), ["fn", "f", "<", "a", ">", "(", "x", ":", "&", "a", "type", "::", "T", ")"]);
    }

    #[test]
    fn lines_are_counted_through_comments_and_strings() {
        let lines: Vec<usize> = tokens("a\n/* \n */ \"\n\" b\nc").into_iter().map(|(_, line)| line).collect();
        assert_eq!(lines, [1, 4, 5]);
    }
}
