use bytes::Bytes;

use crate::float_histogram_iter::FloatHistogramIterator;
use crate::histogram_iter::HistogramIterator;
use crate::xor::XorIterator;

/// A chunk's encoding, numbered as in Prometheus's chunk files and remote read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encoding {
    /// Float samples, Gorilla XOR.
    Xor = 1,
    /// Integer native histograms.
    Histogram = 2,
    /// Float native histograms.
    FloatHistogram = 3,
}

impl Encoding {
    /// The encoding for a byte as stored on disk.
    pub fn from_u8(b: u8) -> Result<Self, ChunkError> {
        match b {
            1 => Ok(Encoding::Xor),
            2 => Ok(Encoding::Histogram),
            3 => Ok(Encoding::FloatHistogram),
            other => Err(ChunkError::UnknownEncoding(other)),
        }
    }
}

/// A chunk could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The encoding byte is not one Strata knows.
    #[error("unknown chunk encoding {0}")]
    UnknownEncoding(u8),
    /// The chunk is shorter than its header.
    #[error("chunk of {0} bytes is shorter than its 2-byte header")]
    TooShort(usize),
    /// The bit stream ended before the sample count in the header was read.
    #[error("chunk ends after {read} of {expected} samples")]
    Truncated {
        /// Samples decoded before the end.
        read: u16,
        /// Samples the header declares.
        expected: u16,
    },
    /// The operation needs another encoding.
    #[error("chunk has encoding {0:?}, expected XOR")]
    NotXor(Encoding),
    /// The operation needs another encoding.
    #[error("chunk has encoding {got:?}, expected {expected:?}")]
    WrongEncoding {
        /// The chunk's encoding.
        got: Encoding,
        /// The encoding the operation needs.
        expected: Encoding,
    },
}

/// An immutable encoded chunk. Cloning shares the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    encoding: Encoding,
    data: Bytes,
}

impl Chunk {
    /// Wraps encoded bytes, checking only that the header is there.
    pub fn new(encoding: Encoding, data: Bytes) -> Result<Self, ChunkError> {
        if data.len() < 2 {
            return Err(ChunkError::TooShort(data.len()));
        }
        Ok(Self { encoding, data })
    }

    /// The chunk's encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The encoded bytes, header included.
    pub fn bytes(&self) -> &Bytes {
        &self.data
    }

    /// The number of samples the header declares.
    pub fn num_samples(&self) -> u16 {
        u16::from_be_bytes([self.data[0], self.data[1]])
    }

    /// Decodes an XOR chunk. Check [`XorIterator::err`] after the last sample.
    pub fn xor_iter(&self) -> Result<XorIterator<'_>, ChunkError> {
        match self.encoding {
            Encoding::Xor => Ok(XorIterator::new(&self.data)),
            other => Err(ChunkError::NotXor(other)),
        }
    }

    /// Decodes an integer histogram chunk. Check [`HistogramIterator::err`] after the last
    /// sample.
    pub fn histogram_iter(&self) -> Result<HistogramIterator<'_>, ChunkError> {
        match self.encoding {
            Encoding::Histogram => Ok(HistogramIterator::new(&self.data)),
            got => Err(ChunkError::WrongEncoding {
                got,
                expected: Encoding::Histogram,
            }),
        }
    }

    /// Decodes a float histogram chunk. Check [`FloatHistogramIterator::err`] after the last
    /// sample.
    pub fn float_histogram_iter(&self) -> Result<FloatHistogramIterator<'_>, ChunkError> {
        match self.encoding {
            Encoding::FloatHistogram => Ok(FloatHistogramIterator::new(&self.data)),
            got => Err(ChunkError::WrongEncoding {
                got,
                expected: Encoding::FloatHistogram,
            }),
        }
    }
}
