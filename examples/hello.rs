//! Hello world: `cargo run --example hello`, then `curl localhost:3000/hello/you`.
//! The port comes from `PORT` (default 3000).

use barehttp::{Config, Request, Router, Server, sync};

fn main() -> std::io::Result<()> {
    let mut config = Config::default();
    config.addr.set_port(
        std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000),
    );
    let router = Router::new()
        .get("/", sync(|_req: Request| "hello, world\n"))
        .get(
            "/hello/{name}",
            sync(|req: Request| format!("hello, {}\n", req.param("name").unwrap_or("you"))),
        );
    let server = Server::bind(config, router)?;
    println!("listening on http://{}", server.local_addr());
    server.run()
}
