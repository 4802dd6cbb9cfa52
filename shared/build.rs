//! Compiles every message catalog in `locales/` (one `LANG.ftl` per language) into the
//! crate, so adding a language is adding a file: no code names the languages.

use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-changed=locales");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    let mut catalogs: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("shared/locales/ exists")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let tag = path.file_name()?.to_str()?.strip_suffix(".ftl")?.to_owned();
            println!("cargo:rerun-if-changed={}", path.display());
            Some((tag, path.display().to_string()))
        })
        .collect();
    catalogs.sort();
    let mut code = String::from("/// (language tag, catalog text) for every `locales/*.ftl`.\n");
    code.push_str("pub(crate) static CATALOGS: &[(&str, &str)] = &[\n");
    for (tag, path) in &catalogs {
        writeln!(code, "    ({tag:?}, include_str!({path:?})),").expect("write to a String");
    }
    code.push_str("];\n");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("catalogs.rs");
    std::fs::write(out, code).expect("write catalogs.rs");
}
