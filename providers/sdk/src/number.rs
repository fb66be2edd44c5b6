//! Numbers as Terraform has them: binary floating point with 512 bits of mantissa.
//!
//! Terraform's values (cty) hold numbers in Go's `big.Float`. A literal is parsed at 512 bits,
//! rounded to nearest even; an operation's result takes the larger precision of its operands;
//! a number made from a Go `float64` (`pow`, `log`) has 53 bits and one made from an `int`
//! (`length`) has 64. The precision matters because a number prints as the shortest decimal
//! that reads back to the same value at its precision: `1 / 3` prints 155 digits, `0.1 + 0.2`
//! prints `0.3` and equals `0.3`. This type keeps the precision so standby prints what
//! Terraform prints. Decimal forms live in `number_fmt.rs`.

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{One, ToPrimitive, Zero};
use std::cmp::Ordering;

/// The precision of a number literal, in bits.
pub const LITERAL_PRECISION: u32 = 512;

/// Decimal exponents beyond this are refused when parsing: printing such a number would take
/// tens of thousands of digits, and the exact arithmetic below would be slow.
const MAX_DECIMAL_EXPONENT: i64 = 10_000;

/// The most digits a decimal text may have: parsing is quadratic in its length.
const MAX_DIGITS: usize = 20_000;

/// Results whose magnitude passes 2^±this overflow to infinity or underflow to zero, as Go's
/// `big.Float` does at 2^±2147483647: standby stops sooner, so that no result takes more
/// than about 12,000 decimal digits to print.
const MAX_BINARY_EXPONENT: i64 = 40_000;

/// A number of the topology language. See the module documentation.
#[derive(Clone, Debug)]
pub struct Number {
    pub(crate) neg: bool,
    pub(crate) kind: Kind,
    pub(crate) prec: u32,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Zero,
    /// `mant * 2^exp`, with `mant` odd and at most `prec` bits long.
    Finite {
        mant: BigUint,
        exp: i64,
    },
    Inf,
}

/// Why an operation has no numeric result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// `0 / 0`, `Inf - Inf` and the like.
    NotANumber,
    /// The text is not a number.
    Syntax,
    /// The exponent is too large to compute with.
    OutOfRange,
}

impl std::fmt::Display for NumberError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NumberError::NotANumber => "the result is not a number",
            NumberError::Syntax => "not a number",
            NumberError::OutOfRange => "the number is out of range",
        })
    }
}

impl std::error::Error for NumberError {}

impl Number {
    fn zero(neg: bool, prec: u32) -> Number {
        Number {
            neg,
            kind: Kind::Zero,
            prec,
        }
    }

    /// Positive or negative infinity, as `1 / 0` gives.
    pub fn infinity(neg: bool) -> Number {
        Number {
            neg,
            kind: Kind::Inf,
            prec: 0,
        }
    }

    /// Rounds `mant * 2^exp` (plus less than one unit of its last place when `sticky`) to
    /// `prec` bits, to nearest even.
    fn round(neg: bool, mut mant: BigUint, mut exp: i64, sticky: bool, prec: u32) -> Number {
        if mant.is_zero() {
            return Number::zero(neg, prec);
        }
        let bits = mant.bits();
        if bits > u64::from(prec) {
            let shift = bits - u64::from(prec);
            let half = mant.bit(shift - 1);
            let rest = sticky || mant.trailing_zeros().is_some_and(|t| t < shift - 1);
            mant >>= shift;
            exp += shift as i64;
            if half && (rest || mant.bit(0)) {
                mant += 1u32;
            }
        }
        let tz = mant.trailing_zeros().unwrap_or(0);
        mant >>= tz;
        let top = exp + tz as i64 + mant.bits() as i64;
        if top > MAX_BINARY_EXPONENT {
            return Number::infinity(neg);
        }
        if top < -MAX_BINARY_EXPONENT {
            return Number::zero(neg, prec);
        }
        Number {
            neg,
            kind: Kind::Finite {
                mant,
                exp: exp + tz as i64,
            },
            prec,
        }
    }

    /// An exact integer, with the precision Go gives `big.Float.SetInt`.
    pub fn from_bigint(i: &BigInt) -> Number {
        let prec = u32::try_from(i.bits()).unwrap_or(u32::MAX).max(64);
        Number::round(
            i.sign() == Sign::Minus,
            i.magnitude().clone(),
            0,
            false,
            prec,
        )
    }

    /// An exact integer of 64 bits of precision, as Terraform's `length` returns.
    pub fn from_i64(i: i64) -> Number {
        Number::round(i < 0, BigUint::from(i.unsigned_abs()), 0, false, 64)
    }

    /// The exact value of a float, with 53 bits of precision; `None` for NaN.
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            return None;
        }
        let neg = f.is_sign_negative();
        if f.is_infinite() {
            return Some(Number::infinity(neg));
        }
        if f == 0.0 {
            return Some(Number::zero(neg, 53));
        }
        let bits = f.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (mant, exp) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), biased - 1075)
        };
        Some(Number::round(neg, BigUint::from(mant), exp, false, 53))
    }

    /// Parses a decimal literal such as `12`, `-0.5` or `1.5e-7` at 512 bits, as Terraform
    /// parses number literals and `tonumber` its strings. Surrounding spaces are an error.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        let (neg, body) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exp10) = match body.find(['e', 'E']) {
            Some(i) => {
                let e: i64 = body[i + 1..].parse().map_err(|_| NumberError::Syntax)?;
                (&body[..i], e)
            }
            None => (body, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(NumberError::Syntax);
        }
        let digits = format!("{int}{frac}");
        if digits.len() > MAX_DIGITS {
            return Err(NumberError::OutOfRange);
        }
        let d = BigUint::parse_bytes(digits.as_bytes(), 10).unwrap_or_default();
        let exp10 = exp10.saturating_sub(frac.len() as i64);
        if d.is_zero() {
            return Ok(Number::zero(neg, LITERAL_PRECISION));
        }
        if exp10.unsigned_abs() > (MAX_DECIMAL_EXPONENT as u64) + digits.len() as u64 {
            return Err(NumberError::OutOfRange);
        }
        Ok(Number::from_decimal(neg, d, exp10, LITERAL_PRECISION))
    }

    /// `d * 10^exp10` rounded to `prec` bits.
    fn from_decimal(neg: bool, d: BigUint, exp10: i64, prec: u32) -> Number {
        if exp10 >= 0 {
            let p = pow10(exp10 as u64);
            return Number::round(neg, d * p, 0, false, prec);
        }
        let den = pow10(exp10.unsigned_abs());
        divide(neg, &d, 0, &den, 0, prec)
    }

    /// True for zero of either sign.
    pub fn is_zero(&self) -> bool {
        matches!(self.kind, Kind::Zero)
    }

    /// True for negative numbers, negative zero included.
    pub fn is_negative(&self) -> bool {
        self.neg
    }

    /// True for the infinities.
    pub fn is_infinite(&self) -> bool {
        matches!(self.kind, Kind::Inf)
    }

    /// True for finite integral values.
    pub fn is_integer(&self) -> bool {
        match &self.kind {
            Kind::Zero => true,
            Kind::Finite { exp, .. } => *exp >= 0,
            Kind::Inf => false,
        }
    }

    /// The value rounded toward zero, unless infinite.
    pub fn trunc_int(&self) -> Option<BigInt> {
        let mag = match &self.kind {
            Kind::Zero => BigUint::zero(),
            Kind::Finite { mant, exp } if *exp >= 0 => mant << (*exp as u64),
            Kind::Finite { mant, exp } => mant >> exp.unsigned_abs(),
            Kind::Inf => return None,
        };
        let sign = if self.neg { Sign::Minus } else { Sign::Plus };
        Some(BigInt::from_biguint(sign, mag))
    }

    /// The value as an `i64`, if it is an integer in range.
    pub fn to_i64(&self) -> Option<i64> {
        if !self.is_integer() {
            return None;
        }
        self.trunc_int()?.to_i64()
    }

    /// The value as a `usize`, if it is a non-negative integer in range.
    pub fn to_usize(&self) -> Option<usize> {
        self.to_i64().and_then(|i| usize::try_from(i).ok())
    }

    /// The nearest `f64`.
    pub fn to_f64(&self) -> f64 {
        let sign = if self.neg { -1.0 } else { 1.0 };
        match &self.kind {
            Kind::Zero => sign * 0.0,
            Kind::Inf => sign * f64::INFINITY,
            Kind::Finite { mant, exp } => {
                let r = Number::round(false, mant.clone(), *exp, false, 53);
                let Kind::Finite { mant, exp } = r.kind else {
                    return 0.0;
                };
                let m = mant.to_f64().unwrap_or(f64::INFINITY);
                // Two steps keep the intermediate power of two inside f64's range.
                let half = exp / 2;
                sign * m * 2f64.powi(half as i32) * 2f64.powi((exp - half) as i32)
            }
        }
    }

    /// The precision in bits, as Go's `big.Float.Prec`.
    pub fn precision(&self) -> u32 {
        self.prec
    }

    /// `-self`.
    pub fn neg(&self) -> Number {
        let mut n = self.clone();
        n.neg = !n.neg;
        n
    }

    /// `|self|`.
    pub fn abs(&self) -> Number {
        let mut n = self.clone();
        n.neg = false;
        n
    }

    /// `self + other`.
    pub fn add(&self, other: &Number) -> Result<Number, NumberError> {
        let prec = self.prec.max(other.prec);
        match (&self.kind, &other.kind) {
            (Kind::Inf, Kind::Inf) if self.neg != other.neg => Err(NumberError::NotANumber),
            (Kind::Inf, _) => Ok(self.clone()),
            (_, Kind::Inf) => Ok(other.clone()),
            (Kind::Zero, Kind::Zero) => Ok(Number::zero(self.neg && other.neg, prec)),
            (Kind::Zero, _) => Ok(other.with_prec(prec)),
            (_, Kind::Zero) => Ok(self.with_prec(prec)),
            (Kind::Finite { mant: ma, exp: ea }, Kind::Finite { mant: mb, exp: eb }) => {
                Ok(add_finite((self.neg, ma, *ea), (other.neg, mb, *eb), prec))
            }
        }
    }

    /// `self - other`.
    pub fn sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.add(&other.neg())
    }

    /// `self * other`.
    pub fn mul(&self, other: &Number) -> Result<Number, NumberError> {
        let prec = self.prec.max(other.prec);
        let neg = self.neg != other.neg;
        match (&self.kind, &other.kind) {
            (Kind::Inf, Kind::Zero) | (Kind::Zero, Kind::Inf) => Err(NumberError::NotANumber),
            (Kind::Inf, _) | (_, Kind::Inf) => Ok(Number::infinity(neg)),
            (Kind::Zero, _) | (_, Kind::Zero) => Ok(Number::zero(neg, prec)),
            (Kind::Finite { mant: ma, exp: ea }, Kind::Finite { mant: mb, exp: eb }) => {
                Ok(Number::round(neg, ma * mb, ea + eb, false, prec))
            }
        }
    }

    /// `self / other`; a non-zero number divided by zero is infinite, as in Terraform.
    pub fn div(&self, other: &Number) -> Result<Number, NumberError> {
        let prec = self.prec.max(other.prec);
        let neg = self.neg != other.neg;
        match (&self.kind, &other.kind) {
            (Kind::Zero, Kind::Zero) | (Kind::Inf, Kind::Inf) => Err(NumberError::NotANumber),
            (Kind::Inf, _) | (_, Kind::Zero) => Ok(Number::infinity(neg)),
            (Kind::Zero, _) | (_, Kind::Inf) => Ok(Number::zero(neg, prec)),
            (Kind::Finite { mant: ma, exp: ea }, Kind::Finite { mant: mb, exp: eb }) => {
                Ok(divide(neg, ma, *ea, mb, *eb, prec))
            }
        }
    }

    /// `self % other` as Terraform computes it: `x - y * trunc(x / y)`, so the result has the
    /// sign of the dividend, and `x % 0` is `x`.
    pub fn rem(&self, other: &Number) -> Result<Number, NumberError> {
        if self.is_infinite() || other.is_infinite() {
            return self.mul(other);
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        let t = self.div(other)?.trunc_int().unwrap_or_default();
        let product = other.mul(&Number::from_bigint(&t))?;
        self.sub(&product)
    }

    /// The value rounded to `prec` bits.
    pub fn with_prec(&self, prec: u32) -> Number {
        match &self.kind {
            Kind::Finite { mant, exp } => Number::round(self.neg, mant.clone(), *exp, false, prec),
            _ => Number {
                prec,
                ..self.clone()
            },
        }
    }

    /// The largest integer not above the value.
    pub fn floor(&self) -> Number {
        self.to_integer(true)
    }

    /// The smallest integer not below the value.
    pub fn ceil(&self) -> Number {
        self.to_integer(false)
    }

    fn to_integer(&self, down: bool) -> Number {
        if self.is_integer() || self.is_infinite() {
            return self.clone();
        }
        let t = self.trunc_int().unwrap_or_default();
        let adjust = if down == self.neg {
            if self.neg {
                BigInt::from(-1)
            } else {
                BigInt::one()
            }
        } else {
            BigInt::zero()
        };
        // Terraform sets the integer into the same big.Float: its precision stays, and a
        // zero result is +0.
        let r = t + adjust;
        if r.is_zero() {
            return Number::zero(false, self.prec);
        }
        Number::from_bigint(&r).with_prec(self.prec)
    }

    /// A text that is the same for equal numbers and different for unequal ones, whatever
    /// their precision: for keying sets and `distinct`.
    pub fn exact_key(&self) -> String {
        match &self.kind {
            Kind::Zero => "0".into(),
            Kind::Inf => if self.neg { "-inf" } else { "inf" }.into(),
            Kind::Finite { mant, exp } => {
                format!(
                    "{}{}p{exp}",
                    if self.neg { "-" } else { "" },
                    mant.to_str_radix(16)
                )
            }
        }
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i64 {
        match self.kind {
            Kind::Zero => 0,
            _ if self.neg => -1,
            _ => 1,
        }
    }
}

fn pow10(e: u64) -> BigUint {
    num_traits::pow::pow(BigUint::from(10u32), e as usize)
}

/// `(ma * 2^ea) / (mb * 2^eb)`, correctly rounded to `prec` bits.
fn divide(neg: bool, ma: &BigUint, ea: i64, mb: &BigUint, eb: i64, prec: u32) -> Number {
    // Enough quotient bits that the remainder only decides ties (the sticky bit).
    let k = (i64::from(prec) + 2 + mb.bits() as i64 - ma.bits() as i64).max(0) as u64;
    let num = ma << k;
    let q = &num / mb;
    let sticky = !(num % mb).is_zero();
    Number::round(neg, q, ea - eb - k as i64, sticky, prec)
}

fn add_finite(a: (bool, &BigUint, i64), b: (bool, &BigUint, i64), prec: u32) -> Number {
    let top = |m: &BigUint, e: i64| e + m.bits() as i64;
    let (big, small) = if top(a.1, a.2) >= top(b.1, b.2) {
        (a, b)
    } else {
        (b, a)
    };
    // When the smaller operand lies wholly below the rounding position, it only decides
    // the direction of rounding: keep it as a sticky bit instead of shifting by its exponent.
    if top(big.1, big.2) > top(small.1, small.2) + i64::from(prec) + 2 {
        let s = (i64::from(prec) + 2 - big.1.bits() as i64).max(0) as u64;
        let m = big.1 << s;
        let m = if big.0 == small.0 { m } else { m - 1u32 };
        return Number::round(big.0, m, big.2 - s as i64, true, prec);
    }
    let e = a.2.min(b.2);
    let x = a.1 << (a.2 - e) as u64;
    let y = b.1 << (b.2 - e) as u64;
    if a.0 == b.0 {
        return Number::round(a.0, x + y, e, false, prec);
    }
    match x.cmp(&y) {
        Ordering::Equal => Number::zero(false, prec),
        Ordering::Greater => Number::round(a.0, x - y, e, false, prec),
        Ordering::Less => Number::round(b.0, y - x, e, false, prec),
    }
}

impl PartialEq for Number {
    /// Numeric equality, as Terraform's `==`: `0 == -0`, and precision does not matter.
    fn eq(&self, other: &Number) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Number {}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        let rank = |n: &Number| match n.kind {
            Kind::Zero => 0,
            _ if n.neg => -1,
            _ => 1,
        };
        match rank(self).cmp(&rank(other)) {
            Ordering::Equal if rank(self) == 0 => Ordering::Equal,
            Ordering::Equal => {
                let m = magnitude_cmp(self, other);
                if self.neg {
                    m.reverse()
                } else {
                    m
                }
            }
            o => o,
        }
    }
}

fn magnitude_cmp(a: &Number, b: &Number) -> Ordering {
    match (&a.kind, &b.kind) {
        (Kind::Inf, Kind::Inf) => Ordering::Equal,
        (Kind::Inf, _) => Ordering::Greater,
        (_, Kind::Inf) => Ordering::Less,
        (Kind::Finite { mant: ma, exp: ea }, Kind::Finite { mant: mb, exp: eb }) => {
            let ta = ea + ma.bits() as i64;
            let tb = eb + mb.bits() as i64;
            ta.cmp(&tb).then_with(|| {
                let e = (*ea).min(*eb);
                (ma << (ea - e) as u64).cmp(&(mb << (eb - e) as u64))
            })
        }
        _ => Ordering::Equal,
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Number {
        Number::from_i64(i)
    }
}

impl From<usize> for Number {
    fn from(i: usize) -> Number {
        Number::from_i64(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn literals_are_exact_at_512_bits() {
        assert_eq!(n("0.1").add(&n("0.2")).unwrap(), n("0.3"));
        assert_eq!(n("9007199254740993").to_string(), "9007199254740993");
        assert_eq!(
            n("12345678901234567890").to_string(),
            "12345678901234567890"
        );
        assert_ne!(
            n("0.1").add(&n("0.2")).unwrap(),
            Number::from_f64(0.3).unwrap()
        );
    }

    #[test]
    fn sticky_addition_rounds_like_exact_addition() {
        let big = n("1e200");
        let tiny = n("1e-200");
        assert_eq!(big.add(&tiny).unwrap(), big);
        assert!(big.sub(&tiny).unwrap() < big || big.sub(&tiny).unwrap() == big);
        assert_eq!(tiny.add(&big).unwrap().to_string(), big.to_string());
    }

    #[test]
    fn huge_exponents_are_refused_not_computed() {
        let big = n("1e9000");
        let mut x = big.clone();
        for _ in 0..10 {
            x = x.mul(&big).unwrap();
        }
        assert!(x.is_infinite());
        assert!(matches!(
            Number::parse(&"1".repeat(30_000)),
            Err(NumberError::OutOfRange)
        ));
        assert!(matches!(
            Number::parse("1e100000"),
            Err(NumberError::OutOfRange)
        ));
        assert!(matches!(Number::parse(" 1"), Err(NumberError::Syntax)));
        assert!(Number::parse("1e-9223372036854775808").is_err());
        assert!(Number::parse("0.5e-9223372036854775807").is_err());
        assert_eq!(n("1.").to_string(), "1");
    }

    #[test]
    fn remainder_follows_terraform() {
        assert_eq!(n("5").rem(&n("0")).unwrap(), n("5"));
        assert_eq!(n("-5").rem(&n("3")).unwrap(), n("-2"));
        assert_eq!(n("5.5").rem(&n("2")).unwrap(), n("1.5"));
    }

    #[test]
    fn floor_and_ceil() {
        assert_eq!(n("-1.5").floor(), n("-2"));
        assert_eq!(n("-1.5").ceil(), n("-1"));
        assert_eq!(n("1.5").floor(), n("1"));
        assert_eq!(n("1.5").ceil(), n("2"));
        assert_eq!(n("0.5").floor(), n("0"));
    }

    #[test]
    fn f64_round_trips() {
        for f in [0.1, -2.5, 1e300, 5e-324, 123456789.0] {
            assert_eq!(Number::from_f64(f).unwrap().to_f64(), f);
        }
        assert_eq!(n("0.1").to_f64(), 0.1);
    }
}
