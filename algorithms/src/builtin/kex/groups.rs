//! The fixed finite-field Diffie-Hellman groups SSH uses: Oakley group 2
//! (RFC 2409 §6.2) and the MODP groups 14 to 18 of RFC 3526.
//!
//! All of them are safe primes `p = 2q + 1` built from the binary expansion
//! of pi (`2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k)`), with generator
//! 2. The hexadecimal text below is copied from the RFCs; the unit tests and
//! a one-off check at writing time (the formula evaluated with Python's
//! mpmath) agree with it.

/// A fixed Diffie-Hellman group: a prime modulus and a generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhGroup {
    name: &'static str,
    prime: &'static [u8],
    generator: u8,
}

impl DhGroup {
    /// A group from its prime (unsigned big-endian, no leading zero byte)
    /// and generator. Nothing is checked here: a group is checked when an
    /// exchange prepares it.
    #[must_use]
    pub const fn new(name: &'static str, prime: &'static [u8], generator: u8) -> Self {
        DhGroup {
            name,
            prime,
            generator,
        }
    }

    /// Where the group comes from, for logs (e.g. `RFC 3526 group 14`).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The prime p, unsigned big-endian.
    #[must_use]
    pub const fn prime(&self) -> &'static [u8] {
        self.prime
    }

    /// The generator g.
    #[must_use]
    pub const fn generator(&self) -> u8 {
        self.generator
    }

    /// The size of p in bits.
    #[must_use]
    pub fn bits(&self) -> u32 {
        bit_length(self.prime)
    }
}

/// The number of significant bits of an unsigned big-endian integer.
pub(crate) fn bit_length(magnitude: &[u8]) -> u32 {
    let mut digits = magnitude.iter().skip_while(|&&b| b == 0);
    match digits.next() {
        None => 0,
        Some(&top) => {
            let rest = u32::try_from(digits.count()).unwrap_or(u32::MAX / 8);
            rest.saturating_mul(8)
                .saturating_add(8 - top.leading_zeros())
        }
    }
}

/// Decodes the hexadecimal text of an RFC (digits in groups separated by
/// blanks and line breaks) into bytes.
///
/// Only ever evaluated in `const` items, so a malformed constant is a build
/// error, never a run-time panic.
#[allow(
    clippy::indexing_slicing,
    clippy::panic,
    reason = "compile-time only: every call initialises a const, where an out-of-range index or a panic fails the build"
)]
const fn hex<const N: usize>(text: &str) -> [u8; N] {
    let text = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    let mut nibbles = 0;
    while i < text.len() {
        let c = text[i];
        i += 1;
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            b'a'..=b'f' => c - b'a' + 10,
            b' ' | b'\n' | b'\t' => continue,
            _ => panic!("not a hexadecimal digit"),
        };
        if nibbles % 2 == 0 {
            out[nibbles / 2] = v << 4;
        } else {
            out[nibbles / 2] |= v;
        }
        nibbles += 1;
    }
    if nibbles != 2 * N {
        panic!("hexadecimal text does not have the declared length");
    }
    out
}

/// RFC 2409 §6.2, "Second Oakley Group": the 1024-bit prime
/// `2^1024 - 2^960 - 1 + 2^64 * { [2^894 pi] + 129093 }`.
const OAKLEY_GROUP2_PRIME: [u8; 128] = hex("
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381
    FFFFFFFF FFFFFFFF
");

/// RFC 3526 §3, 2048-bit MODP group (id 14):
/// `2^2048 - 2^1984 - 1 + 2^64 * { [2^1918 pi] + 124476 }`.
const MODP_2048_PRIME: [u8; 256] = hex("
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F
    83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D
    670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9
    DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510
    15728E5A 8AACAA68 FFFFFFFF FFFFFFFF
");

/// RFC 3526 §4, 3072-bit MODP group (id 15):
/// `2^3072 - 2^3008 - 1 + 2^64 * { [2^2942 pi] + 1690314 }`.
const MODP_3072_PRIME: [u8; 384] = hex("
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F
    83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D
    670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9
    DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510
    15728E5A 8AAAC42D AD33170D 04507A33 A85521AB DF1CBA64
    ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B
    F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C
    BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31
    43DB5BFC E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF
");

/// RFC 3526 §5, 4096-bit MODP group (id 16):
/// `2^4096 - 2^4032 - 1 + 2^64 * { [2^3966 pi] + 240904 }`.
const MODP_4096_PRIME: [u8; 512] = hex("
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F
    83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D
    670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9
    DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510
    15728E5A 8AAAC42D AD33170D 04507A33 A85521AB DF1CBA64
    ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B
    F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C
    BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31
    43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7
    88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA
    2583E9CA 2AD44CE8 DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6
    287C5947 4E6BC05D 99B2964F A090C3A2 233BA186 515BE7ED
    1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9
    93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34063199
    FFFFFFFF FFFFFFFF
");

/// RFC 3526 §6, 6144-bit MODP group (id 17):
/// `2^6144 - 2^6080 - 1 + 2^64 * { [2^6014 pi] + 929484 }`.
const MODP_6144_PRIME: [u8; 768] = hex("
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08
    8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B
    302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9
    A637ED6B 0BFF5CB6 F406B7ED EE386BFB 5A899FA5 AE9F2411 7C4B1FE6
    49286651 ECE45B3D C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8
    FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D
    670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B E39E772C
    180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718
    3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D
    04507A33 A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D
    B3970F85 A6E1E4C7 ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226
    1AD2EE6B F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C
    BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31 43DB5BFC
    E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7 88719A10 BDBA5B26
    99C32718 6AF4E23C 1A946834 B6150BDA 2583E9CA 2AD44CE8 DBBBC2DB
    04DE8EF9 2E8EFC14 1FBECAA6 287C5947 4E6BC05D 99B2964F A090C3A2
    233BA186 515BE7ED 1F612970 CEE2D7AF B81BDD76 2170481C D0069127
    D5B05AA9 93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34028492
    36C3FAB4 D27C7026 C1D4DCB2 602646DE C9751E76 3DBA37BD F8FF9406
    AD9E530E E5DB382F 413001AE B06A53ED 9027D831 179727B0 865A8918
    DA3EDBEB CF9B14ED 44CE6CBA CED4BB1B DB7F1447 E6CC254B 33205151
    2BD7AF42 6FB8F401 378CD2BF 5983CA01 C64B92EC F032EA15 D1721D03
    F482D7CE 6E74FEF6 D55E702F 46980C82 B5A84031 900B1C9E 59E7C97F
    BEC7E8F3 23A97A7E 36CC88BE 0F1D45B7 FF585AC5 4BD407B2 2B4154AA
    CC8F6D7E BF48E1D8 14CC5ED2 0F8037E0 A79715EE F29BE328 06A1D58B
    B7C5DA76 F550AA3D 8A1FBFF0 EB19CCB1 A313D55C DA56C9EC 2EF29632
    387FE8D7 6E3C0468 043E8F66 3F4860EE 12BF2D5B 0B7474D6 E694F91E
    6DCC4024 FFFFFFFF FFFFFFFF
");

/// RFC 3526 §7, 8192-bit MODP group (id 18):
/// `2^8192 - 2^8128 - 1 + 2^64 * { [2^8062 pi] + 4743158 }`.
const MODP_8192_PRIME: [u8; 1024] = hex("
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F
    83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D
    670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9
    DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510
    15728E5A 8AAAC42D AD33170D 04507A33 A85521AB DF1CBA64
    ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B
    F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C
    BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31
    43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7
    88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA
    2583E9CA 2AD44CE8 DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6
    287C5947 4E6BC05D 99B2964F A090C3A2 233BA186 515BE7ED
    1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9
    93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34028492
    36C3FAB4 D27C7026 C1D4DCB2 602646DE C9751E76 3DBA37BD
    F8FF9406 AD9E530E E5DB382F 413001AE B06A53ED 9027D831
    179727B0 865A8918 DA3EDBEB CF9B14ED 44CE6CBA CED4BB1B
    DB7F1447 E6CC254B 33205151 2BD7AF42 6FB8F401 378CD2BF
    5983CA01 C64B92EC F032EA15 D1721D03 F482D7CE 6E74FEF6
    D55E702F 46980C82 B5A84031 900B1C9E 59E7C97F BEC7E8F3
    23A97A7E 36CC88BE 0F1D45B7 FF585AC5 4BD407B2 2B4154AA
    CC8F6D7E BF48E1D8 14CC5ED2 0F8037E0 A79715EE F29BE328
    06A1D58B B7C5DA76 F550AA3D 8A1FBFF0 EB19CCB1 A313D55C
    DA56C9EC 2EF29632 387FE8D7 6E3C0468 043E8F66 3F4860EE
    12BF2D5B 0B7474D6 E694F91E 6DBE1159 74A3926F 12FEE5E4
    38777CB6 A932DF8C D8BEC4D0 73B931BA 3BC832B6 8D9DD300
    741FA7BF 8AFC47ED 2576F693 6BA42466 3AAB639C 5AE4F568
    3423B474 2BF1C978 238F16CB E39D652D E3FDB8BE FC848AD9
    22222E04 A4037C07 13EB57A8 1A23F0C7 3473FC64 6CEA306B
    4BCBC886 2F8385DD FA9D4B7F A2C087E8 79683303 ED5BDD3A
    062B3CF5 B3A278A6 6D2A13F8 3F44F82D DF310EE0 74AB6A36
    4597E899 A0255DC1 64F31CC5 0846851D F9AB4819 5DED7EA1
    B1D510BD 7EE74D73 FAF36BC3 1ECFA268 359046F4 EB879F92
    4009438B 481C6CD7 889A002E D5EE382B C9190DA6 FC026E47
    9558E447 5677E9AA 9E3050E2 765694DF C81F56E8 80B96E71
    60C980DD 98EDD3DF FFFFFFFF FFFFFFFF
");

/// Oakley group 2 (RFC 2409 §6.2), 1024 bits, generator 2: the group of
/// `diffie-hellman-group1-sha1`. Far too small today (RFC 8270, RFC 9142).
pub static GROUP1: DhGroup = DhGroup::new("RFC 2409 Oakley group 2", &OAKLEY_GROUP2_PRIME, 2);
/// RFC 3526 group 14, 2048 bits, generator 2.
pub static GROUP14: DhGroup = DhGroup::new("RFC 3526 group 14", &MODP_2048_PRIME, 2);
/// RFC 3526 group 15, 3072 bits, generator 2.
pub static GROUP15: DhGroup = DhGroup::new("RFC 3526 group 15", &MODP_3072_PRIME, 2);
/// RFC 3526 group 16, 4096 bits, generator 2.
pub static GROUP16: DhGroup = DhGroup::new("RFC 3526 group 16", &MODP_4096_PRIME, 2);
/// RFC 3526 group 17, 6144 bits, generator 2.
pub static GROUP17: DhGroup = DhGroup::new("RFC 3526 group 17", &MODP_6144_PRIME, 2);
/// RFC 3526 group 18, 8192 bits, generator 2.
pub static GROUP18: DhGroup = DhGroup::new("RFC 3526 group 18", &MODP_8192_PRIME, 2);

/// The groups a group-exchange server offers when it has no moduli file
/// (or nothing in it fits), smallest first: RFC 3526 groups 14 to 18.
pub static GEX_FALLBACK_GROUPS: [&DhGroup; 5] = [&GROUP14, &GROUP15, &GROUP16, &GROUP17, &GROUP18];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;

    fn upper_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// Each prime has its bit length, is odd and is 3 mod 4 (a safe prime
    /// `2q + 1` with q odd), starts with the 64 one bits and the digits of
    /// pi the construction puts there, and ends with the digits the RFC
    /// prints before its trailing 64 one bits.
    #[test]
    fn primes_match_the_rfc_text() {
        let cases: [(&DhGroup, u32, &str); 6] = [
            (&GROUP1, 1024, "ECE65381"),
            (&GROUP14, 2048, "8AACAA68"),
            (&GROUP15, 3072, "A93AD2CA"),
            (&GROUP16, 4096, "34063199"),
            (&GROUP17, 6144, "6DCC4024"),
            (&GROUP18, 8192, "98EDD3DF"),
        ];
        for (group, bits, tail) in cases {
            let p = group.prime();
            assert_eq!(group.bits(), bits, "{}", group.name());
            assert_eq!(p.len() * 8, bits as usize, "{}", group.name());
            assert_eq!(p[p.len() - 1] & 3, 3, "{} is 3 mod 4", group.name());
            assert_eq!(group.generator(), 2);
            let text = upper_hex(p);
            // 2^n - 2^(n-64) - 1 + ...: the top 64 bits are all ones, then
            // pi's fraction (C90FDAA2... = frac(pi) * 2^k).
            assert!(
                text.starts_with("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"),
                "{}",
                group.name()
            );
            assert!(
                text.ends_with(&format!("{tail}FFFFFFFFFFFFFFFF")),
                "{}",
                group.name()
            );
        }
    }

    #[test]
    fn larger_groups_extend_smaller_ones() {
        // The construction uses more bits of pi for larger groups, so each
        // prime shares a long prefix with the next (RFC 3526 §3-§7 text).
        let shared = |a: &[u8], b: &[u8]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
        // Byte counts computed from the RFC text at writing time.
        assert_eq!(shared(GROUP14.prime(), GROUP15.prime()), 245);
        assert_eq!(shared(GROUP15.prime(), GROUP16.prime()), 373);
        assert_eq!(shared(GROUP16.prime(), GROUP17.prime()), 501);
        assert_eq!(shared(GROUP17.prime(), GROUP18.prime()), 757);
    }

    #[test]
    fn fallback_groups_are_sorted_and_at_least_2048_bits() {
        let bits: alloc::vec::Vec<u32> = GEX_FALLBACK_GROUPS.iter().map(|g| g.bits()).collect();
        assert_eq!(bits, [2048, 3072, 4096, 6144, 8192]);
    }

    #[test]
    fn bit_length_counts_significant_bits() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(bit_length(&[0x7f, 0xff]), 15);
    }
}
