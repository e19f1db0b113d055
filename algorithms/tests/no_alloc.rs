//! The hot path allocates nothing: once a sealer and an opener exist,
//! sealing and opening packets touches no heap, for every cipher with every
//! MAC (AEAD ciphers without one).
//!
//! A counting global allocator wraps the system allocator and counts, per
//! thread, every allocation, reallocation and deallocation; the test reads
//! its own thread's counters around the packet loop, so the test harness's
//! other threads cannot disturb it.
//!
//! This is the only place in the workspace with `unsafe`: implementing
//! `GlobalAlloc` requires it, and the implementation only forwards to
//! [`std::alloc::System`].
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use sekura_algorithms::builtin::{ALL_CIPHERS, ALL_MACS};
use sekura_algorithms::{Cipher, DirectionKeys, Mac, PacketOpener, PacketSealer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting heap operations of the calling thread.
struct Counting;

thread_local! {
    /// Allocations, reallocations and deallocations on this thread. A
    /// `const` initializer and no destructor: reading it never allocates.
    static HEAP_OPS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: during thread teardown the slot may be gone; then the
    // operation is simply not counted (no test runs at that point).
    let _ = HEAP_OPS.try_with(|c| c.set(c.get() + 1));
}

fn heap_ops() -> u64 {
    HEAP_OPS.with(Cell::get)
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds `GlobalAlloc`'s contract; the only addition is a thread-local
// counter increment, which neither allocates nor touches the memory being
// managed.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's guarantees for `layout` are passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: `ptr` was allocated by `System` (through this wrapper)
        // with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `dealloc`, and `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const PACKETS: usize = 100;

/// Payload sizes cycling through small, odd, block-sized and 32 KiB ones,
/// so that a size-dependent allocation (a partial block, a large packet)
/// shows up.
const SIZES: [usize; 10] = [0, 1, 15, 16, 100, 255, 1000, 2047, 4096, 32_768];

fn keys(cipher: &dyn Cipher, mac: Option<&dyn Mac>) -> DirectionKeys {
    let fill = |len: usize, base: u8| {
        (0..len)
            .map(|i| base.wrapping_add(i as u8).wrapping_mul(7))
            .collect::<Vec<u8>>()
            .into()
    };
    DirectionKeys {
        iv: fill(cipher.iv_len(), 1),
        key: fill(cipher.key_len(), 2),
        mac_key: fill(mac.map_or(0, |m| m.key_len()), 3),
    }
}

/// A plaintext packet as the transport frames it, padded for `block`
/// (without the length field when `separate_length`).
fn packet(payload: usize, block: usize, separate_length: bool) -> Vec<u8> {
    let covered = if separate_length { 1 } else { 5 } + payload;
    let mut pad = block - covered % block;
    if pad < 4 {
        pad += block;
    }
    let mut p = u32::try_from(1 + payload + pad)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    p.push(u8::try_from(pad).unwrap());
    p.extend((0..payload).map(|i| (i * 13) as u8));
    p.extend(std::iter::repeat_n(0x5c, pad));
    p
}

/// What one cipher/MAC pairing did.
struct Outcome {
    name: String,
    heap_ops: u64,
    failures: u64,
}

/// Makes the sealer and opener and every buffer (setup, allocations
/// allowed), then seals and opens `PACKETS` packets counting heap
/// operations.
fn measure(cipher: &'static dyn Cipher, mac: Option<&'static dyn Mac>) -> Outcome {
    let name = match mac {
        Some(mac) => format!("{} + {}", cipher.name(), mac.name()),
        None => cipher.name().to_string(),
    };
    let k = keys(cipher, mac);
    let mut sealer: Box<dyn PacketSealer> = cipher.new_sealer(&k, mac).unwrap();
    let mut opener: Box<dyn PacketOpener> = cipher.new_opener(&k, mac).unwrap();
    let (block, separate) = (sealer.block_len(), sealer.separate_length());
    let plain: Vec<Vec<u8>> = (0..PACKETS)
        .map(|i| packet(SIZES[i % SIZES.len()], block, separate))
        .collect();
    let mut wire = plain.clone();
    let mut tags = vec![vec![0u8; sealer.tag_len()]; PACKETS];
    let need = opener.length_bytes_needed();

    let before = heap_ops();
    let mut failures = 0u64;
    for (i, (packet, tag)) in wire.iter_mut().zip(tags.iter_mut()).enumerate() {
        let seq = u32::try_from(i).unwrap();
        sealer.seal(seq, packet, tag);
        let len = opener.decrypt_length(seq, &mut packet[..need]);
        if len as usize + 4 != packet.len() {
            failures += 1;
        }
        if opener.open(seq, packet, tag).is_err() || packet[..] != plain[i][..] {
            failures += 1;
        }
    }
    let heap_ops = heap_ops() - before;
    Outcome {
        name,
        heap_ops,
        failures,
    }
}

fn pairings() -> Vec<(&'static dyn Cipher, Option<&'static dyn Mac>)> {
    let mut out = Vec::new();
    for &cipher in ALL_CIPHERS {
        if cipher.aead_tag_len().is_some() {
            out.push((cipher, None));
        } else {
            out.extend(ALL_MACS.iter().map(|&mac| (cipher, Some(mac))));
        }
    }
    out
}

#[test]
fn the_counter_sees_allocations() {
    // The instrument works: a heap allocation on this thread is counted.
    let before = heap_ops();
    let v = std::hint::black_box(vec![1u8; 100]);
    drop(v);
    assert_eq!(
        heap_ops() - before,
        2,
        "one allocation and one deallocation"
    );
}

#[test]
fn sealing_and_opening_allocates_nothing() {
    let pairings = pairings();
    // 3 AEADs, and 10 other ciphers with each MAC.
    assert_eq!(pairings.len(), 3 + (ALL_CIPHERS.len() - 3) * ALL_MACS.len());
    let outcomes: Vec<Outcome> = pairings
        .into_iter()
        .map(|(cipher, mac)| measure(cipher, mac))
        .collect();

    let broken: Vec<&Outcome> = outcomes.iter().filter(|o| o.failures > 0).collect();
    assert!(
        broken.is_empty(),
        "packets did not round-trip: {:?}",
        broken.iter().map(|o| &o.name).collect::<Vec<_>>()
    );
    let allocating: Vec<String> = outcomes
        .iter()
        .filter(|o| o.heap_ops > 0)
        .map(|o| format!("{}: {} heap operations", o.name, o.heap_ops))
        .collect();
    assert!(
        allocating.is_empty(),
        "{} of {} pairings touch the heap sealing and opening {PACKETS} packets:\n{}",
        allocating.len(),
        outcomes.len(),
        allocating.join("\n")
    );
}
