//! `kiosk preview`: any page or mail a buyer sees, in any language, with sample data:
//! for an author adding or editing a language (README, "Languages"). Needs no shop.

use crate::samples::{self as preview, Rendered};
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use kiosk::i18n::Lang;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum What {
    /// A page (HTML).
    Page,
    /// A mail (subject and text; the HTML part with --html).
    Mail,
    /// The names of every page and mail.
    List,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// page, mail, or list.
    pub what: What,
    /// Which page or mail (see `kiosk preview list`), e.g. buy, download, purchase.
    pub name: Option<String>,
    /// The language, e.g. en or zh-CN (a catalog in shared/locales/).
    #[arg(long, default_value = "en")]
    pub lang: String,
    /// For a mail: print its HTML part instead of the subject and text.
    #[arg(long)]
    pub html: bool,
}

pub fn run(a: PreviewArgs) -> Result<()> {
    let Some(lang) = Lang::all().find(|l| l.tag().eq_ignore_ascii_case(&a.lang)) else {
        bail!(
            "no catalog for {:?}; the languages are {}",
            a.lang,
            Lang::all().map(Lang::tag).collect::<Vec<_>>().join(", ")
        );
    };
    let (kind, items) = match a.what {
        What::List => {
            let mut out = String::from("pages:\n");
            for p in preview::pages(lang) {
                out.push_str(&format!("  {}\n", p.name));
            }
            out.push_str("mails:\n");
            for m in preview::mails(lang) {
                out.push_str(&format!("  {}\n", m.name));
            }
            return print(&out);
        }
        What::Page => ("page", preview::pages(lang)),
        What::Mail => ("mail", preview::mails(lang)),
    };
    let Some(name) = a.name else {
        bail!("say which {kind}: `kiosk preview list` names them");
    };
    let Some(item) = items.into_iter().find(|r| r.name == name) else {
        bail!("no {kind} called {name:?}: `kiosk preview list` names them");
    };
    print(&render(&item, a.html))
}

/// Write to stdout; a reader that stops early (`| head`) is not an error.
fn print(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn render(r: &Rendered, html: bool) -> String {
    match (&r.subject, &r.text) {
        (Some(subject), Some(text)) if !html => format!("Subject: {subject}\n\n{text}"),
        _ => format!("{}\n", r.html),
    }
}
