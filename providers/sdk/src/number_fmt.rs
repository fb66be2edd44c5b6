//! Decimal forms of [`Number`], digit for digit as Go's `big.Float.Text` and `Format` give
//! them, which is how Terraform prints numbers (`'f'` with the shortest digits that read back
//! to the same value at the number's precision).

use crate::number::{Kind, Number};
use num_bigint::BigUint;
use std::fmt;

/// An exact decimal: `0.d1d2d3... * 10^exp`, digits without trailing zeros.
struct Decimal {
    digits: Vec<u8>,
    exp: i64,
}

impl Decimal {
    /// The exact decimal of `mant * 2^shift`.
    fn new(mant: &BigUint, shift: i64) -> Decimal {
        let (text, scale) = if shift >= 0 {
            ((mant << shift as u64).to_str_radix(10), 0)
        } else {
            let five = num_traits::pow::pow(BigUint::from(5u32), shift.unsigned_abs() as usize);
            ((mant * five).to_str_radix(10), shift)
        };
        let mut digits: Vec<u8> = text.into_bytes();
        let exp = digits.len() as i64 + scale;
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        Decimal { digits, exp }
    }

    fn at(&self, i: i64) -> u8 {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.digits.get(i).copied())
            .unwrap_or(b'0')
    }

    fn should_round_up(&self, n: usize) -> bool {
        if self.digits[n] == b'5' && n + 1 == self.digits.len() {
            return n > 0 && (self.digits[n - 1] - b'0') & 1 != 0;
        }
        self.digits[n] >= b'5'
    }

    /// Rounds to `n` digits, half to even.
    fn round(&mut self, n: i64) {
        let Ok(n) = usize::try_from(n) else {
            return;
        };
        if n >= self.digits.len() {
            return;
        }
        if self.should_round_up(n) {
            self.round_up(n);
        } else {
            self.round_down(n);
        }
    }

    fn round_up(&mut self, n: usize) {
        if n >= self.digits.len() {
            return;
        }
        let mut n = n;
        while n > 0 && self.digits[n - 1] >= b'9' {
            n -= 1;
        }
        if n == 0 {
            self.digits = vec![b'1'];
            self.exp += 1;
            return;
        }
        self.digits[n - 1] += 1;
        self.digits.truncate(n);
    }

    fn round_down(&mut self, n: usize) {
        if n >= self.digits.len() {
            return;
        }
        self.digits.truncate(n);
        while self.digits.last() == Some(&b'0') {
            self.digits.pop();
        }
    }

    /// Go's `roundShortest`: the fewest digits that still read back as `mant * 2^exp` at
    /// `prec` bits.
    fn round_shortest(&mut self, mant: &BigUint, exp: i64, prec: u32) {
        if self.digits.is_empty() {
            return;
        }
        let mut m = mant.clone();
        let mut e = exp;
        let s = m.bits() as i64 - (i64::from(prec) + 1);
        if s < 0 {
            m <<= s.unsigned_abs();
        } else {
            m >>= s as u64;
        }
        e += s;
        let lower = Decimal::new(&(&m - 1u32), e);
        let upper = Decimal::new(&(&m + 1u32), e);
        let inclusive = !m.bit(1);
        // Go compares the digits at the same index without aligning decimal points; so do we,
        // to print the digits Terraform prints.
        for (i, &mdig) in self.digits.clone().iter().enumerate() {
            let l = lower.at(i as i64);
            let u = upper.at(i as i64);
            let okdown = l != mdig || inclusive && i + 1 == lower.digits.len();
            let okup = mdig != u && (inclusive || mdig + 1 < u || i + 1 < upper.digits.len());
            let n = i + 1;
            match (okdown, okup) {
                (true, true) => return self.round(n as i64),
                (true, false) => return self.round_down(n),
                (false, true) => return self.round_up(n),
                (false, false) => {}
            }
        }
    }
}

/// How many digits a format asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// The fewest that identify the number.
    Shortest,
    /// This many (after the point for `f` and `e`, significant for `g`).
    Digits(usize),
}

impl Number {
    /// The digits of the number in Go's format `verb` (`f`, `e`, `E`, `g` or `G`), without
    /// width or sign flags: `-` for negatives, `+Inf`/`-Inf` for the infinities.
    pub fn format(&self, verb: char, precision: Precision) -> String {
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        let (mant, exp) = match &self.kind {
            Kind::Inf => {
                if !self.neg {
                    out.push('+');
                }
                out.push_str("Inf");
                return out;
            }
            Kind::Zero => (BigUint::default(), 0),
            Kind::Finite { mant, exp } => (mant.clone(), *exp),
        };
        let mut d = if mant.bits() == 0 {
            Decimal {
                digits: Vec::new(),
                exp: 0,
            }
        } else {
            Decimal::new(&mant, exp)
        };
        let shortest = precision == Precision::Shortest;
        let mut prec = match precision {
            Precision::Shortest => {
                d.round_shortest(&mant, exp, self.prec);
                let len = d.digits.len() as i64;
                match verb {
                    'e' | 'E' => (len - 1).max(0),
                    'f' => (len - d.exp).max(0),
                    _ => len,
                }
            }
            Precision::Digits(p) => {
                let p = p as i64;
                match verb {
                    'e' | 'E' => d.round(1 + p),
                    'f' => d.round(d.exp + p),
                    _ => d.round(p.max(1)),
                }
                if matches!(verb, 'g' | 'G') {
                    p.max(1)
                } else {
                    p
                }
            }
        };
        match verb {
            'e' | 'E' => fmt_e(&mut out, verb, prec, &d),
            'g' | 'G' => {
                let len = d.digits.len() as i64;
                let mut eprec = prec;
                if eprec > len && len >= d.exp {
                    eprec = len;
                }
                if shortest {
                    eprec = 6;
                }
                let exp = d.exp - 1;
                if exp < -4 || exp >= eprec {
                    prec = prec.min(len);
                    let e = if verb == 'g' { 'e' } else { 'E' };
                    fmt_e(&mut out, e, prec - 1, &d);
                } else {
                    if prec > d.exp {
                        prec = len;
                    }
                    fmt_f(&mut out, (prec - d.exp).max(0), &d);
                }
            }
            _ => fmt_f(&mut out, prec, &d),
        }
        out
    }
}

fn fmt_e(out: &mut String, verb: char, prec: i64, d: &Decimal) {
    out.push(d.digits.first().map_or('0', |&c| c as char));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.at(i) as char);
        }
    }
    out.push(verb);
    let exp = if d.digits.is_empty() { 0 } else { d.exp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    if exp.abs() < 10 {
        out.push('0');
    }
    out.push_str(&exp.abs().to_string());
}

fn fmt_f(out: &mut String, prec: i64, d: &Decimal) {
    if d.exp > 0 {
        for i in 0..d.exp {
            out.push(d.at(i) as char);
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec {
            out.push(d.at(d.exp + i) as char);
        }
    }
}

impl fmt::Display for Number {
    /// Terraform's form: `'f'` with the shortest digits, `-0` for negative zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format('f', Precision::Shortest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        Number::parse(s).unwrap().to_string()
    }

    #[test]
    fn shortest_forms_match_terraform() {
        assert_eq!(text("1e20"), "100000000000000000000");
        assert_eq!(text("1.5e-7"), "0.00000015");
        assert_eq!(text("0"), "0");
        assert_eq!(text("0.5"), "0.5");
        assert_eq!(text("-12.25"), "-12.25");
        let third = Number::parse("1")
            .unwrap()
            .div(&Number::parse("3").unwrap())
            .unwrap();
        assert_eq!(
            third.to_string(),
            "0.33333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333335"
        );
        assert_eq!(Number::from_f64(0.1).unwrap().to_string(), "0.1");
        assert_eq!(Number::from_f64(-0.0).unwrap().to_string(), "-0");
    }

    #[test]
    fn verbs_match_go() {
        let n = |s: &str| Number::parse(s).unwrap();
        assert_eq!(
            n("12345.678").format('e', Precision::Digits(6)),
            "1.234568e+04"
        );
        assert_eq!(
            n("0.000012345").format('g', Precision::Shortest),
            "1.2345e-05"
        );
        assert_eq!(
            n("123456789").format('g', Precision::Shortest),
            "1.23456789e+08"
        );
        assert_eq!(n("3.14159").format('f', Precision::Digits(2)), "3.14");
        assert_eq!(n("2.5").format('f', Precision::Digits(0)), "2");
        assert_eq!(n("100").format('g', Precision::Shortest), "100");
    }
}
