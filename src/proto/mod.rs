//! The HTTP/1.1 protocol on bytes alone: parsing, framing, the chunked
//! coding and the response encoder. Nothing here touches a socket.

pub mod chunked;
pub mod date;
pub mod encode;
pub mod framing;
pub mod head;
pub mod parse;
pub mod target;
pub mod token;
