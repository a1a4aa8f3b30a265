//! The full file server of the `barehttp` tool embedded in another
//! program, next to routes of its own: `cargo run --example file_server -- DIR`
//! serves DIR at `/` (listings, ranges, validators, codings, uploads) and
//! answers `/health` itself.

use std::sync::Arc;

use barehttp::files::{FileOptions, FileRoot, FileService};
use barehttp::{Config, Request, Router, Server, sync};

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let files = Arc::new(FileService::new(
        FileRoot::open(std::path::Path::new(&dir))?,
        FileOptions::default(),
    ));
    let get = files.clone();
    let router = Router::new()
        .get("/health", sync(|_req: Request| "ok\n"))
        .get("/{*path}", move |req: Request| {
            let files = get.clone();
            async move { files.get(&req).await }
        })
        .put("/{*path}", move |req: Request| {
            let files = files.clone();
            async move { files.store(req).await }
        });
    let mut config = Config::default();
    config.addr.set_port(
        std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000),
    );
    let server = Server::bind(config, router)?;
    println!("serving {dir} on http://{}", server.local_addr());
    server.run()
}
