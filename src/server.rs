//! The HTTP server loop of `corpus serve`: accepts connections and serves the application on
//! them with hyper, adding what `axum::serve` lacks.
//!
//! - **Timeouts on every connection.** A client gets `HTTP_HEADER_TIMEOUT_SECONDS` to send a
//!   complete request head (counted from the connection's start, or from the first byte of a later
//!   request), a connection idle between requests is closed after
//!   `HTTP_KEEPALIVE_TIMEOUT_SECONDS`, and a request body that brings no data (or a response the
//!   client stops reading) for `HTTP_BODY_IDLE_TIMEOUT_SECONDS` cuts the connection. A per-connection
//!   watchdog enforces the first two and the response side; a wrapper around each request body
//!   enforces the body side, so the handler sees a failed read and cleans up what it had started
//!   (a stalled upload's spool file), and the client gets 408.
//! - **Readable early answers.** When a response goes out before its request body was read (413
//!   on a declared length, 401 on an upload, ...), the rest of the body is read and discarded, up
//!   to `REFUSED_BODY_DRAIN_BYTES` / `REFUSED_BODY_DRAIN_SECONDS`, before the connection may close.
//!   Closing a socket with unread data makes the kernel reset the connection, and a client that
//!   writes its whole body before reading (Python's `urllib`, streamed multipart) then sees
//!   `Broken pipe` instead of the answer.
//! - **Bounded graceful shutdown.** On the shutdown signal the listener closes, idle connections
//!   close, and in-flight requests get `SHUTDOWN_GRACE_SECONDS` to finish. Then every connection
//!   is dropped: handlers still reading a body see it fail and clean up; handlers already past
//!   their body (storing a file, writing its row) get [`ABANDON_WAIT`] more to finish.
//!
//! Each request runs in its own task. A handler is therefore never cancelled half-way because
//! its connection went away (an upload between storing its object and writing its row would
//! otherwise leave an orphan object); it runs to its end or to its own error path.

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::{ConnectInfo, Request},
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    time::{Instant, Sleep},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

use crate::{config::Config, error::status_detail};

/// How long handlers still running when the grace period ends get to reach their own end (clean
/// up a spool file, finish storing a file whose body had fully arrived) before the process exits
/// anyway. Short, because the orchestrator's kill timeout (30 s in the compose file) must cover
/// `SHUTDOWN_GRACE_SECONDS` plus this.
pub const ABANDON_WAIT: Duration = Duration::from_secs(5);

/// A body idle timer that fired this much before the reader came back was not being waited on.
const STALL_WAKE_TOLERANCE: Duration = Duration::from_secs(1);

/// Largest read buffer of one HTTP/1 connection (hyper's default lets it grow to ~400 KB). A body
/// chunk still held downstream pins its buffer, so a connection costs about twice this.
const CONNECTION_READ_BUFFER: usize = 16 * 1024;

/// The connection limits of the server, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to receive a complete request head.
    pub header_timeout: Duration,
    /// Time a connection may stay idle between requests.
    pub keepalive_timeout: Duration,
    /// Time a request body or a response may make no progress.
    pub body_idle_timeout: Duration,
    /// Time in-flight requests get after the shutdown signal.
    pub shutdown_grace: Duration,
    /// Bytes of an unread request body discarded after an early answer.
    pub drain_bytes: u64,
    /// Time spent at most discarding an unread request body.
    pub drain_time: Duration,
}

impl Limits {
    /// The limits set by `HTTP_*_TIMEOUT_SECONDS`, `SHUTDOWN_GRACE_SECONDS` and `REFUSED_BODY_DRAIN_*`.
    pub fn from_config(config: &Config) -> Self {
        Self {
            header_timeout: Duration::from_secs(config.http.http_header_timeout_seconds),
            keepalive_timeout: Duration::from_secs(config.http.http_keepalive_timeout_seconds),
            body_idle_timeout: Duration::from_secs(config.http.http_body_idle_timeout_seconds),
            shutdown_grace: Duration::from_secs(config.http.shutdown_grace_seconds),
            drain_bytes: config.http.refused_body_drain_bytes,
            drain_time: Duration::from_secs(config.http.refused_body_drain_seconds),
        }
    }
}

/// How a server run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every in-flight request finished within the grace period.
    Finished,
    /// The grace period ran out; the remaining requests were abandoned (their handlers reached
    /// their own end within [`ABANDON_WAIT`]).
    Abandoned,
    /// Even after [`ABANDON_WAIT`] some handlers were still running; they are dropped with the
    /// runtime.
    TimedOut,
}

/// State shared by the accept loop, the connections and the requests.
struct Shared {
    limits: Limits,
    /// Set on the shutdown signal: connections finish their current request, then close.
    draining: CancellationToken,
    /// Set when the grace period is over: connections are dropped, bodies fail.
    abort: CancellationToken,
    /// Connection tasks.
    connections: TaskTracker,
    /// Request handlers and body drains.
    requests: TaskTracker,
}

/// Serves `app` on `listener` until `shutdown` resolves, then shuts down within
/// `limits.shutdown_grace` + [`ABANDON_WAIT`].
pub async fn serve<S>(listener: TcpListener, app: S, limits: Limits, shutdown: impl Future<Output = ()>) -> Stopped
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let shared = Arc::new(Shared {
        limits,
        draining: CancellationToken::new(),
        abort: CancellationToken::new(),
        connections: TaskTracker::new(),
        requests: TaskTracker::new(),
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The watchdog below owns the head timeout (hyper's starts counting while a kept-alive
    // connection is idle, which would tie it to the keep-alive timeout).
    // The read buffer grows while reads fill it, up to ~400 KB by default: with a thousand slow
    // uploads that is most of the memory they cost. 16 KiB reads keep a connection small; a fast
    // upload only makes more (cheap) reads.
    builder.http1().header_read_timeout(None).keep_alive(true).max_buf_size(CONNECTION_READ_BUFFER);
    let builder = Arc::new(builder);

    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        // Responses are written whole by hyper; waiting for more data to coalesce only adds latency.
        let _ = stream.set_nodelay(true);
        let (app, task_shared, builder) = (app.clone(), shared.clone(), builder.clone());
        shared.connections.spawn(async move { serve_connection(stream, peer, app, task_shared, &builder).await });
    }
    drop(listener);
    shutdown_connections(&shared).await
}

/// An accept error: per-connection ones (the peer already left) are ignored, resource ones (out
/// of file descriptors) are logged and retried after a pause rather than stopping the server.
async fn accept_failed(error: io::Error) {
    match error.kind() {
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused => {}
        _ => {
            tracing::error!(error = %error, "accepting a connection failed");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Lets in-flight requests finish for the grace period, then abandons what is left.
async fn shutdown_connections(shared: &Shared) -> Stopped {
    shared.draining.cancel();
    shared.connections.close();
    shared.requests.close();
    let everything = async {
        shared.connections.wait().await;
        shared.requests.wait().await;
    };
    if tokio::time::timeout(shared.limits.shutdown_grace, everything).await.is_ok() {
        return Stopped::Finished;
    }
    tracing::warn!(
        connections = shared.connections.len(),
        requests = shared.requests.len(),
        "shutdown grace period over: abandoning in-flight requests"
    );
    shared.abort.cancel();
    if tokio::time::timeout(ABANDON_WAIT, shared.requests.wait()).await.is_ok() {
        Stopped::Abandoned
    } else {
        tracing::warn!(
            requests = shared.requests.len(),
            "handlers still running after the shutdown deadline: exiting anyway"
        );
        Stopped::TimedOut
    }
}

/// Serves one connection until it ends, times out, or is abandoned at shutdown.
async fn serve_connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    app: S,
    shared: Arc<Shared>,
    builder: &auto::Builder<TokioExecutor>,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(TrackedIo { inner: stream, activity: activity.clone() });
    let service = ConnectionService { app, peer, activity: activity.clone(), shared: shared.clone() };
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let deadline = activity.deadline(&shared.limits);
        let expired = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = activity.changed.notified() => {}
            () = expired => {
                if activity.deadline(&shared.limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%peer, "closing a connection that timed out");
                    return;
                }
            }
            () = shared.draining.cancelled(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = shared.abort.cancelled() => return,
        }
    }
}

/// What a connection is doing, for its watchdog.
struct Activity {
    state: Mutex<ActivityState>,
    /// Woken whenever a deadline may have moved.
    changed: tokio::sync::Notify,
}

struct ActivityState {
    /// Requests being served (from their head until both their body and their response are done).
    in_flight: usize,
    /// When the connection started waiting for its next request head.
    waiting_since: Instant,
    /// True until the first request head has arrived.
    first_request: bool,
    /// When the first byte of the awaited request head arrived.
    head_started: Option<Instant>,
    /// Since when the client has not taken any response bytes, while some are waiting.
    write_blocked_since: Option<Instant>,
}

impl Activity {
    fn new() -> Self {
        Self {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                waiting_since: Instant::now(),
                first_request: true,
                head_started: None,
                write_blocked_since: None,
            }),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ActivityState> {
        // The state holds plain values that are valid after any panic.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When the connection is to be closed if nothing changes.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let state = self.lock();
        if state.in_flight > 0 {
            // Request bodies have their own idle timer; handlers may work as long as they need.
            state.write_blocked_since.map(|since| since + limits.body_idle_timeout)
        } else if state.first_request {
            Some(state.waiting_since + limits.header_timeout)
        } else if let Some(started) = state.head_started {
            Some(started + limits.header_timeout)
        } else {
            Some(state.waiting_since + limits.keepalive_timeout)
        }
    }

    fn request_started(&self) {
        let mut state = self.lock();
        state.in_flight += 1;
        state.first_request = false;
        drop(state);
        self.changed.notify_one();
    }

    fn request_finished(&self) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.waiting_since = Instant::now();
            state.head_started = None;
        }
        drop(state);
        self.changed.notify_one();
    }

    fn bytes_read(&self) {
        let mut state = self.lock();
        if state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    fn write_blocked(&self) {
        let mut state = self.lock();
        if state.write_blocked_since.is_none() {
            state.write_blocked_since = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    fn write_progressed(&self) {
        let mut state = self.lock();
        if state.write_blocked_since.is_some() {
            state.write_blocked_since = None;
            drop(state);
            self.changed.notify_one();
        }
    }
}

/// Marks a request in flight on its connection while any clone of it is alive.
#[derive(Clone)]
struct InFlight {
    _token: Arc<InFlightToken>,
}

struct InFlightToken(Arc<Activity>);

impl InFlight {
    fn new(activity: Arc<Activity>) -> Self {
        activity.request_started();
        Self { _token: Arc::new(InFlightToken(activity)) }
    }
}

impl Drop for InFlightToken {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// The TCP stream, telling the watchdog when bytes arrive and when writes stall.
struct TrackedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl TrackedIo {
    fn track_write<T>(&self, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match &result {
            Poll::Pending => self.activity.write_blocked(),
            Poll::Ready(_) => self.activity.write_progressed(),
        }
        result
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read();
        }
        result
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.track_write(result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.track_write(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The per-connection hyper service: wraps the body, adds `ConnectInfo`, runs the handler in its
/// own task.
struct ConnectionService<S> {
    app: S,
    peer: SocketAddr,
    activity: Arc<Activity>,
    shared: Arc<Shared>,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for ConnectionService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::new(self.activity.clone());
        let stalled = Arc::new(AtomicBool::new(false));
        let expects_continue =
            request.headers().get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let (shared, idle) = (self.shared.clone(), self.shared.limits.body_idle_timeout);
        let (body_stalled, body_in_flight) = (stalled.clone(), in_flight.clone());
        let mut request = request.map(move |incoming| {
            Body::new(GuardedBody {
                ended: incoming.is_end_stream(),
                inner: Some(incoming),
                idle,
                stall: None,
                stalled: body_stalled,
                shared,
                polled: false,
                expects_continue,
                in_flight: Some(body_in_flight),
            })
        });
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let handler = self.shared.requests.spawn(self.app.clone().oneshot(request));
        let body_idle = self.shared.limits.body_idle_timeout;
        Box::pin(async move {
            let response = match handler.await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(e) => {
                    tracing::error!(error = %e, "request task failed");
                    status_detail(StatusCode::INTERNAL_SERVER_ERROR)
                }
            };
            // The handler's answer to a body that stopped arriving is whatever its failed read
            // became (a multipart error, ...); the truth is a timeout.
            let response = if stalled.load(Ordering::Acquire) {
                tracing::info!(seconds = body_idle.as_secs(), "request body stalled: answering 408");
                request_timeout(response)
            } else {
                response
            };
            Ok(response.map(|inner| Body::new(TrackedBody { inner, _in_flight: in_flight })))
        })
    }
}

/// `response` turned into a 408, keeping the headers the layers added (request id, CORS).
fn request_timeout(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    let (timeout, body) = status_detail(StatusCode::REQUEST_TIMEOUT).into_parts();
    parts.status = timeout.status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(timeout.headers);
    parts.headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    Response::from_parts(parts, body)
}

/// A request body that fails when no data arrives for the body idle timeout, and whose unread
/// rest is drained when it is dropped early.
struct GuardedBody {
    inner: Option<Incoming>,
    idle: Duration,
    /// Armed while the reader waits for data.
    stall: Option<Pin<Box<Sleep>>>,
    stalled: Arc<AtomicBool>,
    shared: Arc<Shared>,
    /// The body was read to its end (or failed): nothing to drain.
    ended: bool,
    polled: bool,
    expects_continue: bool,
    in_flight: Option<InFlight>,
}

/// Why a request body failed.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("no request body data arrived for {0:?}")]
    Stalled(Duration),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Connection(#[from] hyper::Error),
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        this.polled = true;
        let Some(inner) = this.inner.as_mut().filter(|_| !this.ended) else { return Poll::Ready(None) };
        if this.shared.abort.is_cancelled() {
            this.ended = true;
            return Poll::Ready(Some(Err(BodyError::ShuttingDown)));
        }
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.stall = None;
                this.ended = this.inner.as_ref().is_none_or(HttpBody::is_end_stream);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.ended = true;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let (idle, now) = (this.idle, Instant::now());
                let stall = this.stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if stall.deadline() + STALL_WAKE_TOLERANCE < now {
                    // The timer ran out while the reader was busy elsewhere, not waiting here:
                    // data sent meanwhile is read from the socket only now that the body is
                    // polled again, so this is no evidence of a stalled client. Start over.
                    stall.as_mut().reset(now + idle);
                }
                ready!(stall.as_mut().poll(cx));
                this.ended = true;
                this.stalled.store(true, Ordering::Release);
                Poll::Ready(Some(Err(BodyError::Stalled(idle))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Some(inner) if !self.ended => inner.size_hint(),
            _ => SizeHint::with_exact(0),
        }
    }
}

impl Drop for GuardedBody {
    fn drop(&mut self) {
        let Some(incoming) = self.inner.take() else { return };
        if self.ended || incoming.is_end_stream() || self.shared.abort.is_cancelled() {
            return;
        }
        // A client that asked to be told before sending its body and was never told sends nothing.
        if self.expects_continue && !self.polled {
            return;
        }
        let limits = self.shared.limits;
        // A body declared longer than the drain bound cannot be drained: close at once.
        if incoming.size_hint().lower() > limits.drain_bytes {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let drain = drain(incoming, limits, self.idle, self.shared.abort.clone(), self.in_flight.take());
        self.shared.requests.spawn_on(drain, &runtime);
    }
}

/// Reads and discards the rest of a request body, within the drain bounds, so that the
/// connection can close (or be reused) without resetting a client that is still sending.
async fn drain(
    mut body: Incoming,
    limits: Limits,
    idle: Duration,
    abort: CancellationToken,
    _in_flight: Option<InFlight>,
) {
    let deadline = Instant::now() + limits.drain_time;
    let mut drained: u64 = 0;
    loop {
        let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        let wait_until = deadline.min(Instant::now() + idle);
        let frame = tokio::select! {
            frame = tokio::time::timeout_at(wait_until, next) => frame,
            () = abort.cancelled() => return,
        };
        match frame {
            Ok(Some(Ok(frame))) => {
                drained += frame.data_ref().map_or(0, |d| d.len() as u64);
                if drained > limits.drain_bytes {
                    tracing::debug!(drained, "unread request body over the drain bound: closing");
                    return;
                }
            }
            Ok(None) => {
                tracing::debug!(drained, "unread request body drained");
                return;
            }
            Ok(Some(Err(_))) | Err(_) => return,
        }
    }
}

/// A response body that keeps its request in flight until hyper is done with it.
struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
