//! Routing: method + path pattern → handler, with `{param}` and a trailing
//! `{*rest}`, and the automatic answers: 404, 405 with `Allow`, OPTIONS,
//! HEAD served by GET, and 501 for methods no route knows.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::proto::head::Method;
use crate::request::Request;
use crate::response::{IntoResponse, Response};

/// The future an async handler returns, boxed.
pub type BoxFuture = Pin<Box<dyn Future<Output = Response> + 'static>>;

/// What calling a handler gives: a response at once (no allocation), or a
/// future to await.
// Boxing the ready response would bring back the allocation this avoids.
#[allow(clippy::large_enum_variant)]
pub enum Reply {
    /// The response, ready.
    Ready(Response),
    /// A response still to come.
    Pending(BoxFuture),
}

/// Something that answers requests. Implemented for every
/// `Fn(Request) -> impl Future<Output = impl IntoResponse>`; wrap a plain
/// `Fn(Request) -> impl IntoResponse` in [`sync`] to answer without a
/// future.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn call(&self, req: Request) -> Reply;
}

impl<F, Fut, R> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + 'static,
    R: IntoResponse,
{
    fn call(&self, req: Request) -> Reply {
        let fut = self(req);
        Reply::Pending(Box::pin(async move { fut.await.into_response() }))
    }
}

/// A handler that answers without awaiting anything; see [`sync`].
#[derive(Debug, Clone, Copy)]
pub struct SyncHandler<F>(F);

/// Wraps a function that answers at once, sparing the per-request
/// allocation of a future.
///
/// ```
/// use barehttp::{Request, Router, sync};
/// let router = Router::new().get("/", sync(|_req: Request| "hello\n"));
/// ```
pub fn sync<F, R>(f: F) -> SyncHandler<F>
where
    F: Fn(Request) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    SyncHandler(f)
}

impl<F, R> Handler for SyncHandler<F>
where
    F: Fn(Request) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    fn call(&self, req: Request) -> Reply {
        Reply::Ready((self.0)(req).into_response())
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Segment {
    Literal(Box<str>),
    Param(Arc<str>),
    Rest(Arc<str>),
}

struct Route {
    pattern: Vec<Segment>,
    methods: Vec<(Method, Arc<dyn Handler>)>,
    /// Serves every method the route has no handler of its own for.
    any: Option<Arc<dyn Handler>>,
    /// State and stages of the router this route came from when nested.
    origin: Option<Arc<Context>>,
}

/// Shared application state, as handlers see it through `Request::state`.
pub(crate) type State = Arc<dyn Any + Send + Sync>;

/// What a router adds around its handlers: state, and the stages applied
/// to every response after the handler ran.
#[derive(Clone, Default)]
pub(crate) struct Context {
    pub state: Option<State>,
    /// Content-code compressible responses the client accepts.
    pub compress: bool,
    /// Fields added to every response that does not set them itself.
    pub headers: Vec<(Cow<'static, str>, bytes::Bytes)>,
}

/// Path parameters found by a match: name and byte range in the path.
pub(crate) type Params = crate::inline::InlineVec<(Option<Arc<str>>, (usize, usize)), 4>;

impl crate::inline::Blank for (Option<Arc<str>>, (usize, usize)) {
    const BLANK: Self = (None, (0, 0));
}

/// What the router found for a request.
pub(crate) enum Dispatch<'a> {
    Handler(&'a Arc<dyn Handler>, &'a [Segment], &'a Context),
    NotFound,
    MethodNotAllowed(String),
    Options(String),
    NotImplemented,
}

/// A table of routes.
///
/// ```
/// use barehttp::{Router, Request};
/// let router = Router::new()
///     .get("/hello/{name}", |req: Request| async move {
///         format!("hello {}", req.param("name").unwrap_or("?"))
///     });
/// ```
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
    context: Context,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.routes.len())
            .finish()
    }
}

impl Router {
    /// An empty router: every path is 404.
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds a handler for `method` on `pattern`.
    ///
    /// A pattern starts with `/`; a segment `{name}` matches one non-empty
    /// segment, a last segment `{*name}` matches the rest of the path
    /// (possibly empty). Patterns are written by the programmer, so a
    /// malformed one panics here, at start-up.
    pub fn route(mut self, method: Method, pattern: &str, handler: impl Handler) -> Router {
        self.entry(pattern)
            .methods
            .push((method, Arc::new(handler)));
        self
    }

    /// Adds a handler for every method on `pattern` (those without a
    /// handler of their own), unknown methods included.
    pub fn any(mut self, pattern: &str, handler: impl Handler) -> Router {
        self.entry(pattern).any = Some(Arc::new(handler));
        self
    }

    /// The route for `pattern`, made if there is none yet.
    fn entry(&mut self, pattern: &str) -> &mut Route {
        let segments = parse_pattern(pattern);
        let index = match self
            .routes
            .iter()
            .position(|r| same_pattern(&r.pattern, &segments))
        {
            Some(i) => i,
            None => {
                self.routes.push(Route {
                    pattern: segments,
                    methods: Vec::new(),
                    any: None,
                    origin: None,
                });
                self.routes.len() - 1
            }
        };
        &mut self.routes[index]
    }

    /// Shares `state` with every handler of this router, through
    /// [`Request::state`](crate::Request::state).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use barehttp::{Request, Router, sync};
    /// struct Hits(AtomicU64);
    /// let router = Router::new()
    ///     .with_state(Hits(AtomicU64::new(0)))
    ///     .get("/", sync(|req: Request| {
    ///         let hits = req.state::<Hits>().unwrap();
    ///         format!("{}\n", hits.0.fetch_add(1, Ordering::Relaxed) + 1)
    ///     }));
    /// ```
    pub fn with_state<T: Any + Send + Sync>(mut self, state: T) -> Router {
        self.context.state = Some(Arc::new(state));
        self
    }

    /// Compresses (gzip or Brotli, as the client accepts) the in-memory
    /// bodies of compressible types, 1 KiB or larger, that this router's
    /// handlers return. Off by default.
    pub fn compress(mut self, on: bool) -> Router {
        self.context.compress = on;
        self
    }

    /// Adds a field to every response of this router that does not set it.
    pub fn default_header(mut self, name: &'static str, value: impl Into<bytes::Bytes>) -> Router {
        self.context
            .headers
            .push((Cow::Borrowed(name), value.into()));
        self
    }

    /// Mounts `child` under `prefix`: its routes answer at `prefix` + their
    /// pattern and keep the child's state and stages.
    pub fn nest(mut self, prefix: &str, child: Router) -> Router {
        let prefix = prefix.trim_end_matches('/');
        let prefix = if prefix.is_empty() {
            Vec::new()
        } else {
            parse_pattern(prefix)
        };
        let origin = Arc::new(child.context);
        for mut route in child.routes {
            let mut pattern = prefix.clone();
            pattern.extend(route.pattern);
            route.pattern = pattern;
            route.origin = route.origin.or_else(|| Some(origin.clone()));
            self.routes.push(route);
        }
        self
    }

    /// Adds a GET handler (which serves HEAD too).
    pub fn get(self, pattern: &str, handler: impl Handler) -> Router {
        self.route(Method::Get, pattern, handler)
    }

    /// Adds a POST handler.
    pub fn post(self, pattern: &str, handler: impl Handler) -> Router {
        self.route(Method::Post, pattern, handler)
    }

    /// Adds a PUT handler.
    pub fn put(self, pattern: &str, handler: impl Handler) -> Router {
        self.route(Method::Put, pattern, handler)
    }

    /// Adds a DELETE handler.
    pub fn delete(self, pattern: &str, handler: impl Handler) -> Router {
        self.route(Method::Delete, pattern, handler)
    }

    /// Finds the handler for a method and a decoded path. The first route
    /// (in the order added) whose pattern matches decides: its handler for
    /// the method, else 405 with its methods.
    pub(crate) fn find(&self, method: &Method, path: &str) -> Dispatch<'_> {
        for route in &self.routes {
            // Parameters are captured only once a handler is chosen, into
            // the request itself: building them here and moving them along
            // cost three copies per request.
            if !match_path(&route.pattern, path, |_, _| {}) {
                continue;
            }
            if let Some(handler) = pick(route, method) {
                let context = route.origin.as_deref().unwrap_or(&self.context);
                return Dispatch::Handler(handler, &route.pattern, context);
            }
            if !self.knows(method) {
                return Dispatch::NotImplemented;
            }
            let allow = allow_list(route.methods.iter().map(|(m, _)| m));
            return if *method == Method::Options {
                Dispatch::Options(allow)
            } else {
                Dispatch::MethodNotAllowed(allow)
            };
        }
        if self.knows(method) {
            Dispatch::NotFound
        } else {
            Dispatch::NotImplemented
        }
    }

    /// The methods of every route, for `OPTIONS *`.
    pub(crate) fn allow_all(&self) -> String {
        allow_list(
            self.routes
                .iter()
                .flat_map(|r| r.methods.iter().map(|(m, _)| m)),
        )
    }

    /// True for the standard methods (a path that lacks one answers 405)
    /// and for any other method some route serves; the rest are 501.
    fn knows(&self, method: &Method) -> bool {
        match method {
            Method::Other(_) => self
                .routes
                .iter()
                .any(|r| r.methods.iter().any(|(m, _)| m == method)),
            _ => true,
        }
    }
}

fn pick<'a>(route: &'a Route, method: &Method) -> Option<&'a Arc<dyn Handler>> {
    let exact = route.methods.iter().find(|(m, _)| m == method);
    let head_as_get = || {
        (*method == Method::Head)
            .then(|| route.methods.iter().find(|(m, _)| *m == Method::Get))
            .flatten()
    };
    exact
        .or_else(head_as_get)
        .map(|(_, h)| h)
        .or(route.any.as_ref())
}

/// `GET, HEAD, POST, OPTIONS`: each method once, HEAD after GET, OPTIONS last.
fn allow_list<'a>(methods: impl Iterator<Item = &'a Method>) -> String {
    let mut list: Vec<&str> = Vec::new();
    for m in methods {
        let names: &[&str] = if *m == Method::Get {
            &["GET", "HEAD"]
        } else {
            &[m.as_str()]
        };
        for name in names {
            if !list.contains(name) && *name != "OPTIONS" {
                list.push(name);
            }
        }
    }
    list.push("OPTIONS");
    list.join(", ")
}

fn parse_pattern(pattern: &str) -> Vec<Segment> {
    assert!(
        pattern.starts_with('/'),
        "route pattern {pattern:?} must start with '/'"
    );
    let raw: Vec<&str> = pattern.split('/').skip(1).collect();
    let last = raw.len() - 1;
    raw.iter()
        .enumerate()
        .map(
            |(i, seg)| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if name.starts_with('*') => {
                    assert!(
                        i == last,
                        "{{*rest}} must be the last segment of {pattern:?}"
                    );
                    Segment::Rest(name[1..].into())
                }
                Some(name) => {
                    assert!(!name.is_empty(), "empty parameter name in {pattern:?}");
                    Segment::Param(name.into())
                }
                None => Segment::Literal((*seg).into()),
            },
        )
        .collect()
}

fn same_pattern(a: &[Segment], b: &[Segment]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Segment::Literal(x), Segment::Literal(y)) => x == y,
            (Segment::Param(x), Segment::Param(y)) | (Segment::Rest(x), Segment::Rest(y)) => x == y,
            _ => false,
        })
}

/// Byte-string equality without a `memcmp` call: path segments are
/// short, and the call was 4% of a pipelined request.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Whether a decoded path (which starts with `/`) matches `pattern`; each
/// parameter's name and byte range go to `capture` as they are found.
///
/// The path's segments are those of `path[1..].split('/')`, walked by
/// position: `pos` is where the next segment starts, and past the end
/// once the last one is taken. A literal is compared in place, so a
/// route that does not match usually fails at its first byte, without
/// the segment being measured first.
fn match_path(
    pattern: &[Segment],
    path: &str,
    mut capture: impl FnMut(&Arc<str>, (usize, usize)),
) -> bool {
    let bytes = path.as_bytes();
    let mut pos = 1; // after the leading '/'
    for seg in pattern {
        if pos > bytes.len() {
            return false;
        }
        let end = match seg {
            Segment::Rest(name) => {
                capture(name, (pos, bytes.len()));
                return true;
            }
            Segment::Literal(lit) => {
                let end = pos + lit.len();
                let found = bytes.get(pos..end).is_some_and(|s| same(s, lit.as_bytes()));
                if !found || !matches!(bytes.get(end), None | Some(b'/')) {
                    return false;
                }
                end
            }
            Segment::Param(name) => {
                let len = bytes[pos..].iter().position(|&b| b == b'/');
                let end = len.map_or(bytes.len(), |len| pos + len);
                if end == pos {
                    return false;
                }
                capture(name, (pos, end));
                end
            }
        };
        pos = end + 1;
    }
    pos > bytes.len()
}

/// Whether `pattern` has parameters to capture (a `{name}` or `{*rest}`).
pub(crate) fn has_params(pattern: &[Segment]) -> bool {
    pattern
        .iter()
        .any(|seg| !matches!(seg, Segment::Literal(_)))
}

/// The parameters of a path that matched `pattern` in [`Router::find`],
/// written straight into the request's own list.
pub(crate) fn capture_params(pattern: &[Segment], path: &str, params: &mut Params) {
    match_path(pattern, path, |name, span| {
        params.push((Some(name.clone()), span));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pattern: &str, path: &str) -> Option<Vec<String>> {
        let mut found = Vec::new();
        match_path(&parse_pattern(pattern), path, |_, (s, e)| {
            found.push(path[s..e].to_string())
        })
        .then_some(found)
    }

    /// The walk by position against matching read literally: the
    /// segments of `path[1..].split('/')`, one for each literal or
    /// parameter, a rest taking whatever is left.
    #[test]
    fn matching_agrees_with_splitting() {
        fn reference(pattern: &[Segment], path: &str) -> Option<Vec<(usize, usize)>> {
            let mut found = Vec::new();
            let mut pos = 1;
            let mut segments = path[1..].split('/');
            for seg in pattern {
                if let Segment::Rest(_) = seg {
                    if pos > path.len() {
                        return None;
                    }
                    found.push((pos, path.len()));
                    return Some(found);
                }
                let actual = segments.next()?;
                match seg {
                    Segment::Literal(lit) if **lit == *actual => {}
                    Segment::Param(_) if !actual.is_empty() => {
                        found.push((pos, pos + actual.len()))
                    }
                    _ => return None,
                }
                pos += actual.len() + 1;
            }
            segments.next().is_none().then_some(found)
        }
        let patterns = [
            "/",
            "/a",
            "/a/",
            "/ab",
            "/a/b",
            "/{x}",
            "/a/{x}",
            "/{x}/b",
            "/{x}/{y}",
            "/{*r}",
            "/a/{*r}",
            "/{x}/{*r}",
            "/a/b/{*r}",
        ];
        let paths = [
            "/", "//", "/a", "/a/", "/a//", "/ab", "/a/b", "/a/bc", "/a/b/", "/a/b/c", "/b/b",
            "/abc/b", "/é/b", "/a/é", "/x//y",
        ];
        for pattern in patterns {
            let pattern = parse_pattern(pattern);
            for path in paths {
                let mut ours = Vec::new();
                let matched = match_path(&pattern, path, |_, span| ours.push(span));
                let want = reference(&pattern, path);
                assert_eq!(matched.then_some(ours), want, "{pattern:?} {path:?}");
            }
        }
    }

    #[test]
    fn patterns_match() {
        assert_eq!(params("/", "/"), Some(vec![]));
        assert_eq!(params("/", "/x"), None);
        assert_eq!(params("/echo/{t}", "/echo/abc"), Some(vec!["abc".into()]));
        assert_eq!(params("/echo/{t}", "/echo/"), None);
        assert_eq!(params("/echo/{t}", "/echo/a/b"), None);
        assert_eq!(
            params("/files/{*p}", "/files/a/b c"),
            Some(vec!["a/b c".into()])
        );
        assert_eq!(params("/files/{*p}", "/files/"), Some(vec!["".into()]));
        assert_eq!(params("/files/{*p}", "/files"), None);
        assert_eq!(params("/user-agent", "/user-agent/"), None);
    }

    #[test]
    fn finds_handlers_and_answers_the_rest() {
        let r = Router::new()
            .get("/a", sync(|_req: Request| "a"))
            .post("/a", |_req: Request| async { "a" })
            .get("/b/{x}", |_req: Request| async { "b" });
        assert!(matches!(r.find(&Method::Get, "/a"), Dispatch::Handler(..)));
        assert!(matches!(
            r.find(&Method::Head, "/b/1"),
            Dispatch::Handler(..)
        ));
        assert!(matches!(r.find(&Method::Get, "/c"), Dispatch::NotFound));
        assert!(matches!(
            r.find(&Method::Put, "/a"),
            Dispatch::MethodNotAllowed(_)
        ));
        assert!(matches!(r.find(&Method::Put, "/zzz"), Dispatch::NotFound));
        assert!(matches!(
            r.find(&Method::from_token(b"BREW"), "/a"),
            Dispatch::NotImplemented
        ));
        match r.find(&Method::Post, "/b/1") {
            Dispatch::MethodNotAllowed(allow) => assert_eq!(allow, "GET, HEAD, OPTIONS"),
            _ => panic!("expected 405"),
        }
        match r.find(&Method::Options, "/a") {
            Dispatch::Options(allow) => assert_eq!(allow, "GET, HEAD, POST, OPTIONS"),
            _ => panic!("expected OPTIONS"),
        }
        assert_eq!(r.allow_all(), "GET, HEAD, POST, OPTIONS");
    }
}
