//! What the Rust peers share: their command line, which file paths they
//! serve, and the content type of a file. Included by each peer with
//! `#[path]`, since each is a workspace of its own.

// Each peer uses only some of it.
#![allow(dead_code)]

use std::path::PathBuf;

pub struct Args {
    pub host: String,
    pub port: u16,
    pub directory: Option<PathBuf>,
}

/// `[--host H] [-p|--port P] [-d|--directory DIR]`; `program` names the
/// peer in the usage line.
pub fn parse_args(program: &str) -> Result<Args, String> {
    let mut args = Args {
        host: "127.0.0.1".into(),
        port: 4222,
        directory: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--host" => args.host = value()?,
            "-p" | "--port" => {
                args.port = value()?.parse().map_err(|e| format!("--port: {e}"))?;
            }
            "-d" | "--directory" => args.directory = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!("usage: {program} [--host H] [-p|--port P] [-d|--directory DIR]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// No absolute paths, no `..`/`.`/empty components, no backslashes or NULs.
pub fn safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.contains(['\\', '\0'])
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// The `Content-Type` field line of a file, by its extension.
pub fn content_type_line(rel: &str) -> &'static str {
    match rel.rsplit_once('.').map(|(_, ext)| ext) {
        Some("txt") => "Content-Type: text/plain",
        Some("html") => "Content-Type: text/html",
        _ => "Content-Type: application/octet-stream",
    }
}

/// The content type of a file, by its extension.
pub fn content_type(rel: &str) -> &'static str {
    &content_type_line(rel)["Content-Type: ".len()..]
}
