//! Checksums that separate real identifiers from look-alikes: Luhn (cards), ISO 13616
//! mod-97 (IBAN), Base58Check and Bech32 (Bitcoin addresses), SSN number ranges.

use sha2::{Digest, Sha256};

/// Luhn over ASCII digits (other bytes ignored).
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    let mut n = 0;
    for &b in digits.iter().rev() {
        if !b.is_ascii_digit() {
            continue;
        }
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
        n += 1;
    }
    n > 1 && sum % 10 == 0
}

/// Whether `digits` (13-19 ASCII digits) starts like a payment card of that length.
pub fn card_prefix_ok(digits: &[u8]) -> bool {
    let len = digits.len();
    let p = |n: usize| -> u32 {
        digits
            .iter()
            .take(n)
            .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'))
    };
    match digits.first() {
        Some(b'4') => matches!(len, 13 | 16 | 19),
        Some(b'5') => {
            let p2 = p(2);
            ((51..=55).contains(&p2) && len == 16)
                // Maestro: 50, 56-59, 12 to 19 digits
                || ((p2 == 50 || (56..=59).contains(&p2)) && (12..=19).contains(&len))
        }
        Some(b'2') => (2221..=2720).contains(&p(4)) && len == 16,
        Some(b'3') => {
            let p2 = p(2);
            ((p2 == 34 || p2 == 37) && len == 15)
                || (p2 == 35 && (16..=19).contains(&len))
                || ((p2 == 36 || p2 == 38 || p2 == 39 || (300..=305).contains(&p(3)))
                    && (14..=19).contains(&len))
        }
        Some(b'6') => {
            let p4 = p(4);
            ((p4 == 6011 || p(2) == 65 || (644..=649).contains(&p(3))) && (16..=19).contains(&len))
                || (p(2) == 62 && (16..=19).contains(&len))
                // Maestro and other 6-series
                || (12..=19).contains(&len)
        }
        _ => false,
    }
}

/// IBAN length per country (ISO 13616 registry), for the countries that issue them.
pub fn iban_length(cc: &[u8]) -> Option<usize> {
    let n = match cc {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CR" => 22,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DK" => 18,
        b"DO" => 28,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MK" => 19,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"NL" => 18,
        b"NO" => 15,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"SA" => 24,
        b"SC" => 31,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        _ => return None,
    };
    Some(n)
}

/// ISO 13616 check: move the first four characters to the end, letters to 10..35, mod 97 == 1.
/// `iban` is the compact form (no spaces), uppercase letters and digits.
pub fn iban_mod97(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in iban[4..].iter().chain(iban[..4].iter()) {
        match b {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(b - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    rem == 1
}

/// US SSN ranges: area not 000, 666 or 900-999; group not 00; serial not 0000.
pub fn ssn_ok(area: u32, group: u32, serial: u32) -> bool {
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

const B58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Base58Check: decodes and verifies the 4-byte double-SHA-256 checksum; returns the
/// version byte.
pub fn base58check(s: &[u8]) -> Option<u8> {
    let mut bytes: Vec<u8> = Vec::with_capacity(32);
    for &c in s {
        let v = B58.iter().position(|&x| x == c)? as u32;
        let mut carry = v;
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.iter().take_while(|&&c| c == b'1').count();
    let mut full = vec![0u8; zeros];
    full.extend_from_slice(&bytes);
    if full.len() != 25 {
        return None;
    }
    let (payload, check) = full.split_at(21);
    let h = Sha256::digest(Sha256::digest(payload));
    (h[..4] == *check).then_some(payload[0])
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Bech32 / Bech32m segwit address (lowercase, `bc1` or `tb1`): verifies the checksum.
pub fn bech32_ok(s: &[u8]) -> bool {
    let Some(sep) = s.iter().rposition(|&c| c == b'1') else {
        return false;
    };
    let (hrp, data) = (&s[..sep], &s[sep + 1..]);
    if hrp.is_empty() || data.len() < 6 {
        return false;
    }
    let mut vals = Vec::with_capacity(data.len());
    for &c in data {
        match BECH32.iter().position(|&x| x == c) {
            Some(v) => vals.push(v as u8),
            None => return false,
        }
    }
    let expanded = hrp
        .iter()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.iter().map(|c| c & 31))
        .chain(vals.iter().copied());
    let pm = polymod(expanded);
    pm == 1 || pm == 0x2bc8_30a3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_cards() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"5186596718169255"));
        assert!(!luhn(b"4209767837609667"));
        assert!(card_prefix_ok(b"2232937205955577"));
        assert!(card_prefix_ok(b"344943652519436"));
        assert!(!card_prefix_ok(b"1234567812345678"));
    }

    #[test]
    fn iban() {
        assert!(iban_mod97(b"IT09S3687606343808642510348"));
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(!iban_mod97(b"DE12439576054117445728"));
        assert_eq!(iban_length(b"DE"), Some(22));
    }

    #[test]
    fn bitcoin() {
        assert_eq!(base58check(b"1PBCYCEpsnn4HS6DsTovWQLnXbtdU2pVQB"), Some(0));
        assert_eq!(base58check(b"1PBCYCEpsnn4HS6DsTovWQLnXbtdU2pVQC"), None);
        assert!(bech32_ok(b"bc1q29l58g5dwntla49h7hfwxygp29ee50p88npyeu"));
        assert!(!bech32_ok(b"bc1q29l58g5dwntla49h7hfwxygp29ee50p88npyev"));
    }

    #[test]
    fn ssn() {
        assert!(ssn_ok(616, 66, 2187));
        assert!(!ssn_ok(666, 12, 9189));
        assert!(!ssn_ok(900, 12, 1234));
        assert!(!ssn_ok(123, 0, 1234));
    }
}
