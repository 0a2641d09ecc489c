//! Serving the endpoint over TLS (optional: `http.tls.cert.location` and
//! `http.tls.key.location`, PEM files): rustls with the ring provider, one hyper HTTP/1.1
//! connection per accepted TLS stream. A failed handshake closes that connection only.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use weir_core::error::StreamsError;

/// A TLS acceptor for the certificate chain and private key in these PEM files.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, StreamsError> {
    let bad = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        StreamsError::Internal(format!(
            "state endpoint TLS: cannot read the {what} in {}: {e}",
            path.display()
        ))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("certificates", cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificates", cert, &e))?;
    if certs.is_empty() {
        return Err(bad("certificates", cert, &"no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("private key", key, &e))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
    .map_err(|e| StreamsError::Internal(format!("state endpoint TLS: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TLS connections on `listener` until `stopped` fires.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    router: Router,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            a = listener.accept() => a,
        };
        let Ok((tcp, peer)) = accepted else {
            continue;
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "state endpoint: TLS handshake failed");
                    return;
                }
            };
            let service = TowerToHyperService::new(router);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "state endpoint: connection ended");
            }
        });
    }
}
