//! The plaintext path allocates nothing per request: a counting global
//! allocator watches the whole process while a kept-alive client, which
//! itself allocates nothing in the loop, sends requests.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwards the caller's layout to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Sends `request` `n` times on one connection, reading each 200 reply
/// into a fixed buffer.
fn hammer(s: &mut std::net::TcpStream, request: &[u8], reply_len: usize, n: usize) {
    let mut buf = [0u8; 4096];
    for _ in 0..n {
        s.write_all(request).unwrap();
        let mut got = 0;
        while got < reply_len {
            let n = s.read(&mut buf[got..]).unwrap();
            assert!(n > 0, "closed after {got} of {reply_len} bytes");
            got += n;
        }
        assert_eq!(got, reply_len, "one whole reply");
        assert_eq!(&buf[..12], b"HTTP/1.1 200");
    }
}

#[test]
fn plaintext_requests_do_not_allocate() {
    let mut cfg = common::config(None);
    cfg.threads = 1;
    let server = common::start(cfg);
    let mut s = common::connect(server.local_addr());
    for (request, reply_len) in [
        (&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..], 75),
        (
            &b"GET /echo/hello HTTP/1.1\r\nHost: a\r\nUser-Agent: bench\r\n\r\n"[..],
            129,
        ),
    ] {
        hammer(&mut s, request, reply_len, 200); // warm up: buffers, caches, timers
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        hammer(&mut s, request, reply_len, 2000);
        let per_request = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / 2000.0;
        eprintln!(
            "{:?}: {per_request:.3} allocations per request",
            String::from_utf8_lossy(&request[..12])
        );
        assert!(per_request < 0.05, "{per_request} allocations per request");
    }
}
