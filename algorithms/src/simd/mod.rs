//! x86-64 vector kernels for the hot packet paths, with runtime CPU
//! detection (`cpufeatures`, which works without std).
//!
//! The only module of the crate allowed `unsafe`, for two reasons and no
//! others: calling a `#[target_feature]` function once the CPU is known to
//! have the features, and unaligned vector loads and stores from slices
//! whose length was checked. Every such block carries a `SAFETY:` comment.
//! The arithmetic intrinsics themselves are safe inside those functions.
//!
//! Each kernel is checked against the portable RustCrypto implementation it
//! stands in for, on random inputs of many lengths, and the callers fall back
//! to that implementation when the CPU lacks the features.

/// Declares `$name`, a zero-sized proof that this CPU has `$features`
/// (and that the OS saves the registers they use: `cpufeatures` checks
/// XCR0 for AVX-512). Its field is private to the declaring module, so
/// only `$name::detect` makes one, after detection said yes: holding a
/// value is what every `SAFETY:` comment on a call into a kernel rests on.
/// Detection is cached by `cpufeatures` (one atomic load after the first).
macro_rules! cpu_proof {
    ($(#[$doc:meta])* $name:ident, $module:ident, $($feature:tt),+) => {
        cpufeatures::new!($module, $($feature),+);

        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub(crate) struct $name {
            /// Keeps the type from being built anywhere but `detect`.
            _detected: (),
        }

        impl $name {
            /// The proof if `allow` and the CPU has the features, else
            /// `None` (the caller then uses the portable crate). `allow`
            /// is false only in tests, to exercise that fallback on a CPU
            /// that does have the features.
            pub(crate) fn detect(allow: bool) -> Option<Self> {
                (allow && $module::init().get()).then_some(Self { _detected: () })
            }
        }
    };
}

pub(crate) mod chacha20;
pub(crate) mod ghash;
pub(crate) mod poly1305;

/// Reproducible pseudo-random inputs for the kernels' tests (SplitMix64):
/// variety, not unpredictability.
#[cfg(test)]
pub(crate) struct TestRng(pub(crate) u64);

#[cfg(test)]
impl TestRng {
    /// The next 64 bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Fills `out`.
    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next() as u8;
        }
    }
    /// A 32-byte key.
    pub(crate) fn key(&mut self) -> [u8; 32] {
        let mut k = [0; 32];
        self.fill(&mut k);
        k
    }
    /// `len` bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> alloc::vec::Vec<u8> {
        let mut v = alloc::vec![0; len];
        self.fill(&mut v);
        v
    }
}

/// Whether std's own detection finds every one of `features`: the kernels'
/// tests check that it agrees with `cpufeatures`, so that on a machine
/// with the features (the AMD Zen 4 they were written on) the kernel, not
/// the fallback, is what gets tested.
#[cfg(test)]
pub(crate) fn std_detects(features: &[&str]) -> bool {
    extern crate std;
    features.iter().all(|f| match *f {
        "avx2" => std::is_x86_feature_detected!("avx2"),
        "pclmulqdq" => std::is_x86_feature_detected!("pclmulqdq"),
        "avx512f" => std::is_x86_feature_detected!("avx512f"),
        "avx512bw" => std::is_x86_feature_detected!("avx512bw"),
        "avx512vl" => std::is_x86_feature_detected!("avx512vl"),
        "avx512ifma" => std::is_x86_feature_detected!("avx512ifma"),
        "vpclmulqdq" => std::is_x86_feature_detected!("vpclmulqdq"),
        _ => false,
    })
}
