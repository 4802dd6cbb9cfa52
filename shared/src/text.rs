//! Text made safe for where it is shown: HTML pages and mails, and the author's terminal.
//! A leaf: pages, mails, the store's reports and the CLI all use it.

/// Escape text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Characters that change how a terminal shows text rather than being text: controls
/// (C0, DEL, C1) and the Unicode bidi/formatting marks that can reorder a line.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `s` safe to print to a terminal: each hidden character shown escaped (`\u{1b}`), so
/// text stored before it was cleaned (or by another tool) cannot drive the terminal.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// A message (already in the reader's language) with `address`, which it contains, made
/// a `mailto:` link: the one way pages and mails link the shop's help address inside a
/// translated sentence; the rest of the text is escaped like any other value.
pub fn with_mailto(text: &str, address: &str) -> maud::Markup {
    match text.split_once(address) {
        Some((before, after)) => maud::html! {
            (before) a href={ "mailto:" (address) } { (address) } (after)
        },
        None => maud::html! { (text) },
    }
}
