/*
 * The floor for bench/run.sh: the least an HTTP/1.1 server can do to answer
 * `GET /`. One thread, non-blocking sockets, level-triggered epoll,
 * TCP_NODELAY. Every complete request in the read buffer is answered and the
 * answers leave in one write (pipelining). `GET /` gets 200 with an empty
 * body, anything else 404; `Connection: close` (or HTTP/1.0 without
 * keep-alive) closes the connection after the reply.
 *
 * Not a general server: no request bodies beyond skipping Content-Length
 * bytes, no chunked requests (400), heads up to 8 KiB (431), no lingering
 * close, no timeouts.
 *
 * Build: cc -O2 -o epoll-peer epoll.c
 * Usage: epoll-peer [--host 127.0.0.1] [-p|--port 4222]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD 8192

struct buf {
    char *p;
    size_t off, len, cap; /* bytes [off, len) are pending */
};

struct conn {
    struct buf in, out;
    int open, closing;
};

static struct conn *conns;
static size_t nconns;
static int ep;
static char scratch[65536];     /* what one read() brings in */
static char batch[65536];       /* the answers to one read, written at once */
static size_t batch_len;
static char date[64] = "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
static time_t date_at = -1;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void refresh_date(void)
{
    time_t now = time(NULL);
    struct tm tm;
    if (now == date_at)
        return;
    date_at = now;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

static void buf_append(struct buf *b, const char *p, size_t n)
{
    if (b->off > 0 && b->len + n > b->cap) { /* slide the pending bytes down */
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        if (!(b->p = realloc(b->p, cap)))
            die("realloc");
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off == b->len) { /* empty: give the memory back (idle connections) */
        free(b->p);
        memset(b, 0, sizeof *b);
    }
}

static void watch(int fd, unsigned events, int op)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, op, fd, &ev) < 0)
        die("epoll_ctl");
}

static void drop(int fd)
{
    struct conn *c = &conns[fd];
    free(c->in.p);
    free(c->out.p);
    memset(c, 0, sizeof *c);
    close(fd); /* also removes it from the epoll set */
}

/* Writes what is pending; 0 when all is out, 1 when some must wait for
 * EPOLLOUT, -1 when the connection is gone. */
static int flush_out(int fd)
{
    struct conn *c = &conns[fd];
    if (batch_len) {
        if (c->out.len == c->out.off) { /* nothing queued: write the batch directly */
            size_t done = 0;
            while (done < batch_len) {
                ssize_t n = send(fd, batch + done, batch_len - done, MSG_NOSIGNAL);
                if (n > 0)
                    done += (size_t)n;
                else if (n < 0 && errno == EINTR)
                    continue;
                else if (n < 0 && errno == EAGAIN)
                    break;
                else {
                    batch_len = 0;
                    return -1;
                }
            }
            if (done < batch_len)
                buf_append(&c->out, batch + done, batch_len - done);
        } else {
            buf_append(&c->out, batch, batch_len);
        }
        batch_len = 0;
    }
    while (c->out.len > c->out.off) {
        ssize_t n = send(fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (n > 0)
            buf_consume(&c->out, (size_t)n);
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN)
            return 1;
        else
            return -1;
    }
    return 0;
}

static int emit(int fd, const char *p, size_t n)
{
    if (batch_len + n > sizeof batch && flush_out(fd) < 0)
        return -1;
    memcpy(batch + batch_len, p, n);
    batch_len += n;
    return 0;
}

static int reply(int fd, const char *status, int close_after)
{
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\n%sServer: epoll\r\nContent-Length: 0\r\n%s\r\n",
                     status, date, close_after ? "Connection: close\r\n" : "");
    if (close_after)
        conns[fd].closing = 1;
    return emit(fd, head, (size_t)n);
}

/* Does the comma-separated list [v, end) hold the token tok? */
static int has_token(const char *v, const char *end, const char *tok)
{
    size_t tl = strlen(tok);
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        const char *s = v;
        while (v < end && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0)
            return 1;
    }
    return 0;
}

/* Answers the complete requests at the start of [p, p + len); returns the
 * bytes used. A partial request is left for the next read. */
static size_t serve(int fd, const char *p, size_t len)
{
    size_t used = 0;
    while (used < len && !conns[fd].closing) {
        const char *req = p + used, *end = p + len;
        while (req + 1 < end && req[0] == '\r' && req[1] == '\n') /* stray empty lines */
            req += 2;
        const char *head_end = memmem(req, (size_t)(end - req), "\r\n\r\n", 4);
        if (!head_end) {
            if (end - req > MAX_HEAD) {
                reply(fd, "431 Request Header Fields Too Large", 1);
                return len;
            }
            return (size_t)(req - p);
        }
        /* request line: METHOD SP TARGET SP HTTP/1.x */
        const char *line_end = memmem(req, (size_t)(head_end + 2 - req), "\r\n", 2);
        const char *sp1 = memchr(req, ' ', (size_t)(line_end - req));
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
        if (!sp2 || line_end - sp2 - 1 != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
            (sp2[8] != '0' && sp2[8] != '1')) {
            reply(fd, "400 Bad Request", 1);
            return len;
        }
        int http10 = sp2[8] == '0', close_req = http10, bad = 0;
        size_t body = 0;
        /* header fields: only Connection, Content-Length, Transfer-Encoding matter */
        for (const char *l = line_end + 2; l < head_end + 2;) {
            const char *le = memmem(l, (size_t)(head_end + 2 - l), "\r\n", 2);
            const char *colon = memchr(l, ':', (size_t)(le - l));
            if (!colon) {
                bad = 1;
                break;
            }
            size_t nl = (size_t)(colon - l);
            if (nl == 10 && strncasecmp(l, "connection", 10) == 0) {
                if (has_token(colon + 1, le, "close"))
                    close_req = 1;
                else if (http10 && has_token(colon + 1, le, "keep-alive"))
                    close_req = 0;
            } else if (nl == 14 && strncasecmp(l, "content-length", 14) == 0) {
                const char *v = colon + 1;
                while (v < le && (*v == ' ' || *v == '\t'))
                    v++;
                if (v == le)
                    bad = 1;
                for (body = 0; v < le && *v >= '0' && *v <= '9'; v++)
                    body = body * 10 + (size_t)(*v - '0');
                while (v < le && (*v == ' ' || *v == '\t'))
                    v++;
                if (v != le || body > (1u << 20))
                    bad = 1;
            } else if (nl == 17 && strncasecmp(l, "transfer-encoding", 17) == 0) {
                bad = 1; /* chunked request bodies are not supported */
            }
            l = le + 2;
        }
        if (bad) {
            reply(fd, "400 Bad Request", 1);
            return len;
        }
        size_t total = (size_t)(head_end + 4 - req) + body;
        if ((size_t)(end - req) < total) /* the body is still on its way */
            return (size_t)(req - p);
        int root = sp1 - req == 3 && strncmp(req, "GET", 3) == 0 && sp2 - sp1 == 2 && sp1[1] == '/';
        if (reply(fd, root ? "200 OK" : "404 Not Found", close_req) < 0)
            return len;
        used = (size_t)(req - p) + total;
    }
    return conns[fd].closing ? len : used;
}

static void on_readable(int fd)
{
    struct conn *c = &conns[fd];
    for (;;) {
        ssize_t n = read(fd, scratch, sizeof scratch);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            drop(fd);
            return;
        }
        size_t used;
        if (c->in.len > c->in.off) { /* a partial request was waiting */
            buf_append(&c->in, scratch, (size_t)n);
            used = serve(fd, c->in.p + c->in.off, c->in.len - c->in.off);
            buf_consume(&c->in, used);
        } else {
            used = serve(fd, scratch, (size_t)n);
            if (used < (size_t)n)
                buf_append(&c->in, scratch + used, (size_t)n - used);
        }
        if (c->closing || (size_t)n < sizeof scratch)
            break;
        if (batch_len && flush_out(fd) != 0) /* stop reading while the client is not */
            break;
    }
    int r = flush_out(fd);
    if (r < 0 || (r == 0 && c->closing)) {
        drop(fd);
        return;
    }
    if (r == 1) /* wait until the client reads before reading more requests */
        watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
}

static void on_writable(int fd)
{
    struct conn *c = &conns[fd];
    int r = flush_out(fd);
    if (r < 0 || (r == 0 && c->closing))
        drop(fd);
    else if (r == 0)
        watch(fd, EPOLLIN, EPOLL_CTL_MOD);
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                perror("accept4"); /* EMFILE: the backlog waits for a free slot */
            return;
        }
        if ((size_t)fd >= nconns) {
            size_t n = nconns ? nconns : 1024;
            while (n <= (size_t)fd)
                n *= 2;
            if (!(conns = realloc(conns, n * sizeof *conns)))
                die("realloc");
            memset(conns + nconns, 0, (n - nconns) * sizeof *conns);
            nconns = n;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[fd].open = 1;
        watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 4222;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
            host = argv[++i];
        else if ((strcmp(argv[i], "-p") == 0 || strcmp(argv[i], "--port") == 0) && i + 1 < argc)
            port = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--host H] [-p|--port P]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "epoll-peer: --host must be an IPv4 address\n");
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (lfd < 0)
        die("socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind");
    if (listen(lfd, 4096) < 0)
        die("listen");
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1");
    watch(lfd, EPOLLIN, EPOLL_CTL_ADD);
    fprintf(stderr, "epoll-peer listening on http://%s:%d\n", host, port);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        refresh_date();
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd)
                on_accept(lfd);
            else if (!conns[fd].open)
                continue; /* dropped earlier in this round */
            else if (events[i].events & EPOLLOUT)
                on_writable(fd);
            else
                on_readable(fd);
        }
    }
}
