//! The moduli file of OpenSSH's sshd (`/etc/ssh/moduli`, moduli(5)): the
//! safe primes a group-exchange server picks from.
//!
//! Each line holds seven fields separated by blanks or tabs:
//!
//! ```text
//! # Time Type Tests Tries Size Generator Modulus
//! 20250616002444 2 6 100 2047 5 EE0FE3E5...
//! ```
//!
//! * Time: when the line was written (digits, `yyyymmddhhmmss`).
//! * Type: the structure of the prime; only 2 (safe, `p = 2q + 1`) is used.
//! * Tests: a bit field of the tests run: 0x01 composite (failed), 0x02
//!   sieve, 0x04 Miller-Rabin, 0x08 Jacobi, 0x10 elliptic curve.
//! * Tries: how many rounds the highest test ran.
//! * Size: the bit length of the prime minus one.
//! * Generator and Modulus: hexadecimal.
//!
//! Lines starting with `#` and blank lines are comments. Like sshd,
//! [`Moduli::parse`] keeps the usable lines and sets the others aside
//! (with the reason, so a caller can log them); it is stricter than sshd
//! in one point: a prime only sieved (tests = 0x02) is not accepted, as
//! sieving is trial division, not a primality test.
//!
//! The parser does no arithmetic on the numbers beyond their length: the
//! server checks each group again (odd modulus, `1 < g < p - 1`) when it
//! uses one.

use super::groups::bit_length;
use alloc::vec::Vec;

/// The moduli(5) type of a safe prime.
const TYPE_SAFE: u32 = 2;
/// Tests bit: the number failed a test.
const TESTS_COMPOSITE: u32 = 0x01;
/// Tests bits of real primality tests: Miller-Rabin, Jacobi, elliptic curve.
const TESTS_PRIMALITY: u32 = 0x04 | 0x08 | 0x10;
/// Largest Size sshd accepts (64 Ki bits).
const MAX_SIZE: u32 = 64 * 1024;

/// One usable line of a moduli file: a safe prime and its generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulusGroup {
    bits: u32,
    generator: Vec<u8>,
    prime: Vec<u8>,
}

impl ModulusGroup {
    /// The bit length of the prime (the file's Size plus one).
    #[must_use]
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The generator, unsigned big-endian without leading zeros.
    #[must_use]
    pub fn generator(&self) -> &[u8] {
        &self.generator
    }

    /// The prime, unsigned big-endian without leading zeros.
    #[must_use]
    pub fn prime(&self) -> &[u8] {
        &self.prime
    }

    /// Parses one line. `Ok(None)` for a comment or blank line.
    pub fn parse_line(line: &str) -> Result<Option<Self>, ModuliLineError> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(None);
        }
        let mut fields = line.split_ascii_whitespace();
        let mut next = || fields.next();
        let (
            Some(time),
            Some(kind),
            Some(tests),
            Some(tries),
            Some(size),
            Some(generator),
            Some(modulus),
        ) = (next(), next(), next(), next(), next(), next(), next())
        else {
            return Err(ModuliLineError::FieldCount {
                found: line.split_ascii_whitespace().count(),
            });
        };
        if next().is_some() {
            return Err(ModuliLineError::FieldCount {
                found: line.split_ascii_whitespace().count(),
            });
        }

        if !time.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ModuliLineError::NotANumber { field: "time" });
        }
        let kind = decimal(kind, "type")?;
        if kind != TYPE_SAFE {
            return Err(ModuliLineError::NotSafe { found: kind });
        }
        let tests = decimal(tests, "tests")?;
        if tests & TESTS_COMPOSITE != 0 {
            return Err(ModuliLineError::Composite { tests });
        }
        if tests & TESTS_PRIMALITY == 0 {
            return Err(ModuliLineError::NotTested { tests });
        }
        if decimal(tries, "tries")? == 0 {
            return Err(ModuliLineError::NoTries);
        }
        let size = decimal(size, "size")?;
        if size == 0 || size > MAX_SIZE {
            return Err(ModuliLineError::SizeOutOfRange { found: size });
        }

        let generator =
            parse_hex(generator).ok_or(ModuliLineError::NotHex { field: "generator" })?;
        let prime = parse_hex(modulus).ok_or(ModuliLineError::NotHex { field: "modulus" })?;
        let bits = bit_length(&prime);
        if bits != size + 1 {
            return Err(ModuliLineError::SizeMismatch {
                listed: size + 1,
                actual: bits,
            });
        }
        if prime.last().is_none_or(|&b| b & 1 == 0) {
            return Err(ModuliLineError::EvenModulus);
        }
        if bit_length(&generator) < 2 {
            return Err(ModuliLineError::TrivialGenerator);
        }
        Ok(Some(ModulusGroup {
            bits,
            generator,
            prime,
        }))
    }
}

/// Why a line of a moduli file was set aside. Each says what was expected
/// and what was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModuliLineError {
    /// Not the seven fields of moduli(5).
    #[error("expected 7 fields (time type tests tries size generator modulus), found {found}")]
    FieldCount {
        /// How many fields there were.
        found: usize,
    },
    /// A numeric field was not a decimal number.
    #[error("{field} is not a decimal number")]
    NotANumber {
        /// Which field.
        field: &'static str,
    },
    /// The type was not 2 (safe prime).
    #[error("type {found} is not 2 (safe prime)")]
    NotSafe {
        /// The type found.
        found: u32,
    },
    /// The tests field marks the number composite.
    #[error("tests {tests:#x} mark the number as composite")]
    Composite {
        /// The tests field.
        tests: u32,
    },
    /// No primality test (Miller-Rabin, Jacobi or elliptic curve) was run.
    #[error(
        "tests {tests:#x} include no primality test (0x04 Miller-Rabin, 0x08 Jacobi or 0x10 elliptic curve)"
    )]
    NotTested {
        /// The tests field.
        tests: u32,
    },
    /// The tries field was zero.
    #[error("tries is 0, expected at least one round of testing")]
    NoTries,
    /// The size field was 0 or above 65536.
    #[error("size {found} is outside 1..=65536")]
    SizeOutOfRange {
        /// The size found.
        found: u32,
    },
    /// The generator or modulus was not hexadecimal.
    #[error("{field} is not hexadecimal")]
    NotHex {
        /// Which field.
        field: &'static str,
    },
    /// The modulus does not have the listed number of bits.
    #[error("modulus has {actual} bits, the size field says {listed}")]
    SizeMismatch {
        /// Size + 1.
        listed: u32,
        /// The modulus's bit length.
        actual: u32,
    },
    /// The modulus is even, so it is no safe prime.
    #[error("modulus is even, expected an odd prime")]
    EvenModulus,
    /// The generator is 0 or 1.
    #[error("generator must be greater than 1")]
    TrivialGenerator,
}

/// A line set aside by [`Moduli::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectedLine {
    /// Its line number, counting from 1.
    pub line: usize,
    /// Why.
    pub reason: ModuliLineError,
}

/// The usable groups of a moduli file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moduli {
    groups: Vec<ModulusGroup>,
    rejected: Vec<RejectedLine>,
}

impl Moduli {
    /// Parses the text of a moduli file, keeping the safe, tested primes
    /// and setting the other lines aside (see [`Moduli::rejected`]).
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut moduli = Moduli::default();
        for (index, line) in text.lines().enumerate() {
            match ModulusGroup::parse_line(line) {
                Ok(Some(group)) => moduli.groups.push(group),
                Ok(None) => {}
                Err(reason) => moduli.rejected.push(RejectedLine {
                    line: index + 1,
                    reason,
                }),
            }
        }
        moduli
    }

    /// The usable groups, in file order.
    #[must_use]
    pub fn groups(&self) -> &[ModulusGroup] {
        &self.groups
    }

    /// The lines that were neither comments nor usable, for a log.
    #[must_use]
    pub fn rejected(&self) -> &[RejectedLine] {
        &self.rejected
    }

    /// Whether no usable group was found.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

fn decimal(field: &str, name: &'static str) -> Result<u32, ModuliLineError> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ModuliLineError::NotANumber { field: name });
    }
    field
        .parse()
        .map_err(|_| ModuliLineError::NotANumber { field: name })
}

/// Hexadecimal digits to unsigned big-endian bytes without leading zeros;
/// an odd number of digits is read as if a 0 led.
fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Option<Vec<u8>> = text
        .bytes()
        .map(|c| {
            char::from(c)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        })
        .collect();
    let digits = digits?;
    if digits.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len().div_ceil(2));
    let (head, pairs) = digits.split_at(digits.len() % 2);
    out.extend(head.iter().copied());
    for pair in pairs.chunks_exact(2) {
        if let [high, low] = pair {
            out.push(high << 4 | low);
        }
    }
    let start = out.iter().position(|&b| b != 0).unwrap_or(out.len());
    out.drain(..start);
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::super::groups::GROUP14;
    use super::*;
    use alloc::format;
    use alloc::string::String;

    fn group14_hex() -> String {
        GROUP14.prime().iter().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn parses_a_small_file() {
        let p = group14_hex();
        let mut even = p.clone();
        even.pop();
        even.push('E');
        let text = format!(
            "# $OpenBSD: moduli,v 1.41 2025/10/11 23:39:14 dtucker Exp $\n\
             # Time Type Tests Tries Size Generator Modulus\n\
             \n\
             20250616002444 2 6 100 2047 2 {p}\n\
             \t20250616002455\t2\t6\t100\t2047\t5\t{p}  \n\
             20250616002507 4 6 100 2047 2 {p}\n\
             20250616002507 2 2 100 2047 2 {p}\n\
             20250616002507 2 7 100 2047 2 {p}\n\
             20250616002507 2 6 0 2047 2 {p}\n\
             20250616002507 2 6 100 2048 2 {p}\n\
             20250616002507 2 6 100 2047 1 {p}\n\
             20250616002507 2 6 100 2047 2 {even}\n\
             20250616002507 2 6 100 2047 2 {p} # trailing comment\n\
             20250616002507 2 6 100 2047 2\n\
             2025061600250x 2 6 100 2047 2 {p}\n\
             20250616002507 2 6 100 2047 2 {p}G\n\
             20250616002507 2 6 100 99999999999 2 {p}\n"
        );
        let moduli = Moduli::parse(&text);
        assert_eq!(moduli.groups().len(), 2);
        assert!(!moduli.is_empty());
        for group in moduli.groups() {
            assert_eq!(group.bits(), 2048);
            assert_eq!(group.prime(), GROUP14.prime());
        }
        assert_eq!(moduli.groups()[0].generator(), [2]);
        assert_eq!(moduli.groups()[1].generator(), [5]);

        let rejected: alloc::vec::Vec<(usize, ModuliLineError)> = moduli
            .rejected()
            .iter()
            .map(|r| (r.line, r.reason))
            .collect();
        assert_eq!(
            rejected,
            [
                (6, ModuliLineError::NotSafe { found: 4 }),
                (7, ModuliLineError::NotTested { tests: 2 }),
                (8, ModuliLineError::Composite { tests: 7 }),
                (9, ModuliLineError::NoTries),
                (
                    10,
                    ModuliLineError::SizeMismatch {
                        listed: 2049,
                        actual: 2048
                    }
                ),
                (11, ModuliLineError::TrivialGenerator),
                (12, ModuliLineError::EvenModulus),
                (13, ModuliLineError::FieldCount { found: 10 }),
                (14, ModuliLineError::FieldCount { found: 6 }),
                (15, ModuliLineError::NotANumber { field: "time" }),
                (16, ModuliLineError::NotHex { field: "modulus" }),
                (17, ModuliLineError::NotANumber { field: "size" }),
            ]
        );
    }

    #[test]
    fn empty_and_comment_only_files_have_no_groups() {
        assert!(Moduli::parse("").is_empty());
        let m = Moduli::parse("# nothing here\n   \n\t# indented comment\n");
        assert!(m.is_empty());
        assert!(m.rejected().is_empty());
    }

    #[test]
    fn hex_parsing() {
        assert_eq!(parse_hex("0"), Some(alloc::vec![]));
        assert_eq!(parse_hex("5"), Some(alloc::vec![5]));
        assert_eq!(parse_hex("0105"), Some(alloc::vec![1, 5]));
        assert_eq!(parse_hex("fFf"), Some(alloc::vec![0x0f, 0xff]));
        assert_eq!(parse_hex(""), None);
        assert_eq!(parse_hex("12 3"), None);
        assert_eq!(parse_hex("x"), None);
    }

    #[test]
    fn errors_say_what_was_expected_and_found() {
        assert_eq!(
            format!("{}", ModuliLineError::NotSafe { found: 4 }),
            "type 4 is not 2 (safe prime)"
        );
        assert_eq!(
            format!(
                "{}",
                ModuliLineError::SizeMismatch {
                    listed: 2049,
                    actual: 2048
                }
            ),
            "modulus has 2048 bits, the size field says 2049"
        );
    }
}
