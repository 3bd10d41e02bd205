//! The tokenizer both parsers share, one state machine per format.
//!
//! The token rules are those of Prometheus's lexers (`promlex.l`, `openmetricslex.l`),
//! re-expressed as hand-written matching so the parsers fail on the same inputs with the
//! same token names. The two formats differ in whitespace (free in Prometheus text, single
//! spaces that belong to the next token in OpenMetrics), comments (free in Prometheus text,
//! only `HELP`/`TYPE`/`UNIT`/`EOF` in OpenMetrics), exemplars and label values (Prometheus
//! text lets a quoted value span lines). The Prometheus text lexer sees a virtual `\n` after
//! the input, as Prometheus appends one.

/// A token kind; [`Tok::name`] is Prometheus's name for it, used in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Invalid,
    Eof,
    Linebreak,
    Whitespace,
    Help,
    Type,
    Unit,
    EofWord,
    Text,
    Comment,
    MName,
    BraceOpen,
    BraceClose,
    LName,
    LValue,
    Comma,
    Equal,
    Timestamp,
    Value,
}

impl Tok {
    /// The token's name in Prometheus's messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tok::Invalid => "INVALID",
            Tok::Eof => "EOF",
            Tok::Linebreak => "LINEBREAK",
            Tok::Whitespace => "WHITESPACE",
            Tok::Help => "HELP",
            Tok::Type => "TYPE",
            Tok::Unit => "UNIT",
            Tok::EofWord => "EOFWORD",
            Tok::Text => "TEXT",
            Tok::Comment => "COMMENT",
            Tok::MName => "MNAME",
            Tok::BraceOpen => "BOPEN",
            Tok::BraceClose => "BCLOSE",
            Tok::LName => "LNAME",
            Tok::LValue => "LVALUE",
            Tok::Comma => "COMMA",
            Tok::Equal => "EQUAL",
            Tok::Timestamp => "TIMESTAMP",
            Tok::Value => "VALUE",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Init,
    Comment,
    Meta1,
    Meta2,
    Labels,
    LValue,
    Value,
    Timestamp,
    Exemplar,
    EValue,
    ETimestamp,
}

/// The tokenizer over one exposition.
pub(crate) struct Lexer<'a> {
    b: &'a [u8],
    openmetrics: bool,
    /// The end of the input the rules see: one past `b` for Prometheus text (the virtual
    /// newline).
    end: usize,
    /// Start of the current token.
    pub(crate) start: usize,
    /// Position after the current token.
    pub(crate) i: usize,
    state: State,
}

fn is_mname_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}
fn is_mname(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}
fn is_lname_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_lname(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(b: &'a [u8], openmetrics: bool) -> Self {
        Self {
            b,
            openmetrics,
            end: if openmetrics { b.len() } else { b.len() + 1 },
            start: 0,
            i: 0,
            state: State::Init,
        }
    }

    /// The byte at `i`, with the virtual trailing newline of Prometheus text.
    fn at(&self, i: usize) -> Option<u8> {
        if i < self.b.len() {
            Some(self.b[i])
        } else if i < self.end {
            Some(b'\n')
        } else {
            None
        }
    }

    /// The current token's bytes (the virtual newline excluded).
    pub(crate) fn buf(&self) -> &'a [u8] {
        let e = self.i.min(self.b.len());
        &self.b[self.start.min(e)..e]
    }

    /// Advances while `f` holds; returns how many bytes were taken.
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let from = self.i;
        while let Some(c) = self.at(self.i) {
            if !f(c) {
                break;
            }
            self.i += 1;
        }
        self.i - from
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.b.get(self.i..).is_some_and(|r| r.starts_with(s))
    }

    /// An unmatched byte: one character (a whole UTF-8 sequence when valid) of `INVALID`.
    fn invalid(&mut self) -> Tok {
        let len = self
            .b
            .get(self.i..)
            .and_then(|r| {
                let n = r.len().min(4);
                (1..=n).find(|&k| std::str::from_utf8(&r[..k]).is_ok())
            })
            .unwrap_or(1);
        self.i = (self.i + len).min(self.end);
        Tok::Invalid
    }

    /// Scans a quoted string from `"`: `"(\\.|[^\\"])*"`, newlines allowed inside unless
    /// `no_newline`; `false` when it does not close.
    fn quoted(&mut self, no_newline: bool) -> bool {
        let mut j = self.i + 1;
        while let Some(c) = self.at(j) {
            match c {
                b'"' => {
                    self.i = j + 1;
                    return true;
                }
                b'\\' => match self.at(j + 1) {
                    Some(b'\n') | None => return false,
                    Some(_) => j += 2,
                },
                b'\n' if no_newline => return false,
                _ => j += 1,
            }
        }
        false
    }

    /// The next token.
    pub(crate) fn lex(&mut self) -> Tok {
        if self.i >= self.end {
            self.start = self.i;
            return Tok::Eof;
        }
        self.start = self.i;
        if self.openmetrics {
            self.lex_openmetrics()
        } else {
            self.lex_text()
        }
    }

    fn lex_text(&mut self) -> Tok {
        let Some(c) = self.at(self.i) else {
            return Tok::Eof;
        };
        // `<*>[ \t]+`, except where `{C}*` of a HELP text is longer.
        if (c == b' ' || c == b'\t') && self.state != State::Meta2 {
            self.take_while(|c| c == b' ' || c == b'\t');
            return Tok::Whitespace;
        }
        match self.state {
            State::Init => match c {
                0 => Tok::Eof,
                b'\n' => {
                    self.i += 1;
                    Tok::Linebreak
                }
                b'#' => {
                    self.i += 1;
                    if self.take_while(|c| c == b' ' || c == b'\t') > 0 {
                        self.state = State::Comment;
                        self.lex_text_comment()
                    } else {
                        self.consume_comment()
                    }
                }
                c if is_mname_start(c) => {
                    self.take_while(is_mname);
                    self.state = State::Value;
                    Tok::MName
                }
                _ => self.invalid(),
            },
            State::Comment => self.lex_text_comment(),
            State::Meta1 => {
                if is_mname_start(c) {
                    self.take_while(is_mname);
                    self.state = State::Meta2;
                    Tok::MName
                } else {
                    self.invalid()
                }
            }
            State::Meta2 => {
                let from = self.i;
                self.take_while(|c| c != b'\n');
                let r = &self.b[from..self.i.min(self.b.len())];
                if !r.is_empty() && r.iter().all(|&c| c == b' ' || c == b'\t') {
                    Tok::Whitespace
                } else {
                    self.state = State::Init;
                    Tok::Text
                }
            }
            State::Value => match c {
                b'{' => {
                    self.i += 1;
                    self.state = State::Labels;
                    Tok::BraceOpen
                }
                b'\n' => self.invalid(),
                _ => {
                    self.take_while(|c| !matches!(c, b'{' | b' ' | b'\t' | b'\n'));
                    self.state = State::Timestamp;
                    Tok::Value
                }
            },
            State::Labels => self.lex_label_token(State::Value),
            State::LValue => {
                if c == b'"' && self.quoted(false) {
                    self.state = State::Labels;
                    Tok::LValue
                } else {
                    self.invalid()
                }
            }
            State::Timestamp => match c {
                b'0'..=b'9' => {
                    self.take_while(|c| c.is_ascii_digit());
                    Tok::Timestamp
                }
                b'\n' => {
                    self.i += 1;
                    self.state = State::Init;
                    Tok::Linebreak
                }
                _ => self.invalid(),
            },
            State::Exemplar | State::EValue | State::ETimestamp => self.invalid(),
        }
    }

    /// After `#` and blanks: `HELP`/`TYPE` followed by blanks, else the rest of the line is
    /// a comment.
    fn lex_text_comment(&mut self) -> Tok {
        for (word, tok) in [(&b"HELP"[..], Tok::Help), (&b"TYPE"[..], Tok::Type)] {
            if self.starts_with(word) && matches!(self.at(self.i + word.len()), Some(b' ' | b'\t'))
            {
                self.i += word.len();
                self.take_while(|c| c == b' ' || c == b'\t');
                self.state = State::Meta1;
                return tok;
            }
        }
        self.consume_comment()
    }

    /// Takes the rest of the line (not its newline) as a comment. A NUL byte outside a
    /// `# ` comment ends the input, as in Prometheus.
    fn consume_comment(&mut self) -> Tok {
        let skip_nul = self.state == State::Comment;
        while let Some(c) = self.at(self.i) {
            match c {
                b'\n' => {
                    self.state = State::Init;
                    return Tok::Comment;
                }
                0 if !skip_nul => return Tok::Eof,
                _ => self.i += 1,
            }
        }
        Tok::Eof
    }

    /// Inside braces: a label name, `}`, `=` or `,` (`}` moves to `after_close`).
    fn lex_label_token(&mut self, after_close: State) -> Tok {
        let Some(c) = self.at(self.i) else {
            return Tok::Eof;
        };
        match c {
            c if is_lname_start(c) => {
                self.take_while(is_lname);
                Tok::LName
            }
            b'}' => {
                self.i += 1;
                self.state = after_close;
                Tok::BraceClose
            }
            b'=' => {
                self.i += 1;
                self.state = if self.state == State::Exemplar {
                    State::EValue
                } else {
                    State::LValue
                };
                Tok::Equal
            }
            b',' => {
                self.i += 1;
                Tok::Comma
            }
            _ => self.invalid(),
        }
    }

    /// `{S}[^ \n]+`: a space and a run of non-space bytes.
    fn spaced_word(&mut self) -> bool {
        if self.at(self.i) == Some(b' ')
            && matches!(self.at(self.i + 1), Some(c) if c != b' ' && c != b'\n')
        {
            self.i += 1;
            self.take_while(|c| c != b' ' && c != b'\n');
            true
        } else {
            false
        }
    }

    fn lex_openmetrics(&mut self) -> Tok {
        let Some(c) = self.at(self.i) else {
            return Tok::Eof;
        };
        match self.state {
            State::Init => match c {
                b'#' if self.at(self.i + 1) == Some(b' ') => {
                    self.i += 2;
                    self.state = State::Comment;
                    for (word, tok) in [
                        (&b"HELP "[..], Tok::Help),
                        (&b"TYPE "[..], Tok::Type),
                        (&b"UNIT "[..], Tok::Unit),
                    ] {
                        if self.starts_with(word) {
                            self.i += word.len();
                            self.state = State::Meta1;
                            return tok;
                        }
                    }
                    if self.starts_with(b"EOF") {
                        self.i += 3;
                        if self.at(self.i) == Some(b'\n') {
                            self.i += 1;
                        }
                        self.state = State::Init;
                        return Tok::EofWord;
                    }
                    self.invalid()
                }
                b'{' => {
                    self.i += 1;
                    self.state = State::Labels;
                    Tok::BraceOpen
                }
                c if is_mname_start(c) => {
                    self.take_while(is_mname);
                    self.state = State::Value;
                    Tok::MName
                }
                _ => self.invalid(),
            },
            State::Comment => self.invalid(),
            State::Meta1 => {
                if is_mname_start(c) {
                    self.take_while(is_mname);
                    self.state = State::Meta2;
                    Tok::MName
                } else {
                    self.invalid()
                }
            }
            State::Meta2 => {
                // `{S}{C}*\n`
                if c != b' ' {
                    return self.invalid();
                }
                let mut j = self.i + 1;
                while let Some(c) = self.at(j) {
                    if c == b'\n' {
                        self.i = j + 1;
                        self.state = State::Init;
                        return Tok::Text;
                    }
                    j += 1;
                }
                self.invalid()
            }
            State::Value => {
                if c == b'{' {
                    self.i += 1;
                    self.state = State::Labels;
                    Tok::BraceOpen
                } else if self.spaced_word() {
                    self.state = State::Timestamp;
                    Tok::Value
                } else {
                    self.invalid()
                }
            }
            State::Labels | State::Exemplar => {
                let after = if self.state == State::Labels {
                    State::Value
                } else {
                    State::EValue
                };
                self.lex_label_token(after)
            }
            State::LValue => {
                if c == b'"' && self.quoted(true) {
                    self.state = State::Labels;
                    Tok::LValue
                } else {
                    self.invalid()
                }
            }
            State::Timestamp => {
                if c == b'\n' {
                    self.i += 1;
                    self.state = State::Init;
                    Tok::Linebreak
                } else if self.starts_with(b" # {") {
                    self.i += 4;
                    self.state = State::Exemplar;
                    Tok::Comment
                } else if self.spaced_word() {
                    Tok::Timestamp
                } else {
                    self.invalid()
                }
            }
            State::EValue => {
                if c == b'"' && self.quoted(true) {
                    self.state = State::Exemplar;
                    Tok::LValue
                } else if self.spaced_word() {
                    self.state = State::ETimestamp;
                    Tok::Value
                } else {
                    self.invalid()
                }
            }
            State::ETimestamp => {
                if c == b'\n' {
                    self.i += 1;
                    self.state = State::Init;
                    Tok::Linebreak
                } else if self.spaced_word() {
                    Tok::Timestamp
                } else {
                    self.invalid()
                }
            }
        }
    }
}
