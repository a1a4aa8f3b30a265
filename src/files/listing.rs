//! Directory listings: a plain HTML page (names escaped, directories first,
//! sortable by query) or JSON for `Accept: application/json`.

use std::fmt::Write;
use std::os::fd::OwnedFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Dir, FileType};

use super::TEMP_PREFIX;
use crate::text::json_string;

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name (lossily UTF-8).
    pub name: String,
    /// True for a directory.
    pub is_dir: bool,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Modification time.
    pub modified: SystemTime,
}

/// Reads the entries of an open directory. Temporary upload files are
/// left out; so are symlinks, whose targets might lie outside the root.
pub fn read_entries(dir: OwnedFd) -> std::io::Result<Vec<Entry>> {
    let mut reader = Dir::read_from(&dir)?;
    let mut entries = Vec::new();
    while let Some(entry) = reader.read() {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." || name.starts_with(TEMP_PREFIX) {
            continue;
        }
        let Ok(stat) = rustix::fs::statat(&dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
        else {
            continue;
        };
        let kind = FileType::from_raw_mode(stat.st_mode);
        if !matches!(kind, FileType::Directory | FileType::RegularFile) {
            continue;
        }
        let modified = UNIX_EPOCH + Duration::from_secs(stat.st_mtime.max(0) as u64);
        entries.push(Entry {
            name,
            is_dir: kind == FileType::Directory,
            size: if kind == FileType::Directory {
                0
            } else {
                stat.st_size as u64
            },
            modified,
        });
    }
    Ok(entries)
}

/// Sort key from the query: `sort=name|size|mtime`, `order=asc|desc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    key: Key,
    descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Name,
    Size,
    Modified,
}

impl Order {
    /// Reads the order from a query string; unknown values keep the default
    /// (by name, ascending).
    pub fn from_query(query: Option<&str>) -> Order {
        let mut order = Order {
            key: Key::Name,
            descending: false,
        };
        for pair in query.unwrap_or_default().split('&') {
            match pair {
                "sort=name" => order.key = Key::Name,
                "sort=size" => order.key = Key::Size,
                "sort=mtime" => order.key = Key::Modified,
                "order=desc" => order.descending = true,
                "order=asc" => order.descending = false,
                _ => {}
            }
        }
        order
    }

    /// Sorts directories first, then by the key.
    pub fn sort(self, entries: &mut [Entry]) {
        entries.sort_by(|a, b| {
            let by_key = match self.key {
                Key::Name => a.name.cmp(&b.name),
                Key::Size => a.size.cmp(&b.size).then_with(|| a.name.cmp(&b.name)),
                Key::Modified => a
                    .modified
                    .cmp(&b.modified)
                    .then_with(|| a.name.cmp(&b.name)),
            };
            let by_key = if self.descending {
                by_key.reverse()
            } else {
                by_key
            };
            b.is_dir.cmp(&a.is_dir).then(by_key)
        });
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(s: &str) -> String {
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

/// Percent-encodes one path segment for use in a URL.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The HTML page for a directory shown at `url_path` (decoded).
pub fn html(url_path: &str, entries: &[Entry]) -> String {
    let title = escape_html(url_path);
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em 1em;text-align:left}}\
         td.n{{text-align:right}}</style></head>\n<body><h1>Index of {title}</h1>\n<table>\n\
         <tr><th><a href=\"?sort=name\">Name</a></th><th><a href=\"?sort=size\">Size</a></th>\
         <th><a href=\"?sort=mtime\">Modified</a></th></tr>\n"
    );
    if url_path != "/" {
        page.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for e in entries {
        let slash = if e.is_dir { "/" } else { "" };
        let size = if e.is_dir {
            String::new()
        } else {
            human_size(e.size)
        };
        let _ = writeln!(
            page,
            "<tr><td><a href=\"{}{slash}\">{}{slash}</a></td><td class=\"n\">{size}</td><td>{}</td></tr>",
            encode_segment(&e.name),
            escape_html(&e.name),
            httpdate::fmt_http_date(e.modified)
        );
    }
    page.push_str("</table>\n</body></html>\n");
    page
}

/// The JSON listing: an array of `{"name","type","size","modified"}`, with
/// `modified` in seconds since the Unix epoch.
pub fn json(entries: &[Entry]) -> String {
    let mut out = String::from("[");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let secs = e
            .modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let _ = write!(
            out,
            "{{\"name\":{},\"type\":\"{}\",\"size\":{},\"modified\":{secs}}}",
            json_string(&e.name),
            if e.is_dir { "directory" } else { "file" },
            e.size
        );
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, is_dir: bool, size: u64, secs: u64) -> Entry {
        Entry {
            name: name.into(),
            is_dir,
            size,
            modified: UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    #[test]
    fn sorts_directories_first() {
        let mut e = vec![
            entry("b", false, 1, 3),
            entry("z", true, 0, 1),
            entry("a", false, 9, 2),
        ];
        Order::from_query(None).sort(&mut e);
        assert_eq!(
            e.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["z", "a", "b"]
        );
        Order::from_query(Some("sort=size&order=desc")).sort(&mut e);
        assert_eq!(
            e.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["z", "a", "b"]
        );
        Order::from_query(Some("sort=mtime")).sort(&mut e);
        assert_eq!(
            e.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["z", "a", "b"]
        );
        Order::from_query(Some("sort=mtime&order=desc")).sort(&mut e);
        assert_eq!(
            e.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["z", "b", "a"]
        );
    }

    #[test]
    fn escapes_names() {
        let page = html("/files/<x>/", &[entry("<script>\"&'.txt", false, 2048, 0)]);
        assert!(page.contains("&lt;script&gt;&quot;&amp;&#39;.txt"));
        assert!(page.contains("href=\"%3Cscript%3E%22%26%27.txt\""));
        assert!(!page.contains("<script>"));
        assert!(page.contains("2.0 KiB"));
        let j = json(&[entry("a\"b\n", true, 0, 5)]);
        assert_eq!(
            j,
            "[{\"name\":\"a\\\"b\\u000a\",\"type\":\"directory\",\"size\":0,\"modified\":5}]\n"
        );
    }
}
