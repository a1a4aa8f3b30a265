//! An upload handler: streams each body to disk with bounded memory and
//! replies with its size. `curl --data-binary @big.iso localhost:3000/upload/big.iso`
//! Files land in `UPLOAD_DIR` (default: a directory in the system temp dir).

use std::path::PathBuf;

use barehttp::{Config, Request, Response, Router, Server};

async fn upload(mut req: Request) -> Response {
    let dir = req.state::<PathBuf>().expect("state is set").clone();
    let Some(name) = req
        .param("name")
        .filter(|n| !n.starts_with('.'))
        .map(str::to_owned)
    else {
        return Response::error(400, "a plain file name is needed");
    };
    let path = dir.join(&name);
    match req.body_mut().save(&path).await {
        Ok(_) => {
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            Response::text(format!("stored {name}: {size} bytes\n")).with_status(201)
        }
        Err(e) => e.into(),
    }
}

fn main() -> std::io::Result<()> {
    let dir = std::env::var_os("UPLOAD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("barehttp-uploads"));
    std::fs::create_dir_all(&dir)?;
    let mut config = Config::default();
    config.addr.set_port(
        std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000),
    );
    config.max_body_bytes = 4 << 30;
    let router = Router::new()
        .with_state(dir.clone())
        .post("/upload/{name}", upload);
    let server = Server::bind(config, router)?;
    println!(
        "listening on http://{}, storing into {}",
        server.local_addr(),
        dir.display()
    );
    server.run()
}
