//! Micro-benchmarks of the protocol layer in bytes per second: the head
//! parser (with httparse, the parser most Rust servers use, measured on the
//! same input), the chunked decoder and the response encoder.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use barehttp::proto::chunked::{ChunkedLimits, decode_all};
use barehttp::proto::encode::{ConnectionField, write_head};
use barehttp::proto::framing::ResponseBody;
use barehttp::proto::head::Fields;
use barehttp::proto::parse::{HeadLimits, Status, parse_head_into};

const SMALL: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost:4221\r\n\r\n";

const BROWSER: &[u8] = b"GET /files/assets/app.js?v=3 HTTP/1.1\r\n\
Host: example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: https://example.com/index.html\r\n\
Connection: keep-alive\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; lang=en\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: script\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Site: same-origin\r\n\
If-None-Match: \"5f3a-1a2b3c\"\r\n\
Cache-Control: max-age=0\r\n\r\n";

fn parsers(c: &mut Criterion) {
    let limits = HeadLimits {
        max_target_bytes: 8192,
        max_fields: 100,
    };
    for (name, input) in [("small", SMALL), ("browser", BROWSER)] {
        let mut group = c.benchmark_group(format!("parse/{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        // As the server parses, and as httparse is given its array: into
        // field storage the caller provides.
        group.bench_function("barehttp", |b| {
            b.iter(|| {
                let mut fields = Fields::new();
                match parse_head_into(black_box(input), &limits, &mut fields) {
                    Ok(Status::Complete(n, _)) => black_box((n, fields.len())),
                    other => panic!("{other:?}"),
                }
            })
        });
        group.bench_function("httparse", |b| {
            b.iter(|| {
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(black_box(input)) {
                    Ok(httparse::Status::Complete(n)) => black_box((n, req.headers.len())),
                    other => panic!("{other:?}"),
                }
            })
        });
        group.finish();
    }
}

fn chunked(c: &mut Criterion) {
    let mut body = Vec::new();
    for _ in 0..64 {
        body.extend_from_slice(b"400\r\n");
        body.extend_from_slice(&[b'x'; 1024]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let mut group = c.benchmark_group("chunked");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("decode 64 x 1 KiB", |b| {
        b.iter(|| black_box(decode_all(black_box(&body), ChunkedLimits::default()).unwrap()))
    });
    group.finish();
}

fn encoder(c: &mut Criterion) {
    let fields = [
        ("Content-Type", &b"text/plain"[..]),
        ("Vary", b"Accept-Encoding"),
    ];
    let mut out = BytesMut::with_capacity(4096);
    let mut group = c.benchmark_group("encode");
    out.clear();
    write_head(
        &mut out,
        200,
        ResponseBody::Length {
            len: 13,
            send: true,
        },
        ConnectionField::Omit,
        fields.iter().copied(),
    );
    group.throughput(Throughput::Bytes(out.len() as u64));
    group.bench_function("response head", |b| {
        b.iter(|| {
            out.clear();
            write_head(
                &mut out,
                black_box(200),
                ResponseBody::Length {
                    len: 13,
                    send: true,
                },
                ConnectionField::Omit,
                fields.iter().copied(),
            );
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, parsers, chunked, encoder);
criterion_main!(benches);
