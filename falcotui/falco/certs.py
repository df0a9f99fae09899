"""Generate the mutual-TLS material for Falco's gRPC server: a CA, a server cert and a client cert."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Secret data keys, in the order they are written.
SECRET_KEYS: tuple[str, ...] = ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")
#: What Falco's pods mount (the server side) and what only falcotui reads (the client side; the server's
#: certificate, not its key, lets the client check which name the server presents).
SERVER_KEYS: tuple[str, ...] = ("ca.crt", "server.crt", "server.key")
CLIENT_KEYS: tuple[str, ...] = ("ca.crt", "server.crt", "client.crt", "client.key")
#: Lifetime of generated certificates, and how long before expiry an apply replaces them instead of
#: reusing them. Short enough that a leaked client key stops working within a quarter.
DEFAULT_DAYS = 90
RENEW_BEFORE_DAYS = 30

_FIELD_BY_KEY = {
    "ca.crt": "ca_crt",
    "server.crt": "server_crt",
    "server.key": "server_key",
    "client.crt": "client_crt",
    "client.key": "client_key",
}


class CertificateDataError(ValueError):
    """Secret data that does not hold a complete, decodable set of gRPC certificates."""


@dataclass(frozen=True)
class GrpcCerts:
    """PEM-encoded certificates and keys for Falco's gRPC server and the falcotui client."""

    ca_crt: bytes
    server_crt: bytes
    server_key: bytes
    client_crt: bytes
    client_key: bytes

    def to_secret_data(self, keys: Sequence[str] = SECRET_KEYS) -> dict[str, str]:
        """The `data` of a Kubernetes Secret: each PEM base64-encoded under its file name (`keys`: which)."""
        return {key: base64.b64encode(getattr(self, _FIELD_BY_KEY[key])).decode("ascii") for key in keys}

    def expires(self) -> _dt.datetime:
        """When the first of the certificates (CA, server, client; those present) stops being valid."""
        pems = [p for p in (self.ca_crt, self.server_crt, self.client_crt) if p]
        return min(x509.load_pem_x509_certificate(p).not_valid_after_utc for p in pems)

    def expires_within(self, days: float, now: _dt.datetime | None = None) -> bool:
        return self.expires() - (now or _dt.datetime.now(_dt.UTC)) < _dt.timedelta(days=days)

    @classmethod
    def from_secret_data(
        cls, data: Mapping[str, str | bytes] | None, keys: Sequence[str] = SECRET_KEYS
    ) -> GrpcCerts:
        """Rebuild from a Secret's `data` (base64 values) holding `keys` (the rest stay empty); raises
        CertificateDataError if incomplete."""
        if not isinstance(data, Mapping) or not data:
            raise CertificateDataError("the Secret has no data")
        missing = [key for key in keys if not data.get(key)]
        if missing:
            raise CertificateDataError(f"the Secret lacks {', '.join(missing)}")
        fields: dict[str, bytes] = dict.fromkeys(_FIELD_BY_KEY.values(), b"")
        for key in keys:
            if not isinstance(data[key], str | bytes):
                raise CertificateDataError(f"{key} is not a base64 string")
            try:
                pem = base64.b64decode(data[key], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise CertificateDataError(f"{key} is not valid base64: {exc}") from None
            if not pem.lstrip().startswith(b"-----BEGIN "):
                raise CertificateDataError(f"{key} does not hold PEM data")
            fields[_FIELD_BY_KEY[key]] = pem
        certs = cls(**fields)
        try:
            certs.expires()
        except ValueError as exc:
            raise CertificateDataError(f"a certificate does not parse: {exc}") from None
        return certs


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "falcotui"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san_entries(server_names: Sequence[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for name in server_names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    not_before: _dt.datetime,
    not_after: _dt.datetime,
    *,
    ca: bool,
) -> x509.CertificateBuilder:
    """A certificate's common part: names, key, serial, validity, and the basic constraints and key usage of
    a CA (signs certificates, at most one level below it) or of an ECDSA leaf (signs, agrees keys)."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=not ca,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


def _leaf(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
    not_before: _dt.datetime,
    not_after: _dt.datetime,
) -> x509.Certificate:
    builder = (
        _builder(_name(subject), ca_name, key, not_before, not_after, ca=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
    )
    return builder.sign(ca_key, hashes.SHA256())


def generate_grpc_certs(
    server_names: Sequence[str] = ("localhost", "127.0.0.1"), days: int = DEFAULT_DAYS
) -> GrpcCerts:
    """A fresh CA plus a server cert (serverAuth, SANs from `server_names`) and a client cert (clientAuth).

    Names that parse as IP addresses become IP SANs, the rest DNS SANs; the first name is the server's CN.
    """
    if isinstance(server_names, str):
        server_names = (server_names,)
    names = [n.strip() for n in server_names if n and n.strip()]
    if not names:
        raise ValueError("at least one server name is needed for the server certificate")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")

    now = _dt.datetime.now(_dt.UTC)
    not_before = now - _dt.timedelta(minutes=5)  # tolerate small clock skew between hosts
    not_after = now + _dt.timedelta(days=days)

    ca_key = _key()
    ca_name = _name("falcotui gRPC CA")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key, not_before, not_after, ca=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = _key()
    server_cert = _leaf(
        names[0],
        server_key,
        ca_name,
        ca_key,
        ExtendedKeyUsageOID.SERVER_AUTH,
        _san_entries(names),
        not_before,
        not_after,
    )
    client_key = _key()
    client_cert = _leaf(
        "falcotui",
        client_key,
        ca_name,
        ca_key,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        [x509.DNSName("falcotui")],  # strict RFC 5280 verifiers want a SAN on client certs too
        not_before,
        not_after,
    )

    pem = serialization.Encoding.PEM
    return GrpcCerts(
        ca_crt=ca_cert.public_bytes(pem),
        server_crt=server_cert.public_bytes(pem),
        server_key=_key_pem(server_key),
        client_crt=client_cert.public_bytes(pem),
        client_key=_key_pem(client_key),
    )
