//! go-plugin's automatic mutual TLS, as Terraform does it: the client makes a self-signed
//! certificate for this run and hands it to the plugin (`PLUGIN_CLIENT_CERT`); the plugin
//! answers with its own self-signed certificate in the handshake line. The client then trusts
//! exactly that certificate (pinned, byte for byte) and presents its own.
//!
//! go-plugin's certificates use ECDSA P-521, which ring does not verify; P-521 signatures are
//! checked with the RustCrypto `p521` crate, everything else with ring.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{
    alg_id, AlgorithmIdentifier, CertificateDer, InvalidSignature, PrivateKeyDer,
    PrivatePkcs8KeyDer, ServerName, SignatureVerificationAlgorithm, UnixTime,
};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::Digest as _;
use std::sync::Arc;

/// This run's client certificate: PEM for the plugin's environment, DER and key for TLS.
pub(crate) struct ClientCert {
    pub pem: String,
    der: CertificateDer<'static>,
    key: Vec<u8>,
}

/// A certificate like go-plugin's own: self-signed, for `localhost`, for client and server
/// authentication. Unlike go-plugin's it is not a CA: the plugin trusts it as its own root,
/// and a provider whose TLS is rustls (tf-provider's) refuses a CA certificate as a client's
/// (`CaUsedAsEndEntity`), while Go accepts a leaf that is itself in the root pool.
pub(crate) fn client_cert() -> Result<ClientCert, String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("cannot make a key: {e}"))?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "standby");
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyAgreement,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    Ok(ClientCert {
        pem: cert.pem(),
        der: cert.der().clone(),
        key: key.serialize_der(),
    })
}

/// ECDSA over P-521 with one of the SHA-2 hashes: go-plugin's certificates are signed with
/// SHA-512, and a TLS 1.2 server signs its key exchange with whichever hash the client offers.
#[derive(Debug)]
struct EcdsaP521 {
    hash: fn(&[u8]) -> Vec<u8>,
    signature: AlgorithmIdentifier,
}

impl SignatureVerificationAlgorithm for EcdsaP521 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        use p521::ecdsa::signature::hazmat::PrehashVerifier as _;
        let key =
            p521::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let sig = p521::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify_prehash(&(self.hash)(message), &sig)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P521
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature
    }
}

static P521_SHA384: EcdsaP521 = EcdsaP521 {
    hash: |m| sha2::Sha384::digest(m).to_vec(),
    signature: alg_id::ECDSA_SHA384,
};
static P521_SHA512: EcdsaP521 = EcdsaP521 {
    hash: |m| sha2::Sha512::digest(m).to_vec(),
    signature: alg_id::ECDSA_SHA512,
};
static P521_SHA512_ONLY: &[&dyn SignatureVerificationAlgorithm] = &[&P521_SHA512];

/// Trusts one certificate, the one the plugin announced.
#[derive(Debug)]
struct Pinned {
    cert: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

/// ring's signature algorithms and P-521; built once, since rustls wants them `'static`.
fn algorithms() -> WebPkiSupportedAlgorithms {
    static ALGORITHMS: std::sync::OnceLock<WebPkiSupportedAlgorithms> = std::sync::OnceLock::new();
    *ALGORITHMS.get_or_init(|| {
        let ring = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        let all = Box::leak(
            [ring.all, &[&P521_SHA384, &P521_SHA512]]
                .concat()
                .into_boxed_slice(),
        );
        // In TLS 1.2 a scheme names only the hash: a P-521 key may sign under any of them.
        let mut mapping: Vec<(
            SignatureScheme,
            &'static [&'static dyn SignatureVerificationAlgorithm],
        )> = Vec::new();
        for (scheme, algs) in ring.mapping {
            // (P-521 needs a digest of at least 33 bytes: SHA-256 cannot be used with it.)
            let extra: &'static dyn SignatureVerificationAlgorithm = match *scheme {
                SignatureScheme::ECDSA_NISTP384_SHA384 => &P521_SHA384,
                _ => {
                    mapping.push((*scheme, algs));
                    continue;
                }
            };
            mapping.push((
                *scheme,
                Box::leak([*algs, &[extra]].concat().into_boxed_slice()),
            ));
        }
        mapping.push((SignatureScheme::ECDSA_NISTP521_SHA512, P521_SHA512_ONLY));
        WebPkiSupportedAlgorithms {
            all,
            mapping: Box::leak(mapping.into_boxed_slice()),
        }
    })
}

impl Pinned {
    fn new(cert: Vec<u8>) -> Pinned {
        Pinned {
            cert,
            algorithms: algorithms(),
        }
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The client side of the plugin's TLS: its announced certificate pinned, ours presented.
pub(crate) fn client_config(
    ours: &ClientCert,
    theirs: Vec<u8>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned::new(theirs)))
        .with_client_auth_cert(
            vec![ours.der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ours.key.clone())),
        )
        .map_err(|e| format!("the client certificate is refused: {e}"))?;
    // gRPC over TLS negotiates HTTP/2 by ALPN; newer gRPC servers insist on it.
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}
