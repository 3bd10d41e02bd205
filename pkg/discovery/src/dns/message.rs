//! The DNS wire format (RFC 1035), only what DNS SD needs: one query out, the answer section
//! of the response in.
//!
//! ```text
//! header (12 bytes): id | flags (QR, RD, TC, RCODE) | qdcount | ancount | nscount | arcount
//! question:          name (labels) | qtype | qclass
//! answers:           name (labels or pointer) | type | class | ttl | rdlength | rdata
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

/// Record types DNS SD asks for or meets in answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Service location.
    Srv,
    /// Mail exchange.
    Mx,
    /// Name server.
    Ns,
}

impl RecordType {
    /// The record type's code on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::A => 1,
            Self::Ns => 2,
            Self::Mx => 15,
            Self::Aaaa => 28,
            Self::Srv => 33,
        }
    }

    /// Parses Prometheus's `type:` value (`A`, `AAAA`, `SRV`, `MX`, `NS`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "A" => Self::A,
            "AAAA" => Self::Aaaa,
            "SRV" => Self::Srv,
            "MX" => Self::Mx,
            "NS" => Self::Ns,
            _ => return None,
        })
    }
}

/// One decoded answer record; names keep their final dot as on the wire (`host.example.`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// An A record.
    A(Ipv4Addr),
    /// An AAAA record.
    Aaaa(Ipv6Addr),
    /// An SRV record's port and target.
    Srv {
        /// The port.
        port: u16,
        /// The target host name.
        target: String,
    },
    /// An MX record's exchange host.
    Mx(String),
    /// An NS record's name server.
    Ns(String),
    /// A CNAME record (skipped by DNS SD, as Prometheus does).
    Cname(String),
    /// Any other type, by code.
    Other(u16),
}

/// A decoded response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The query id echoed.
    pub id: u16,
    /// The TC bit: the answer did not fit in the UDP datagram.
    pub truncated: bool,
    /// The RCODE (0 success, 3 NXDOMAIN).
    pub rcode: u8,
    /// The answer section.
    pub answers: Vec<Record>,
}

/// RCODE of a successful answer.
pub const RCODE_SUCCESS: u8 = 0;
/// RCODE of a name that does not exist.
pub const RCODE_NAME_ERROR: u8 = 3;

/// Encodes a recursive query for `name` (made fully qualified), with an EDNS0 OPT record
/// advertising a 4096-byte UDP payload when `edns`.
pub fn encode_query(id: u16, name: &str, qtype: RecordType, edns: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&u16::from(edns).to_be_bytes());
    encode_name(&mut out, name)?;
    out.extend_from_slice(&qtype.code().to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // IN
    if edns {
        out.push(0); // root name
        out.extend_from_slice(&41u16.to_be_bytes()); // OPT
        out.extend_from_slice(&4096u16.to_be_bytes()); // UDP payload size
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
    }
    Ok(out)
}

/// Appends `name` as length-prefixed labels ending in the root label.
pub fn encode_name(out: &mut Vec<u8>, name: &str) -> Result<(), String> {
    let trimmed = name.trim_end_matches('.');
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!("invalid dns name {name:?}"));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() > 512 {
        return Err(format!("dns name too long {name:?}"));
    }
    Ok(())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or("dns message truncated")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn name(&mut self) -> Result<String, String> {
        let (name, end) = read_name(self.buf, self.pos)?;
        self.pos = end;
        Ok(name)
    }
}

/// Reads a possibly compressed name at `pos`; returns it (with a final dot) and the position
/// after it in the original stream.
fn read_name(buf: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *buf.get(pos).ok_or("dns name out of bounds")? as usize;
        if len & 0xC0 == 0xC0 {
            let lo = *buf.get(pos + 1).ok_or("dns pointer out of bounds")? as usize;
            if end.is_none() {
                end = Some(pos + 2);
            }
            jumps += 1;
            if jumps > 64 {
                return Err("dns name compression loop".into());
            }
            pos = ((len & 0x3F) << 8) | lo;
            continue;
        }
        if len & 0xC0 != 0 {
            return Err("unsupported dns label type".into());
        }
        if len == 0 {
            if name.is_empty() {
                name.push('.');
            }
            return Ok((name, end.unwrap_or(pos + 1)));
        }
        let label = buf
            .get(pos + 1..pos + 1 + len)
            .ok_or("dns label out of bounds")?;
        name.push_str(&String::from_utf8_lossy(label));
        name.push('.');
        pos += 1 + len;
        if name.len() > 255 {
            return Err("dns name too long".into());
        }
    }
}

/// Decodes a response's header and answer section.
pub fn decode_response(buf: &[u8]) -> Result<Response, String> {
    let mut r = Reader { buf, pos: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    if flags & 0x8000 == 0 {
        return Err("dns message is not a response".into());
    }
    let qd = r.u16()?;
    let an = r.u16()?;
    let _ns = r.u16()?;
    let _ar = r.u16()?;
    let truncated = flags & 0x0200 != 0;
    let rcode = (flags & 0x000F) as u8;
    for _ in 0..qd {
        r.name()?;
        r.take(4)?;
    }
    let mut answers = Vec::with_capacity(an as usize);
    for _ in 0..an {
        if truncated && r.pos >= buf.len() {
            break;
        }
        r.name()?;
        let rtype = r.u16()?;
        let _class = r.u16()?;
        r.take(4)?;
        let rdlen = r.u16()? as usize;
        let start = r.pos;
        let rdata = r.take(rdlen)?;
        let rec = match rtype {
            1 if rdlen == 4 => Record::A(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3])),
            28 if rdlen == 16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                Record::Aaaa(Ipv6Addr::from(b))
            }
            33 if rdlen >= 7 => {
                let port = u16::from_be_bytes([rdata[4], rdata[5]]);
                Record::Srv {
                    port,
                    target: read_name(buf, start + 6)?.0,
                }
            }
            15 if rdlen >= 3 => Record::Mx(read_name(buf, start + 2)?.0),
            2 => Record::Ns(read_name(buf, start)?.0),
            5 => Record::Cname(read_name(buf, start)?.0),
            1 | 28 | 33 | 15 => return Err(format!("malformed rdata of type {rtype}")),
            other => Record::Other(other),
        };
        answers.push(rec);
    }
    Ok(Response {
        id,
        truncated,
        rcode,
        answers,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn query_encodes_header_question_and_opt() {
        let q = encode_query(0xBEEF, "web.example", RecordType::Srv, true).unwrap();
        assert_eq!(&q[..4], &[0xBE, 0xEF, 0x01, 0x00]);
        assert_eq!(&q[4..12], &[0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&q[12..25], b"\x03web\x07example\x00");
        assert_eq!(&q[25..29], &[0, 33, 0, 1]);
        assert_eq!(q.len(), 29 + 11);
        assert!(encode_query(1, "a..b", RecordType::A, false).is_err());
    }

    #[test]
    fn decodes_compressed_srv_and_a_answers() {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03web\x07example\x00\x00\x21\x00\x01");
        // SRV answer with name pointer to offset 12 and target "a" + pointer.
        m.extend_from_slice(&[
            0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, 10, 0, 1, 0, 2, 0x1F, 0x90,
        ]);
        m.extend_from_slice(&[1, b'a', 0xC0, 16]);
        m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 7]);
        let r = decode_response(&m).unwrap();
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.rcode, RCODE_SUCCESS);
        assert!(!r.truncated);
        assert_eq!(
            r.answers,
            vec![
                Record::Srv {
                    port: 8080,
                    target: "a.example.".into()
                },
                Record::A(Ipv4Addr::new(10, 0, 0, 7))
            ]
        );
    }

    #[test]
    fn rejects_pointer_loops_and_short_messages() {
        let mut m = vec![0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
        assert!(decode_response(&m).is_err());
        assert!(decode_response(&[0, 1, 0x81]).is_err());
    }

    proptest::proptest! {
        /// Answers from the network never make the decoder panic.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = decode_response(&bytes);
        }

        /// A name encoded in a response's question and pointed at by an answer decodes back.
        #[test]
        fn names_round_trip(labels in proptest::collection::vec("[a-z0-9-]{1,20}", 1..6), port in 1u16..) {
            let name = format!("{}.", labels.join("."));
            let mut m = vec![0, 7, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
            encode_name(&mut m, &name).unwrap();
            m.extend_from_slice(&[0, 33, 0, 1]);
            let mut rdata = vec![0, 1, 0, 1];
            rdata.extend_from_slice(&port.to_be_bytes());
            encode_name(&mut rdata, &name).unwrap();
            m.extend_from_slice(&[0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 9]);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(&rdata);
            let r = decode_response(&m).unwrap();
            proptest::prop_assert_eq!(r.answers, vec![Record::Srv { port, target: name }]);
        }
    }
}
