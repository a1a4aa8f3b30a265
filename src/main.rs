//! The `barehttp` binary: flags → config → server. Exit codes: 0 after a
//! graceful shutdown, 1 for a runtime failure, 2 for a usage error.

mod cli;

use std::process::ExitCode;

use barehttp::{Server, app, files, raise_fd_limit};
use clap::Parser;

fn main() -> ExitCode {
    let code = run();
    // Lines still queued for stdout and stderr; a destination nobody reads
    // does not hold the exit up for long.
    barehttp::output::drain(std::time::Duration::from_secs(2));
    code
}

fn run() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logger(cli.quiet, cli.verbose);
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(e) => {
            say(format_args!("barehttp: {e}"));
            // A missing or unusable directory is a runtime failure; the rest are usage errors.
            return if e.0.starts_with("directory") || e.0.contains("is not a directory") {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            };
        }
    };
    let wanted = config.max_connections as u64 + 64;
    let limit = raise_fd_limit(wanted);
    if limit < wanted {
        log::warn!(
            "open-file limit is {limit}, below --max-connections {}: connections past it will fail to be accepted",
            config.max_connections
        );
    }
    if let Some(root) = &config.root {
        let removed = files::clean_stale_uploads(root);
        if removed > 0 {
            log::info!("removed {removed} unfinished upload(s) left by an earlier run");
        }
    }
    let router = match app::router(&config) {
        Ok(router) => router,
        Err(e) => return fail(format_args!("cannot open the directory: {e}")),
    };
    let threads = config.threads;
    let root = config.root.clone();
    let server = match Server::bind(config.clone(), router) {
        Ok(server) => server,
        Err(e) => return fail(format_args!("cannot listen on {}: {e}", config.addr)),
    };
    log::info!(
        "listening on http://{} with {threads} worker(s)",
        server.local_addr()
    );
    match &root {
        Some(root) => log::info!(
            "files: {} at {}/{}{}",
            root.display(),
            config.files_at,
            if config.read_only { " (read-only)" } else { "" },
            if config.listing { "" } else { ", no listings" }
        ),
        None => log::info!("files: off (no --directory)"),
    }
    log::info!(
        "limits: {} connections, head {} B, {} fields, target {} B, body {} B; timeouts: header {:?}, keep-alive {:?}, body {:?}, write {:?}",
        config.max_connections,
        config.max_header_bytes,
        config.max_headers,
        config.max_target_bytes,
        config.max_body_bytes,
        config.header_timeout,
        config.keep_alive_timeout,
        config.body_timeout,
        config.write_timeout
    );
    let handle = server.shutdown_handle();
    if let Err(e) = watch_signals(handle) {
        return fail(format_args!("cannot install signal handlers: {e}"));
    }
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format_args!("{e}")),
    }
}

fn fail(message: std::fmt::Arguments<'_>) -> ExitCode {
    say(format_args!("barehttp: {message}"));
    ExitCode::from(1)
}

/// A line on stderr, through its own thread: a server whose stderr is a
/// pipe nobody reads must not stop when the pipe fills.
fn say(line: std::fmt::Arguments<'_>) {
    barehttp::output::stderr().write(format!("{line}\n").into_bytes());
}

/// SIGINT and SIGTERM start a graceful shutdown.
fn watch_signals(handle: barehttp::ShutdownHandle) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            runtime.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                log::info!("shutting down");
                handle.shutdown();
            });
        })?;
    Ok(())
}

/// Diagnostics on stderr: warnings always, start-up lines unless quiet.
fn init_logger(quiet: bool, verbose: u8) {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                say(format_args!(
                    "barehttp: {}: {}",
                    record.level().as_str().to_lowercase(),
                    record.args()
                ));
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(match (quiet, verbose) {
        (true, _) => log::LevelFilter::Warn,
        (false, 0) => log::LevelFilter::Info,
        (false, 1) => log::LevelFilter::Debug,
        (false, _) => log::LevelFilter::Trace,
    });
}
