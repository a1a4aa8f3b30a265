//! A small JSON API with shared state: a counter and a list of notes.
//!
//! ```text
//! curl localhost:3000/notes
//! curl -X POST --data-binary 'buy milk' localhost:3000/notes
//! curl localhost:3000/stats
//! ```

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use barehttp::{Config, Request, Response, Router, Server, sync};

#[derive(Default)]
struct Notes {
    items: Mutex<Vec<String>>,
    requests: AtomicU64,
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(req: Request) -> Response {
    let notes = req.state::<Notes>().expect("state is set");
    notes.requests.fetch_add(1, Ordering::Relaxed);
    let items = notes.items.lock().unwrap_or_else(|e| e.into_inner());
    let body: Vec<String> = items.iter().map(|n| json_string(n)).collect();
    Response::json(format!("[{}]\n", body.join(",")))
}

async fn add(mut req: Request) -> Response {
    let text = match req.body_mut().read_to_end(4096).await {
        Ok(body) => String::from_utf8_lossy(&body).into_owned(),
        Err(e) => return Response::error(e.status(), e.reason()),
    };
    let notes = req.state::<Notes>().expect("state is set");
    notes.requests.fetch_add(1, Ordering::Relaxed);
    let mut items = notes.items.lock().unwrap_or_else(|e| e.into_inner());
    items.push(text);
    Response::json(format!("{{\"id\":{}}}\n", items.len())).with_status(201)
}

fn stats(req: Request) -> Response {
    let notes = req.state::<Notes>().expect("state is set");
    let count = notes.items.lock().unwrap_or_else(|e| e.into_inner()).len();
    Response::json(format!(
        "{{\"notes\":{count},\"requests\":{}}}\n",
        notes.requests.load(Ordering::Relaxed)
    ))
}

fn main() -> std::io::Result<()> {
    let mut config = Config::default();
    config.addr.set_port(
        std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000),
    );
    let api = Router::new()
        .with_state(Notes::default())
        .default_header("Cache-Control", "no-store")
        .get("/notes", sync(list))
        .post("/notes", add)
        .get("/stats", sync(stats));
    let server = Server::bind(config, Router::new().nest("/", api))?;
    println!("listening on http://{}", server.local_addr());
    server.run()
}
