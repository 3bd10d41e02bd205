//! Shared pieces of Strata's fuzz targets: the byte layout the `remote_write` target reads
//! an HTTP push from, so the seed generator (`examples/gen_seeds.rs`) writes inputs the
//! target parses the same way.
//!
//! The targets themselves live in `fuzz_targets/`, one binary each; `scripts/fuzz.sh` builds
//! and runs them.

/// Flag bits of the first byte of a `remote_write` input.
pub mod flags {
    /// Low two bits: which `Content-Type` the request carries (see [`content_type`]).
    pub const CONTENT_TYPE_MASK: u8 = 0b11;
    /// `Content-Encoding: snappy`.
    pub const ENCODING_SNAPPY: u8 = 1 << 2;
    /// `Content-Encoding: <header bytes>` (wins over [`ENCODING_SNAPPY`]).
    pub const ENCODING_CUSTOM: u8 = 1 << 3;
    /// `X-Scope-OrgID: <header bytes>`.
    pub const ORG_ID: u8 = 1 << 4;
    /// `Authorization: <header bytes>`.
    pub const AUTHORIZATION: u8 = 1 << 5;
    /// Resolve the tenant with multi-tenancy enabled.
    pub const MULTITENANT: u8 = 1 << 6;
    /// Validate with small limits, so the length and count checks trigger.
    pub const TIGHT_LIMITS: u8 = 1 << 7;
}

/// The `Content-Type` a `remote_write` input selects with its low two flag bits; `None` for
/// 0 (no header) and 3 (the input's header bytes).
pub fn content_type(flag_bits: u8) -> Option<&'static str> {
    match flag_bits & flags::CONTENT_TYPE_MASK {
        1 => Some("application/x-protobuf"),
        2 => Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
        _ => None,
    }
}

/// A `remote_write` input split into its parts.
#[derive(Debug, Clone, Copy)]
pub struct PushInput<'a> {
    /// The flag byte (see [`flags`]).
    pub flags: u8,
    /// Bytes used for whichever headers the flags say come from the input.
    pub header: &'a [u8],
    /// The request body as sent on the wire (normally a snappy block).
    pub body: &'a [u8],
}

impl<'a> PushInput<'a> {
    /// Splits `data` as `flags | header_len | header[header_len] | body`; a short input gets
    /// empty parts rather than being skipped, so every byte string is a valid input.
    pub fn parse(data: &'a [u8]) -> Self {
        let flags = data.first().copied().unwrap_or(0);
        let rest = data.get(1..).unwrap_or(&[]);
        let header_len = rest.first().copied().unwrap_or(0) as usize;
        let rest = rest.get(1..).unwrap_or(&[]);
        let split = header_len.min(rest.len());
        let (header, body) = rest.split_at(split);
        Self {
            flags,
            header,
            body,
        }
    }

    /// The inverse of [`PushInput::parse`], for seeds. `header` is cut at 255 bytes.
    pub fn encode(flags: u8, header: &[u8], body: &[u8]) -> Vec<u8> {
        let header = &header[..header.len().min(255)];
        let mut out = Vec::with_capacity(2 + header.len() + body.len());
        out.push(flags);
        out.push(header.len() as u8);
        out.extend_from_slice(header);
        out.extend_from_slice(body);
        out
    }
}

/// Shared checks of the `exposition_text` and `exposition_openmetrics` targets.
pub mod exposition {
    use strata_exposition::{Entry, Format, Limits, Parser};

    /// Parses `data` in `format` twice (default limits, then a 32-byte line limit) and
    /// checks what the parser promises.
    pub fn check_parse(data: &[u8], format: Format) {
        for limits in [Limits::default(), Limits { max_line_bytes: 32 }] {
            let mut parser = Parser::new(data, format, limits);
            for entry in parser.by_ref() {
                match entry {
                    Ok(Entry::Sample(s)) => {
                        assert!(!s.name.is_empty());
                        let labels = s.to_labels();
                        let v = labels.as_slice();
                        assert!(v.windows(2).all(|w| w[0].name < w[1].name), "{labels:?}");
                        assert!(v.iter().all(|l| !l.value.is_empty()), "{labels:?}");
                        if !s.labels.iter().any(|l| l.name == "__name__") {
                            assert_eq!(labels.metric_name(), Some(s.name));
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
                        assert!(e.line >= 1 && e.line <= lines, "{e:?}");
                        assert!(e.column >= 1 && e.column <= data.len() + 1, "{e:?}");
                        break;
                    }
                }
            }
            assert!(parser.next().is_none(), "the parser goes on after its end");
        }
    }
}
