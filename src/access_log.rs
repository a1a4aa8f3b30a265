//! The access log: one Common Log Format line per response on stdout,
//! gathered per worker thread and written when the connection would wait
//! anyway, so logging costs no lock and no write per request.

use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use crate::proto::date::clf_now;
use crate::proto::head::RequestHead;

/// Lines are written out once this much is gathered, even mid-batch.
const FLUSH_AT: usize = 8 * 1024;

thread_local! {
    static PENDING: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `METHOD target VERSION` of a request. The parser admits only visible
/// ASCII in the method and target, so nothing here can forge a log line.
pub fn request_line(head: &RequestHead) -> String {
    let target = String::from_utf8_lossy(head.target());
    format!("{} {} {}", head.method, target, head.version.as_str())
}

/// Records one response.
pub fn record(peer: SocketAddr, request_line: &str, status: u16, bytes: u64, _took: Duration) {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        let _ = writeln!(
            pending,
            "{} - - [{}] \"{}\" {} {}",
            peer.ip(),
            clf_now(),
            request_line,
            status,
            bytes
        );
        if pending.len() >= FLUSH_AT {
            write_out(&mut pending);
        }
    });
}

/// Writes out this thread's gathered lines.
pub fn flush() {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        if !pending.is_empty() {
            write_out(&mut pending);
        }
    });
}

fn write_out(pending: &mut Vec<u8>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(pending);
    let _ = out.flush();
    pending.clear();
}
