//! Payload compression (RFC 4253 §6.2).

use crate::{Algorithm, AlgorithmError};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// A compression method as negotiated in KEXINIT.
pub trait Compression: Algorithm {
    /// Whether compression starts only after user authentication succeeds
    /// (`zlib@openssh.com`), rather than at NEWKEYS.
    fn delayed(&self) -> bool {
        false
    }
    /// Makes a compressor for one direction, or `None` when payloads go
    /// through unchanged.
    fn new_compressor(&self) -> Option<Box<dyn Compressor>>;
    /// Makes a decompressor for one direction, or `None` when payloads go
    /// through unchanged.
    fn new_decompressor(&self) -> Option<Box<dyn Decompressor>>;
}

/// Compresses the payloads of one direction; the stream's state spans
/// packets.
pub trait Compressor: Send {
    /// Compresses `input` and appends the result to `out`.
    fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), AlgorithmError>;
}

/// Decompresses the payloads of one direction.
pub trait Decompressor: Send {
    /// Decompresses `input` and appends the result to `out`; output beyond
    /// `max_len` bytes is an error, never an allocation.
    fn decompress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<(), AlgorithmError>;
}
