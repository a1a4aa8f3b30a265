//! A streamed response: the body is produced while it is sent, with the
//! chunked transfer coding. `curl -N localhost:3000/count/5`

use std::time::Duration;

use barehttp::{Config, Request, Response, Router, Server};

async fn count(req: Request) -> Response {
    let n: u32 = req
        .param("n")
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .min(100);
    let (response, tx) = Response::stream("text/plain; charset=utf-8");
    tokio::task::spawn_local(async move {
        for i in 1..=n {
            if tx.send(format!("{i}\n")).await.is_err() {
                return; // the client went away
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    response
}

fn main() -> std::io::Result<()> {
    let mut config = Config::default();
    config.addr.set_port(
        std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000),
    );
    let server = Server::bind(config, Router::new().get("/count/{n}", count))?;
    println!("listening on http://{}", server.local_addr());
    server.run()
}
