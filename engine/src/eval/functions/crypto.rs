//! `bcrypt`, `rsadecrypt`, `uuid` and `uuidv5`, as Terraform has them.

use super::super::Phase;
use super::{number_arg, str_arg, FnCtx};
use base64::Engine as _;
use num_bigint::BigUint;
use standby_provider_sdk::Value;

type R = Result<Value, String>;

/// `bcrypt(str, cost)`: a `$2a$` hash with a random salt, cost 10 by default. Like
/// `timestamp()` and `uuid()`, its value would differ at every plan, so it is unknown until
/// apply.
pub(super) fn bcrypt(a: &[Value], ctx: &FnCtx) -> R {
    let text: &str = &str_arg(a, 0)?;
    let cost = match a.get(1) {
        Some(_) => number_arg(a, 1)?
            .to_i64()
            .and_then(|c| u32::try_from(c).ok())
            .filter(|c| (4..=31).contains(c))
            .ok_or("the cost must be a whole number from 4 to 31")?,
        None => 10,
    };
    if ctx.phase != Phase::Apply {
        return Ok(Value::Unknown);
    }
    ::bcrypt::hash_with_result(text, cost)
        .map(|h| Value::String(h.format_for_version(::bcrypt::Version::TwoA)))
        .map_err(|e| format!("error occurred generating password: {e}"))
}

/// `uuid()`: a random version 4 UUID, unknown until apply as in Terraform.
pub(super) fn uuid(_: &[Value], ctx: &FnCtx) -> R {
    if ctx.phase != Phase::Apply {
        return Ok(Value::Unknown);
    }
    Ok(Value::String(uuid::Uuid::new_v4().to_string()))
}

/// `uuidv5(namespace, name)`: the namespace is `dns`, `url`, `oid`, `x500` or a UUID.
pub(super) fn uuidv5(a: &[Value], _: &FnCtx) -> R {
    let ns = match &*str_arg(a, 0)? {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other)
            .map_err(|_| format!("uuidv5() doesn't support namespace {other:?}"))?,
    };
    Ok(Value::String(
        uuid::Uuid::new_v5(&ns, str_arg(a, 1)?.as_bytes()).to_string(),
    ))
}

/// `rsadecrypt(ciphertext, privatekey)`: PKCS #1 v1.5 decryption with a PEM RSA key
/// (`RSA PRIVATE KEY` or an RSA `PRIVATE KEY`).
pub(super) fn rsadecrypt(a: &[Value], _: &FnCtx) -> R {
    let cipher = base64::engine::general_purpose::STANDARD
        .decode(&*str_arg(a, 0)?)
        .map_err(|_| "failed to decode input \"ciphertext\": cipher text must be base64-encoded")?;
    let (n, d) = rsa_key(&str_arg(a, 1)?)?;
    // Decryption costs the cube of the key size: refuse keys no one uses.
    if n.bits() > 16_384 || d >= n {
        return Err(
            "failed to parse key: RSA keys of more than 16384 bits are not supported".into(),
        );
    }
    let c = BigUint::from_bytes_be(&cipher);
    if c >= n {
        return Err("failed to decrypt: the cipher text is larger than the key".into());
    }
    let k = n.to_bytes_be().len();
    let m = c.modpow(&d, &n).to_bytes_be();
    let mut em = vec![0u8; k.saturating_sub(m.len())];
    em.extend(m);
    // 0x00 0x02, at least eight non-zero padding bytes, 0x00, then the message.
    let sep = em.iter().skip(2).position(|b| *b == 0).map(|p| p + 2);
    match sep {
        Some(sep) if em.len() > 11 && em[0] == 0 && em[1] == 2 && sep >= 10 => {
            String::from_utf8(em[sep + 1..].to_vec())
                .map(Value::String)
                .map_err(|_| "the decrypted text is not UTF-8".into())
        }
        _ => Err("failed to decrypt: crypto/rsa: decryption error".into()),
    }
}

/// The modulus and private exponent of a PEM key.
fn rsa_key(pem: &str) -> Result<(BigUint, BigUint), String> {
    let bad = |why: &str| format!("failed to parse key: {why}");
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let pkcs8 = pem.contains("BEGIN PRIVATE KEY");
    if body.is_empty() || !(pkcs8 || pem.contains("BEGIN RSA PRIVATE KEY")) {
        return Err(bad("no RSA private key in PEM form"));
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| bad("the PEM body is not base64"))?;
    let mut rd = Der(&der);
    let mut seq = Der(rd.take(0x30).ok_or_else(|| bad("not a DER sequence"))?);
    let key = if pkcs8 {
        // version, algorithm identifier, then the PKCS #1 key in an octet string.
        seq.take(0x02).ok_or_else(|| bad("no version"))?;
        seq.take(0x30).ok_or_else(|| bad("no algorithm"))?;
        let inner = seq.take(0x04).ok_or_else(|| bad("no key"))?;
        Der(Der(inner).take(0x30).ok_or_else(|| bad("not an RSA key"))?)
    } else {
        seq
    };
    let mut key = key;
    let mut ints = Vec::new();
    for _ in 0..4 {
        ints.push(BigUint::from_bytes_be(
            key.take(0x02).ok_or_else(|| bad("truncated RSA key"))?,
        ));
    }
    // version, n, e, d
    Ok((ints[1].clone(), ints[3].clone()))
}

/// A reader of DER's tag-length-value items.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&t, rest) = self.0.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | usize::from(*b));
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (value, after) = rest.split_at(len);
        self.0 = after;
        Some(value)
    }
}
