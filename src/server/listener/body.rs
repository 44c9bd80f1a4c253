//! How much of a request's body the front has passed on: so that a client that hangs up before
//! its body is complete is let go at once, while one that half-closes after sending its whole
//! request may still wait for the answer.

/// The end of a chunked body without trailers: the last, empty chunk.
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The body still to come, as the request head announced it.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyProgress {
    /// `Content-Length` (or no body): this many bytes still to come.
    Remaining(u64),
    /// `Transfer-Encoding: chunked`: the last bytes passed on, to see the last chunk's end.
    Chunked(Vec<u8>),
    /// A head the front cannot read (over-long, or an unreadable length): Rocket answers it,
    /// so it counts as complete.
    Unknown,
}

impl BodyProgress {
    /// What `head` (the bytes read up to and past the end of the request head) leaves to come.
    pub fn of(head: &[u8]) -> BodyProgress {
        let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
            return BodyProgress::Unknown;
        };
        let text = String::from_utf8_lossy(&head[..end]);
        let mut progress = BodyProgress::Remaining(0);
        for line in text.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
            {
                progress = BodyProgress::Chunked(Vec::new());
                break;
            }
            if name.eq_ignore_ascii_case("content-length") {
                progress = value
                    .parse()
                    .map_or(BodyProgress::Unknown, BodyProgress::Remaining);
            }
        }
        progress.saw(&head[end + 4..]);
        progress
    }

    /// Notes `bytes` of the body passed on to Rocket.
    pub fn saw(&mut self, bytes: &[u8]) {
        match self {
            BodyProgress::Remaining(n) => {
                let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                *n = n.saturating_sub(len);
            }
            BodyProgress::Chunked(tail) => {
                tail.extend_from_slice(bytes);
                let keep = tail.len().saturating_sub(LAST_CHUNK.len());
                tail.drain(..keep);
            }
            BodyProgress::Unknown => {}
        }
    }

    /// Whether the whole request has been passed on.
    pub fn complete(&self) -> bool {
        match self {
            BodyProgress::Remaining(n) => *n == 0,
            BodyProgress::Chunked(tail) => tail == LAST_CHUNK,
            BodyProgress::Unknown => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BodyProgress;

    #[test]
    fn a_body_is_complete_once_its_announced_length_has_passed() {
        let head = b"POST /api/auth/login HTTP/1.1\r\ncontent-length: 10\r\n\r\n{\"a\":";
        let mut body = BodyProgress::of(head);
        assert_eq!(body, BodyProgress::Remaining(5));
        assert!(!body.complete());
        body.saw(b"1}   ");
        assert!(body.complete());
        assert!(BodyProgress::of(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").complete());
    }

    #[test]
    fn a_chunked_body_is_complete_at_its_last_chunk() {
        let head = b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n3\r\nabc\r\n";
        let mut body = BodyProgress::of(head);
        assert!(!body.complete());
        body.saw(b"0\r\n");
        assert!(!body.complete());
        body.saw(b"\r\n");
        assert!(body.complete());
    }

    #[test]
    fn a_head_the_front_cannot_read_is_left_to_rocket() {
        assert!(BodyProgress::of(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").complete());
        assert!(BodyProgress::of(b"POST / HTTP/1.1\r\nHost: a-very-long-").complete());
    }
}
