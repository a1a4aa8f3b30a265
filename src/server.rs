//! Listeners, worker threads, the connection cap and graceful shutdown.
//!
//! Each worker is a thread with its own current-thread runtime and its own
//! `SO_REUSEPORT` listener, so workers share no lock and no accept queue.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::runtime::LocalOptions;
use tokio::sync::watch;

use crate::config::Config;
use crate::conn::park::Parking;
use crate::conn::{self, Shared};
use crate::router::Router;

/// Pending connections the kernel may queue per listener.
const BACKLOG: i32 = 4096;

/// After an accept error such as running out of file descriptors, wait
/// this long before accepting again instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// An HTTP/1.1 server: bound, not yet running.
///
/// ```no_run
/// use barehttp::{Config, Router, Server};
/// let router = Router::new().get("/", |_req| async { "hello\n" });
/// let server = Server::bind(Config::default(), router)?;
/// println!("listening on {}", server.local_addr());
/// server.run()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    listeners: Vec<TcpListener>,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    counter: Arc<AtomicUsize>,
    shutdown_tx: Arc<watch::Sender<bool>>,
}

/// Asks a running server to stop: no new connections, in-flight requests
/// finish (bounded by `shutdown_timeout`), then `run` returns.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    tx: Arc<watch::Sender<bool>>,
}

impl ShutdownHandle {
    /// Starts the graceful shutdown.
    pub fn shutdown(&self) {
        self.tx.send_replace(true);
    }
}

/// A server running on background threads; see [`Server::spawn`].
pub struct RunningServer {
    addr: SocketAddr,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to stop it.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Stops it and waits until every worker has finished.
    pub fn stop(mut self) -> io::Result<()> {
        self.handle.shutdown();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

impl Server {
    /// Binds `config.addr` with one listener per worker.
    ///
    /// A port already in use is an error, even one held by another process
    /// with `SO_REUSEPORT`: the address is first bound without it. For port
    /// 0 the port the kernel picked can be taken by another socket between
    /// that probe and the workers' listeners; then a new port is picked.
    pub fn bind(config: Config, router: Router) -> io::Result<Server> {
        let mut attempts = if config.addr.port() == 0 { 8 } else { 1 };
        let (listeners, addr) = loop {
            attempts -= 1;
            let (held, addr) = probe(config.addr)?;
            drop(held);
            match (0..config.threads.max(1))
                .map(|_| bind_listener(addr))
                .collect::<io::Result<Vec<_>>>()
            {
                Ok(listeners) => break (listeners, addr),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempts > 0 => continue,
                Err(e) => return Err(e),
            }
        };
        Server::with_listeners(listeners, addr, config, router)
    }

    /// Serves on a listener made elsewhere; every worker accepts from it.
    pub fn from_listener(
        listener: TcpListener,
        config: Config,
        router: Router,
    ) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let listeners = (0..config.threads.max(1))
            .map(|_| listener.try_clone())
            .collect::<io::Result<Vec<_>>>()?;
        Server::with_listeners(listeners, addr, config, router)
    }

    fn with_listeners(
        listeners: Vec<TcpListener>,
        addr: SocketAddr,
        config: Config,
        router: Router,
    ) -> io::Result<Server> {
        let (tx, _) = watch::channel(false);
        Ok(Server {
            listeners,
            local_addr: addr,
            shared: Arc::new(Shared::new(config, router)?),
            counter: Arc::new(AtomicUsize::new(0)),
            shutdown_tx: Arc::new(tx),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops the server from anywhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            tx: self.shutdown_tx.clone(),
        }
    }

    /// Runs until shut down, on one thread per listener.
    pub fn run(self) -> io::Result<()> {
        let Server {
            listeners,
            shared,
            counter,
            shutdown_tx,
            ..
        } = self;
        let workers: Vec<JoinHandle<io::Result<()>>> = listeners
            .into_iter()
            .enumerate()
            .map(|(i, listener)| {
                let worker = Worker {
                    shared: shared.clone(),
                    counter: counter.clone(),
                    shutdown: shutdown_tx.subscribe(),
                };
                std::thread::Builder::new()
                    .name(format!("barehttp-{i}"))
                    .spawn(move || worker.run(listener))
            })
            .collect::<io::Result<_>>()?;
        let mut result = Ok(());
        for worker in workers {
            match worker.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("worker thread panicked")),
            }
        }
        // The workers' last access log lines, when they go to stdout, are
        // out before the caller goes on (and perhaps exits).
        crate::output::drain(Duration::from_secs(2));
        result
    }

    /// Runs on background threads and returns at once.
    pub fn spawn(self) -> io::Result<RunningServer> {
        let addr = self.local_addr;
        let handle = self.shutdown_handle();
        let thread = std::thread::Builder::new()
            .name("barehttp".into())
            .spawn(move || self.run())?;
        Ok(RunningServer {
            addr,
            handle,
            thread: Some(thread),
        })
    }
}

struct Worker {
    shared: Arc<Shared>,
    counter: Arc<AtomicUsize>,
    shutdown: watch::Receiver<bool>,
}

/// Counts a connection against the cap for as long as it lives.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a worker's connection tasks share: nothing crosses workers but
/// the `Arc`s, and only the connection counter is written.
struct Local {
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    parking: Parking<Tickets>,
}

/// A connection's places in the server-wide and the worker's counts.
struct Tickets {
    _server: Slot,
    _worker: Slot,
}

/// Runs a connection on a task of its own; when it parks, the worker's
/// parked set holds it until its client speaks again.
fn spawn_connection(local: &Rc<Local>, start: conn::Start, tickets: Tickets) {
    let local = local.clone();
    let awake = conn::park::Awake::count();
    tokio::task::spawn_local(async move {
        let _awake = awake;
        let parked = conn::serve(start, local.shared.clone(), local.shutdown.clone()).await;
        if let Some(parked) = parked {
            local.parking.park(parked, tickets);
        }
    });
}

impl Worker {
    fn run(self, listener: TcpListener) -> io::Result<()> {
        // A local runtime: connection tasks stay on this thread, and are
        // scheduled by the runtime itself. (Under a `LocalSet` every wake
        // went through the set's own queue as well, and the future given
        // to `block_on` was polled again for each.) Access log lines
        // gathered on this thread are written out when it has nothing
        // left to do: one write per quiet moment rather than one per
        // request.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(crate::access_log::flush)
            .build_local(LocalOptions::default())?;
        // The accept loop is a task so that a panic in it comes back here
        // as an error.
        runtime.block_on(async {
            tokio::task::spawn_local(self.accept_loop(listener))
                .await
                .unwrap_or_else(|e| Err(io::Error::other(format!("accept loop failed: {e}"))))
        })
    }

    async fn accept_loop(mut self, listener: TcpListener) -> io::Result<()> {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let max = self.shared.config.max_connections;
        let active = Arc::new(AtomicUsize::new(0));
        let local = Rc::new(Local {
            shared: self.shared.clone(),
            shutdown: self.shutdown.clone(),
            parking: Parking::new()?,
        });
        // The Date value is refreshed by a timer each second rather than by
        // reading the clock for every response. The same tick writes out
        // the access log of a thread too busy to park.
        let ticker = tokio::task::spawn_local(async {
            loop {
                tokio::time::sleep(crate::proto::date::tick()).await;
                crate::access_log::flush();
            }
        });
        let parker = {
            let local = local.clone();
            let weak = Rc::downgrade(&local);
            tokio::task::spawn_local(async move {
                let resume = |parked, tickets| {
                    if let Some(local) = weak.upgrade() {
                        spawn_connection(&local, conn::Start::Resumed(parked), tickets);
                    }
                };
                local.parking.run(resume, local.shutdown.clone()).await;
            })
        };
        loop {
            if *self.shutdown.borrow() {
                break;
            }
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = self.shutdown.changed() => break,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => {
                    forget_assumed_readability(&pair.0);
                    pair
                }
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            if self.counter.fetch_add(1, Ordering::AcqRel) >= max {
                self.counter.fetch_sub(1, Ordering::AcqRel);
                tokio::task::spawn_local(conn::refuse_busy(stream));
                continue;
            }
            active.fetch_add(1, Ordering::AcqRel);
            let tickets = Tickets {
                _server: Slot(self.counter.clone()),
                _worker: Slot(active.clone()),
            };
            spawn_connection(&local, conn::Start::Accepted(stream, peer), tickets);
        }
        drop(listener);
        let grace = tokio::time::Instant::now() + self.shared.config.shutdown_timeout;
        while active.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < grace {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = parker.await;
        ticker.abort();
        crate::proto::date::stop_ticking();
        crate::access_log::flush();
        Ok(())
    }
}

/// tokio marks an accepted socket readable before the reactor says so,
/// betting that the client's first bytes came with the handshake. Under a
/// load of new connections they mostly had not: the first read failed for
/// nearly every connection, costing a system call and a trip through the
/// reactor. This clears that guess (without a system call), so the first
/// read waits for the reactor; a socket that already holds bytes is
/// reported at its next turn.
fn forget_assumed_readability(stream: &tokio::net::TcpStream) {
    let _ = stream.try_io(Interest::READABLE, || {
        Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
    });
}

/// Binds `addr` without `SO_REUSEPORT` and without listening; the address
/// comes back with the port the kernel picked. It fails if any socket
/// holds the port, one in a `SO_REUSEPORT` group included. It must not
/// listen: a client connecting in the moment before it is closed would be
/// queued on it, and closing it would reset that connection.
fn probe(addr: SocketAddr) -> io::Result<(Socket, SocketAddr)> {
    let socket = tcp_socket(addr)?;
    socket.bind(&addr.into())?;
    let bound = socket.local_addr()?.as_socket();
    let bound = bound.ok_or_else(|| io::Error::other("bound address is not an IP address"))?;
    Ok((socket, bound))
}

/// A TCP socket for `addr` with `SO_REUSEADDR`, not bound yet.
fn tcp_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    Ok(socket)
}

/// One worker's listener, in the `SO_REUSEPORT` group for `addr`.
fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = tcp_socket(addr)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Raises the soft limit on open files toward the hard limit so that
/// `wanted` connections fit; returns the soft limit now in force.
pub fn raise_fd_limit(wanted: u64) -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let current = getrlimit(Resource::Nofile);
    let soft = current.current.unwrap_or(u64::MAX);
    let hard = current.maximum.unwrap_or(u64::MAX);
    if soft >= wanted {
        return soft;
    }
    let target = wanted.min(hard);
    let new = Rlimit {
        current: Some(target),
        maximum: current.maximum,
    };
    match setrlimit(Resource::Nofile, new) {
        Ok(()) => target,
        Err(_) => soft,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_holds_the_port_without_accepting_connections() {
        let (held, addr) = probe("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(addr.port(), 0);
        let refused = std::net::TcpStream::connect(addr).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        drop(held);
    }

    #[test]
    fn the_probe_fails_on_a_port_another_reuse_port_group_holds() {
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let taken = listener.local_addr().unwrap();
        let err = probe(taken).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
