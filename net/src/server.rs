//! Starting and stopping the shard threads.

use crate::config::ServerConfig;
use crate::event_loop::{unix_ms, EventLoop};
use crate::mesh::{self, Peer};
use socket2::{Domain, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long shutdown waits for in-flight replies before closing anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// State every shard reads; written rarely (connects, shutdown), so atomics.
pub struct Shared {
    pub config: ServerConfig,
    pub shutdown: AtomicBool,
    shutdown_at_ms: AtomicU64,
    pub drained_shards: AtomicUsize,
    pub clients: AtomicUsize,
    pub next_client_id: AtomicU64,
    pub started_ms: u64,
    pub port: u16,
    /// Subscriptions (channels and patterns, per client) each shard holds,
    /// so publishers skip shards where nobody listens.
    pub subscriptions: Vec<AtomicUsize>,
    pub persist: crate::persist_state::PersistState,
    peers: Vec<Peer>,
}

impl Shared {
    /// Begins a graceful shutdown of every shard.
    pub fn trigger_shutdown(&self) {
        if !self.shutdown.swap(true, Ordering::AcqRel) {
            self.shutdown_at_ms.store(unix_ms(), Ordering::Release);
            tracing::info!("shutting down");
        }
        for peer in &self.peers {
            peer.wake_now();
        }
    }

    pub fn shutdown_deadline_passed(&self) -> bool {
        let at = self.shutdown_at_ms.load(Ordering::Acquire);
        at != 0 && unix_ms() >= at + SHUTDOWN_GRACE.as_millis() as u64
    }
}

/// A running server: one event loop thread per shard.
pub struct ServerHandle {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<io::Result<()>>>,
}

/// Asks a running server to stop; cheap to clone and send to a signal thread.
#[derive(Clone)]
pub struct ShutdownTrigger {
    shared: Arc<Shared>,
}

impl ShutdownTrigger {
    /// Stop accepting, finish in-flight commands, close connections, return from `wait`.
    pub fn trigger(&self) {
        self.shared.trigger_shutdown();
    }
}

fn listener(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    // Every shard binds the same address; the kernel spreads connections.
    socket.set_reuse_port(true)?;
    socket.set_cloexec(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog as i32)?;
    Ok(socket.into())
}

impl ServerHandle {
    /// Binds the listeners (one per shard, SO_REUSEPORT) and starts the shards.
    /// Returns once every listener is bound, so clients can connect at once.
    pub fn start(config: ServerConfig) -> io::Result<ServerHandle> {
        let shards = config.shards.max(1);
        let mut addr = SocketAddr::new(config.bind, config.port);
        let mut listeners = Vec::with_capacity(shards);
        for _ in 0..shards {
            let l = listener(addr, config.backlog)?;
            // With port 0 the first bind picks the port the others share.
            addr.set_port(l.local_addr()?.port());
            listeners.push(l);
        }
        if let Some(persist) = &config.persist {
            crate::loading::prepare_data_dir(persist, shards)?;
        }
        let persistent = config.persist.is_some();
        let (mailboxes, peers) = mesh::build(shards)?;
        let shared = Arc::new(Shared {
            config: ServerConfig { shards, ..config },
            shutdown: AtomicBool::new(false),
            shutdown_at_ms: AtomicU64::new(0),
            drained_shards: AtomicUsize::new(0),
            clients: AtomicUsize::new(0),
            next_client_id: AtomicU64::new(1),
            started_ms: unix_ms(),
            port: addr.port(),
            subscriptions: (0..shards).map(|_| AtomicUsize::new(0)).collect(),
            persist: crate::persist_state::PersistState::new(shards, unix_ms(), persistent),
            peers: peers.clone(),
        });
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let mut threads = Vec::with_capacity(shards);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        for (id, (listener, mailbox)) in listeners.into_iter().zip(mailboxes).enumerate() {
            let shared = shared.clone();
            let peers = peers.clone();
            let core =
                (shared.config.pin_cores && !cores.is_empty()).then(|| cores[id % cores.len()]);
            let ready = ready_tx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("shard-{id}"))
                .spawn(move || {
                    if let Some(core) = core {
                        core_affinity::set_for_current(core);
                    }
                    match EventLoop::new(id, shared.clone(), listener, mailbox, peers) {
                        Ok(event_loop) => {
                            let _ = ready.send(Ok(()));
                            // A shard that panicked cannot be restarted in place:
                            // its keys and clients would be stranded while the
                            // other shards wait on it. Stop the process, loudly.
                            let run = std::panic::AssertUnwindSafe(|| event_loop.run());
                            let result = match std::panic::catch_unwind(run) {
                                Ok(result) => result,
                                Err(_) => {
                                    tracing::error!(shard = id, "shard panicked; aborting");
                                    std::process::abort();
                                }
                            };
                            if let Err(e) = &result {
                                tracing::error!(shard = id, "event loop failed: {e}");
                                shared.trigger_shutdown();
                            }
                            result
                        }
                        Err(e) => {
                            let _ = ready
                                .send(Err(io::Error::new(e.kind(), format!("shard {id}: {e}"))));
                            Err(e)
                        }
                    }
                })?;
            threads.push(thread);
        }
        for _ in 0..shards {
            let started = ready_rx
                .recv()
                .map_err(|_| io::Error::other("a shard thread died during start-up"))?;
            if let Err(e) = started {
                shared.trigger_shutdown();
                for t in threads {
                    let _ = t.join();
                }
                return Err(e);
            }
        }
        Ok(ServerHandle { shared, threads })
    }

    /// The RESP port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        ShutdownTrigger {
            shared: self.shared.clone(),
        }
    }

    /// Blocks until the server has shut down (signal via a trigger, or the SHUTDOWN command).
    pub fn wait(self) -> io::Result<()> {
        let mut result = Ok(());
        for t in self.threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("a shard thread panicked")),
            }
        }
        result
    }
}
