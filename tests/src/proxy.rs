//! [`Proxy`]: a TCP forwarder in front of a broker that a test can cut and restore, so a
//! worker sees its broker become unreachable (connections reset, new ones refused) and come
//! back, while the broker itself keeps its data (tansu's memory storage does not survive a
//! restart). The broker must advertise the proxy's address ([`crate::Broker::start_advertising`])
//! so that clients reconnect through it after bootstrap.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A cuttable forwarder from `127.0.0.1:port` to a target address.
pub struct Proxy {
    port: u16,
    target: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// Both ends of every live forwarded connection, to reset on a cut.
    live: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    /// Listens on `port` (a free port chosen by the caller) and forwards to `target`.
    ///
    /// # Panics
    /// When `port` cannot be bound.
    pub fn start(port: u16, target: SocketAddr) -> Proxy {
        let mut p = Proxy {
            port,
            target,
            shared: Arc::new(Shared::default()),
            acceptor: None,
        };
        p.open();
        p
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether it forwards now.
    pub fn is_open(&self) -> bool {
        self.acceptor.is_some()
    }

    /// Makes the broker unreachable: resets every forwarded connection and stops listening
    /// (a connect is refused) until [`Proxy::open`].
    pub fn cut(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it drops the listener.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
        let _ = acceptor.join();
        let live = std::mem::take(&mut *self.shared.live.lock().unwrap_or_else(|p| p.into_inner()));
        for s in live {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Listens and forwards again.
    ///
    /// # Panics
    /// When the port cannot be bound again within 10 s.
    pub fn open(&mut self) {
        if self.acceptor.is_some() {
            return;
        }
        let listener = bind_retrying(self.port);
        self.shared.stop.store(false, Ordering::SeqCst);
        let shared = self.shared.clone();
        let target = self.target;
        self.acceptor = Some(std::thread::spawn(move || {
            for conn in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                forward(&shared, client, server);
            }
        }));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

fn bind_retrying(port: u16) -> TcpListener {
    let mut last = None;
    for _ in 0..100 {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => return l,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("proxy cannot bind 127.0.0.1:{port}: {last:?}");
}

/// Copies bytes both ways on two threads; registers both sockets for a cut.
fn forward(shared: &Arc<Shared>, client: TcpStream, server: TcpStream) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
        client.try_clone(),
        server.try_clone(),
        client.try_clone(),
        server.try_clone(),
    ) else {
        return;
    };
    if let Ok(mut live) = shared.live.lock() {
        live.push(c3);
        live.push(s3);
    }
    std::thread::spawn(move || pipe(client, server));
    std::thread::spawn(move || pipe(s2, c2));
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
