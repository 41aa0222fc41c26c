//! Listening and stopping. ECS sends SIGTERM when it stops a task (after the load balancer has
//! deregistered it); the server then stops accepting, finishes the requests in flight and exits 0.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use tokio::net::TcpListener;

/// Serves `router` on `0.0.0.0:port` until SIGTERM or SIGINT.
pub async fn serve(router: Router, port: u16, service: &str) -> std::io::Result<()> {
    serve_port(router, port, "PORT", service).await
}

/// [`serve`] for a port set by `variable` (named in the error when the port is taken).
pub async fn serve_port(
    router: Router,
    port: u16,
    variable: &str,
    service: &str,
) -> std::io::Result<()> {
    let address = SocketAddr::from(([0, 0, 0, 0], port));
    let listener = TcpListener::bind(address).await.map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("cannot listen on {address}: {error} (fix: set {variable} to a free port)"),
        )
    })?;
    tracing::info!(service, %address, "listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!(service, "stopped: in-flight requests finished");
    Ok(())
}

/// What a service's `main` ends with: [`serve`] until stopped (exit 0), or the reason it could not
/// serve, logged and on stderr (exit 1).
pub async fn run(router: Router, port: u16, service: &str) -> ExitCode {
    match serve(router, port, service).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            eprintln!("{service}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Like [`run`] for several listeners at once, each a router, its port and the variable that set
/// it: all stop together on SIGTERM; if one cannot serve, the process ends with its error (exit 1).
pub async fn run_all(listeners: Vec<(Router, u16, &'static str)>, service: &str) -> ExitCode {
    let mut servers = tokio::task::JoinSet::new();
    for (router, port, variable) in listeners {
        let service = service.to_string();
        servers.spawn(async move { serve_port(router, port, variable, &service).await });
    }
    while let Some(finished) = servers.join_next().await {
        let error = match finished {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error.to_string(),
            Err(error) => format!("a listener stopped: {error}"),
        };
        tracing::error!(%error, "server failed");
        eprintln!("{service}: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// A service that cannot start (a setting is wrong or missing): logged and on stderr, exit 2.
pub fn cannot_start(service: &str, error: &dyn std::fmt::Display) -> ExitCode {
    tracing::error!(%error, "cannot start");
    eprintln!("{service}: {error}");
    ExitCode::from(2)
}

/// Resolves on the first SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!(signal = "SIGINT", "shutting down"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}
