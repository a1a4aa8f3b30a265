//! A connection's socket with its read and write buffers, and the only code
//! that reads from or writes to it. Every read has a deadline and every
//! write must make progress within the write timeout.

use std::fs::File;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, timeout, timeout_at};

use super::park::park_delay;
use crate::tick::Tick;
use crate::trace::Trace;

/// The read buffer's first size: a typical request head fits. Kept small
/// because many idle connections each hold one until it is released.
const FIRST_READ: usize = 2 * 1024;

/// How much spare room the read buffer gets when it runs low while a large
/// head (or a pipelined batch) is read. Bodies size their own reads (see
/// [`Io::read_body`]).
const READ_CHUNK: usize = 16 * 1024;

/// The most a body read asks for at once (see [`Io::read_body`]).
pub const BODY_READ_MAX: usize = 256 * 1024;

/// The write buffer's first size: a response head and a small body.
const FIRST_WRITE: usize = 512;

/// Bodies at most this long are copied behind their head so that both leave
/// in one write; longer ones are written straight from their own buffer.
pub const COALESCE_LIMIT: usize = 32 * 1024;

/// How much of a file [`Io::send_file`] sends while the socket is corked.
const CORKED_FILE_PIECE: u64 = 256 * 1024;

/// A socket and its buffers.
#[derive(Debug)]
pub struct Io {
    stream: TcpStream,
    /// Bytes received and not yet consumed.
    pub rbuf: BytesMut,
    /// Bytes to send, written out by [`Io::flush`].
    pub wbuf: BytesMut,
    write_timeout: Duration,
    /// The wire trace, when on.
    trace: Option<Box<Trace>>,
    /// How many writes the connection has made, for `TCP_NODELAY`.
    writes: Writes,
    /// The timer of idle waits (see [`Io::wait_idle`]), kept from one to
    /// the next.
    idle_timer: Option<Pin<Box<Sleep>>>,
    /// When the last read returned: every byte in `rbuf` had arrived by then.
    pub arrived: Tick,
    /// `rbuf` may be larger than heads need: a body's reads grew it. It is
    /// replaced before the next head is read (see [`Io::make_room`]).
    body_sized: bool,
}

/// How far a connection's writes have gone (see [`Io::before_write`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writes {
    None,
    One,
    /// Two or more, and `TCP_NODELAY` is on.
    Many,
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "timed out")
}

impl Io {
    /// Wraps an accepted stream. Its buffers are allocated at their first
    /// size here: growing an empty one costs more, and every connection
    /// reads and writes. Later, `reserve` on a buffer that was written out
    /// reuses its space.
    pub fn new(stream: TcpStream, write_timeout: Duration, trace: Option<Box<Trace>>) -> Io {
        Io {
            stream,
            rbuf: BytesMut::with_capacity(FIRST_READ),
            wbuf: BytesMut::with_capacity(FIRST_WRITE),
            write_timeout,
            trace,
            writes: Writes::None,
            idle_timer: None,
            arrived: Tick::UNKNOWN,
            body_sized: false,
        }
    }

    /// Records that the connection wrote before it parked and was woken.
    pub fn resumed(&mut self, wrote: bool) {
        if wrote {
            self.writes = Writes::One;
        }
    }

    /// Called before every write: turns Nagle's algorithm off before the
    /// second. A second short segment (a body after its head, the 100
    /// Continue's answer, a chunk, the next response) would otherwise wait
    /// for the ACK of the first, which the peer may delay by 40 ms. A
    /// connection that answers once in one write and closes never needs
    /// it, and so skips the system call.
    fn before_write(&mut self) {
        match self.writes {
            Writes::None => self.writes = Writes::One,
            Writes::One => {
                let _ = self.stream.set_nodelay(true);
                self.writes = Writes::Many;
            }
            Writes::Many => {}
        }
    }

    /// Takes the socket out of the runtime, dropping the buffers, so the
    /// connection can wait without a task. Only for an idle connection:
    /// nothing buffered either way.
    pub fn into_parts(self) -> io::Result<(std::net::TcpStream, Option<Box<Trace>>)> {
        debug_assert!(self.rbuf.is_empty() && self.wbuf.is_empty());
        Ok((self.stream.into_std()?, self.trace))
    }

    /// The trace, when tracing is on.
    pub fn trace(&mut self) -> Option<&mut Trace> {
        self.trace.as_deref_mut()
    }

    /// Records why the connection closes, for the trace.
    pub fn closing(&mut self, reason: &'static str) {
        if let Some(trace) = &mut self.trace {
            trace.closing(reason);
        }
    }

    /// Makes room for a response head in the write buffer.
    pub fn prepare_write(&mut self) {
        if self.wbuf.capacity() == 0 {
            self.wbuf.reserve(FIRST_WRITE);
        }
    }

    /// Flushes pending output, then reads more input before `deadline`.
    /// `Ok(0)` means the peer closed its side.
    pub async fn read_more(&mut self, deadline: Instant) -> io::Result<usize> {
        self.flush().await?;
        let before = self.make_room();
        // Not `try_read_buf` first: unlike `read_buf` it leaves the socket
        // marked readable after a short read, and the next idle wait would
        // then block in the read instead of parking.
        let read = timeout_at(deadline, self.stream.read_buf(&mut self.rbuf))
            .await
            .map_err(|_| timed_out())?;
        self.after_read(before, &read);
        read
    }

    /// Flushes pending output, then reads at most `want` more bytes of body
    /// before `deadline`, into a buffer with room for them. `Ok(0)` means
    /// the peer closed its side.
    ///
    /// Not [`Io::read_more`]: its room is sized for heads, and once a
    /// handler has let go of the pieces it was given, it takes back the
    /// same 2 KiB again and again: a 512 MiB upload took 265 000 reads and
    /// as many writes to its file, at 62 MB/s.
    pub async fn read_body(&mut self, deadline: Instant, want: usize) -> io::Result<usize> {
        self.flush().await?;
        if self.rbuf.capacity() - self.rbuf.len() < want && !self.rbuf.try_reclaim(want) {
            if self.rbuf.is_empty() {
                // Exactly the room asked for: `reserve` would double.
                self.rbuf = BytesMut::with_capacity(want);
            } else {
                self.rbuf.reserve(want);
            }
        }
        self.body_sized |= self.rbuf.capacity() > READ_CHUNK;
        let before = self.rbuf.len();
        let mut limited = (&mut self.stream).take(want as u64);
        let read = timeout_at(deadline, limited.read_buf(&mut self.rbuf))
            .await
            .map_err(|_| timed_out())?;
        self.after_read(before, &read);
        read
    }

    /// Makes room in the read buffer for the next read; returns where the
    /// new bytes will start. Below a quarter of `FIRST_READ` the buffer
    /// grows (to `READ_CHUNK` at least, for large heads). Below
    /// `FIRST_READ` the room in front of what is left is taken back, which
    /// allocates nothing and leaves a connection of one request with its
    /// small buffer; without it, a pipelined batch that came in one
    /// segment was sometimes read in two and answered in two writes (3%
    /// more segments each way under 16-deep pipelining). A buffer a body
    /// grew is first swapped for a small one.
    fn make_room(&mut self) -> usize {
        if self.body_sized && self.rbuf.len() < FIRST_READ {
            // A body's reads grew the buffer (see `read_body`): the next
            // requests get a small one again rather than keep the large
            // one for the rest of the connection.
            let mut small = BytesMut::with_capacity(FIRST_READ);
            small.extend_from_slice(&self.rbuf);
            self.rbuf = small;
            self.body_sized = false;
        }
        let room = self.rbuf.capacity() - self.rbuf.len();
        if self.rbuf.capacity() == 0 {
            self.rbuf.reserve(FIRST_READ);
        } else if room < FIRST_READ / 4 {
            self.rbuf.reserve(READ_CHUNK);
        } else if room < FIRST_READ {
            // Fails, harmlessly, while a handler still holds bytes of it.
            let _ = self.rbuf.try_reclaim(FIRST_READ);
        }
        self.rbuf.len()
    }

    /// Notes when a read that began at `before` returned, and tells the
    /// trace what it brought.
    fn after_read(&mut self, before: usize, read: &io::Result<usize>) {
        self.arrived = Tick::next();
        if let Some(trace) = &mut self.trace {
            match read {
                Ok(0) => trace.closing("client closed its side (EOF)"),
                Ok(_) => trace.received(&self.rbuf[before..]),
                Err(_) => trace.closing("read error"),
            }
        }
    }

    /// Writes out everything in the write buffer.
    pub async fn flush(&mut self) -> io::Result<()> {
        while !self.wbuf.is_empty() {
            self.before_write();
            let n = write_some(&mut self.stream, self.write_timeout, &self.wbuf).await;
            let n = self.traced_write(n, None)?;
            self.wbuf.advance(n);
        }
        Ok(())
    }

    /// Flushes, then writes `data` without copying it into the buffer.
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.flush().await?;
        while !data.is_empty() {
            self.before_write();
            let n = write_some(&mut self.stream, self.write_timeout, data).await;
            let n = self.traced_write(n, Some(data))?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Traces what a write took (from `data`, or from the write buffer).
    fn traced_write(
        &mut self,
        written: io::Result<usize>,
        data: Option<&[u8]>,
    ) -> io::Result<usize> {
        if let Some(trace) = &mut self.trace {
            match &written {
                Ok(n) => trace.sent(&data.unwrap_or(&self.wbuf)[..*n]),
                Err(_) => trace.closing("write failed or timed out"),
            }
        }
        written
    }

    /// Copies `len` bytes of `file` from `offset` into the write buffer, so a
    /// small file leaves in the same write as its head.
    pub fn append_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let start = self.wbuf.len();
        self.wbuf.resize(start + len, 0);
        let result = file.read_exact_at(&mut self.wbuf[start..], offset);
        if result.is_err() {
            self.wbuf.truncate(start);
        }
        result
    }

    /// Flushes, then sends `len` bytes of `file` from `offset` with
    /// `sendfile(2)`: the bytes go from the page cache to the socket.
    ///
    /// The socket is corked (`TCP_CORK`) while the head and the first
    /// [`CORKED_FILE_PIECE`] bytes go, so they leave in full segments
    /// rather than the head in a small one of its own: measured here, 1 MiB
    /// responses went from 2.0 to 3.7 GB/s. The rest is sent uncorked. Kept
    /// corked through a whole 1 MiB `sendfile`, the server's CPU per
    /// response doubled in about half of the runs, with as many segments
    /// sent (`bench/README.md`).
    pub async fn send_file(&mut self, file: &File, offset: u64, len: u64) -> io::Result<()> {
        let first = len.min(CORKED_FILE_PIECE);
        let _ = rustix::net::sockopt::set_tcp_cork(&self.stream, true);
        let result = self.send_file_range(file, offset, first).await;
        // Uncorking pushes out whatever is left at once.
        let _ = rustix::net::sockopt::set_tcp_cork(&self.stream, false);
        result?;
        if first < len {
            self.send_file_range(file, offset + first, len - first)
                .await?;
        }
        Ok(())
    }

    async fn send_file_range(&mut self, file: &File, mut offset: u64, len: u64) -> io::Result<()> {
        self.flush().await?;
        let end = offset + len;
        while offset < end {
            self.before_write();
            let count = (end - offset).min(1 << 30) as usize;
            let at = offset;
            let sent = timeout(
                self.write_timeout,
                self.stream.async_io(Interest::WRITABLE, || {
                    rustix::fs::sendfile(&self.stream, file, Some(&mut offset), count)
                        .map_err(io::Error::from)
                }),
            )
            .await
            .map_err(|_| timed_out())
            .and_then(|r| r);
            if let Some(trace) = &mut self.trace {
                match &sent {
                    Ok(n) => trace.sent_file(file, at, *n),
                    Err(_) => trace.closing("write failed or timed out"),
                }
            }
            let sent = sent?;
            if sent == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being sent",
                ));
            }
        }
        Ok(())
    }

    /// Ends the conversation politely: flushes, shuts down our sending side,
    /// then reads and discards what the peer still sends for a moment, so
    /// that unread input does not make the kernel reset the connection and
    /// destroy the last response before the peer has read it. A zero
    /// `linger` reads only what has already arrived, and closes without a
    /// separate shutdown (closing an emptied socket sends the same FIN):
    /// for a client that asked to close and may send nothing more.
    pub async fn close_gracefully(mut self, linger: Duration) {
        if self.flush().await.is_err() {
            return;
        }
        if linger.is_zero() {
            // Only what has already arrived is read, without waiting.
            let mut budget = 64;
            while budget > 0 {
                self.rbuf.clear();
                // The first read uses the buffer as it is: most clients
                // that ask to close have sent nothing more, and growing
                // it for them would cost an allocation and a copy.
                if budget < 64 || self.rbuf.capacity() == 0 {
                    self.rbuf.reserve(4096);
                }
                match self.stream.try_read_buf(&mut self.rbuf) {
                    Ok(n) if n > 0 => budget -= 1,
                    _ => return,
                }
            }
            return;
        }
        let _ = self.stream.shutdown().await;
        let deadline = Instant::now() + linger;
        // Read into the read buffer rather than a local array: the local
        // would live in every connection's future for its whole life.
        let mut budget = 256 * 1024usize;
        while budget > 0 {
            self.rbuf.clear();
            self.rbuf.reserve(4096);
            match timeout_at(deadline, self.stream.read_buf(&mut self.rbuf)).await {
                Ok(Ok(n)) if n > 0 => budget = budget.saturating_sub(n),
                _ => break,
            }
        }
    }

    /// Waits for the next request on an idle connection and reads it.
    /// `None` when the parking delay ([`park_delay`]) passed in silence
    /// (and the deadline did not): the connection should then park, giving
    /// up its task and buffers, so an idle connection costs almost nothing.
    /// `now` is when the wait began; what was to be sent has been flushed.
    pub async fn wait_idle(
        &mut self,
        now: Instant,
        deadline: Instant,
    ) -> io::Result<Option<usize>> {
        debug_assert!(self.wbuf.is_empty(), "the caller flushes before waiting");
        let park_at = now + park_delay();
        let wake_at = park_at.min(deadline);
        let before = self.make_room();
        // One timer serves every idle wait of a connection. It is moved
        // only when it would fire too late; when it fires early (armed
        // for an earlier wait) it is pushed forward then. Under steady
        // traffic it is re-armed about once per parking delay, not once per
        // request.
        let Io {
            stream,
            rbuf,
            idle_timer,
            ..
        } = self;
        let timer = match idle_timer {
            Some(timer) => {
                if timer.deadline() > wake_at {
                    timer.as_mut().reset(wake_at);
                }
                timer
            }
            None => idle_timer.insert(Box::pin(tokio::time::sleep_until(wake_at))),
        };
        // The read itself waits for the bytes (see `read_more` on why
        // `read_buf`); one that has not completed has taken nothing, so
        // giving it up when the timer ends the wait loses nothing.
        let mut read = std::pin::pin!(stream.read_buf(rbuf));
        let read = std::future::poll_fn(|cx| {
            loop {
                if let Poll::Ready(read) = read.as_mut().poll(cx) {
                    return Poll::Ready(Some(read));
                }
                match timer.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) if timer.deadline() >= wake_at => return Poll::Ready(None),
                    Poll::Ready(()) => timer.as_mut().reset(wake_at),
                }
            }
        })
        .await;
        let read = match read {
            Some(read) => read,
            None if park_at < deadline => return Ok(None),
            None => return Err(timed_out()),
        };
        self.after_read(before, &read);
        read.map(Some)
    }
}

/// One `write(2)` that must make progress within `limit`.
async fn write_some(stream: &mut TcpStream, limit: Duration, data: &[u8]) -> io::Result<usize> {
    // A socket with room takes the bytes at once: no clock read, no timer.
    let n = match stream.try_write(data) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => timeout(limit, stream.write(data))
            .await
            .map_err(|_| timed_out())??,
        written => written?,
    };
    if n == 0 {
        return Err(io::ErrorKind::WriteZero.into());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection's server side, its client, on a paused clock.
    async fn pair() -> (Io, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (Io::new(server, Duration::from_secs(5), None), client)
    }

    const LONG: Duration = Duration::from_secs(60);

    /// Room before reads: a buffer whose requests were taken off gets its
    /// room back without growing; one that runs out grows; one a handler
    /// still shares grows too rather than being written under it.
    #[tokio::test]
    async fn the_read_buffer_takes_back_its_room_and_grows_only_when_it_must() {
        let (mut io, _client) = pair().await;
        let batch = vec![b'x'; 700];
        // Two batches taken as requests are: split off and dropped.
        for _ in 0..2 {
            io.make_room();
            io.rbuf.extend_from_slice(&batch);
            drop(io.rbuf.split_to(batch.len()).freeze());
        }
        assert!(io.rbuf.capacity() < FIRST_READ);
        io.make_room();
        assert!(io.rbuf.capacity() >= FIRST_READ, "room for a whole batch");
        assert!(io.rbuf.capacity() < READ_CHUNK, "taken back, not grown");

        // A handler still holds what was split off: nothing is taken back.
        io.rbuf.extend_from_slice(&batch);
        io.rbuf.extend_from_slice(&batch);
        let held = io.rbuf.split_to(2 * batch.len()).freeze();
        io.make_room();
        assert!(io.rbuf.capacity() < FIRST_READ);
        assert_eq!(&held[..], &[batch.clone(), batch.clone()].concat()[..]);

        // Almost no room left: the buffer grows, for long heads.
        let rest = io.rbuf.capacity() - 100;
        io.rbuf.extend_from_slice(&vec![b'y'; rest]);
        drop(io.rbuf.split_to(rest));
        io.make_room();
        assert!(io.rbuf.capacity() >= READ_CHUNK);
    }

    /// A body read takes at most what it asks for, into a buffer no larger
    /// than the most a body read asks. The large buffer it leaves is
    /// swapped for a small one, its bytes kept, before the next head is
    /// read.
    #[tokio::test]
    async fn body_reads_take_what_they_ask_and_leave_no_large_buffer() {
        let (mut io, mut client) = pair().await;
        let body = vec![b'b'; 300 * 1024];
        let head = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
        let sent = [&body[..], &head[..]].concat();
        let writer = tokio::spawn(async move {
            client.write_all(&sent).await.unwrap();
            client
        });
        let deadline = Instant::now() + LONG;
        let (mut left, mut want, mut grew) = (body.len(), 4096, 0);
        while left > 0 {
            let n = io.read_body(deadline, want).await.unwrap();
            assert!(n > 0 && n <= want, "{n} bytes for {want} asked");
            assert!(io.rbuf.capacity() <= BODY_READ_MAX);
            let piece = io.rbuf.split_to(left.min(io.rbuf.len())).freeze();
            assert!(piece.iter().all(|&b| b == b'b'));
            left -= piece.len();
            if n == want && want < BODY_READ_MAX {
                want *= 2;
                grew += 1;
            }
        }
        assert!(grew >= 2, "a body sent at once is read in growing pieces");
        let _client = writer.await.unwrap();
        // Whatever of the head the last read took stays, in a small buffer.
        let before = io.rbuf.clone();
        io.make_room();
        assert!(io.rbuf.capacity() < READ_CHUNK, "a small buffer again");
        assert_eq!(io.rbuf, before);
        while io.rbuf.len() < head.len() {
            assert!(io.read_more(deadline).await.unwrap() > 0);
        }
        assert_eq!(&io.rbuf[..], &head[..]);
    }

    /// A connection after one idle wait that bytes already there ended at
    /// once, leaving its timer armed for the parking delay from `t0`.
    async fn after_one_wait() -> (Io, TcpStream, Instant) {
        let (mut io, mut client) = pair().await;
        client.write_all(b"GET").await.unwrap();
        let t0 = Instant::now();
        assert_eq!(io.wait_idle(t0, t0 + LONG).await.unwrap(), Some(3));
        assert_eq!(Instant::now(), t0, "the bytes were there: no time passed");
        (io, client, t0)
    }

    /// The timer a wait leaves armed fires early in the next one, which must
    /// then still last its whole parking delay.
    #[tokio::test(start_paused = true)]
    async fn a_timer_left_by_an_earlier_wait_does_not_cut_the_next_short() {
        let (mut io, _client, _) = after_one_wait().await;
        tokio::time::advance(Duration::from_millis(6)).await;
        let t1 = Instant::now();
        assert_eq!(io.wait_idle(t1, t1 + LONG).await.unwrap(), None, "parks");
        assert_eq!(Instant::now() - t1, super::super::park::PARK_AFTER);
    }

    /// An idle deadline sooner than the timer already armed moves it back.
    #[tokio::test(start_paused = true)]
    async fn an_idle_deadline_sooner_than_the_timer_ends_the_wait_on_time() {
        let (mut io, _client, t0) = after_one_wait().await;
        let soon = Duration::from_millis(3);
        let err = io.wait_idle(t0, t0 + soon).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(Instant::now() - t0, soon);
    }

    /// Bytes that come during a wait end it, whatever the timer.
    #[tokio::test(start_paused = true)]
    async fn bytes_arriving_end_an_idle_wait() {
        let (mut io, mut client) = pair().await;
        let t0 = Instant::now();
        let (read, ()) = tokio::join!(io.wait_idle(t0, t0 + LONG), async {
            tokio::time::sleep(Duration::from_millis(4)).await;
            client.write_all(b"GET / HTTP/1.1").await.unwrap();
        });
        assert_eq!(read.unwrap(), Some(14));
        assert_eq!(Instant::now() - t0, Duration::from_millis(4));
    }
}
