//! OpenSSH's wildcard patterns (`match_pattern`): `*` matches any run of
//! characters (the empty one too), `?` exactly one. Matching is
//! case-sensitive, as it is for algorithm names in OpenSSH.

/// Whether `s` holds a wildcard and so names a pattern rather than one name.
pub(crate) fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Whether `name` matches `pattern` as a whole.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    let (mut pi, mut ni) = (0usize, 0usize);
    // Where the last `*` was and where in `name` its match currently ends.
    let mut star: Option<(usize, usize)> = None;
    loop {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some(&c) if n.get(ni).is_some_and(|&x| c == b'?' || c == x) => {
                pi += 1;
                ni += 1;
                continue;
            }
            None if ni == n.len() => return true,
            _ => {}
        }
        // Mismatch: let the last `*` swallow one more character.
        match star {
            Some((sp, sn)) if sn < n.len() => {
                star = Some((sp, sn + 1));
                pi = sp + 1;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_match_pattern_semantics() {
        let cases: &[(&str, &str, bool)] = &[
            ("aes128-ctr", "aes128-ctr", true),
            ("aes128-ctr", "aes128-ct", false),
            ("aes128-ct", "aes128-ctr", false),
            ("*", "", true),
            ("*", "anything", true),
            ("", "", true),
            ("", "a", false),
            ("?", "", false),
            ("?", "a", true),
            ("??", "a", false),
            ("aes*-ctr", "aes128-ctr", true),
            ("aes*-ctr", "aes-ctr", true),
            ("aes*-ctr", "aes128-cbc", false),
            ("aes???-ctr", "aes128-ctr", true),
            ("aes???-ctr", "aes12-ctr", false),
            ("hmac-sha1*", "hmac-sha1", true),
            ("hmac-sha1*", "hmac-sha1-etm@openssh.com", true),
            ("hmac-sha1*", "hmac-sha2-256", false),
            ("*-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", true),
            ("*-etm@openssh.com", "hmac-sha2-256", false),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b*", "xxbxxaxx", false),
            ("a*a*a", "aaa", true),
            ("a*a*a", "aa", false),
            ("**", "x", true),
            ("*?", "", false),
            ("*?", "x", true),
            ("AES*", "aes128-ctr", false),
        ];
        for &(p, n, want) in cases {
            assert_eq!(matches(p, n), want, "{p:?} vs {n:?}");
        }
    }

    #[test]
    fn patterns_are_recognised() {
        assert!(is_pattern("aes*"));
        assert!(is_pattern("aes?28-ctr"));
        assert!(!is_pattern("aes128-ctr"));
    }
}
