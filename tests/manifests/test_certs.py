"""The gRPC certificates: they chain to the CA, carry the right usages and names, and do mutual TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from falcotui.falco.certs import CertificateDataError, GrpcCerts, generate_grpc_certs


@pytest.fixture(scope="module")
def certs() -> GrpcCerts:
    return generate_grpc_certs(("localhost", "127.0.0.1", "falco.falco.svc"), days=30)


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def test_ca_is_a_signing_ca(certs) -> None:
    ca = _cert(certs.ca_crt)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    ca.verify_directly_issued_by(ca)


def test_server_cert_chains_to_the_ca_for_every_name(certs) -> None:
    ca, server = _cert(certs.ca_crt), _cert(certs.server_crt)
    server.verify_directly_issued_by(ca)
    usages = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "falco.falco.svc"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    store = Store([ca])
    for name in (
        x509.DNSName("localhost"),
        x509.DNSName("falco.falco.svc"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ):
        verifier = PolicyBuilder().store(store).build_server_verifier(name)
        verifier.verify(server, [])
    with pytest.raises(VerificationError):
        PolicyBuilder().store(store).build_server_verifier(x509.DNSName("evil.example")).verify(server, [])


def test_client_cert_is_a_client_auth_cert_from_the_ca(certs) -> None:
    ca, client = _cert(certs.ca_crt), _cert(certs.client_crt)
    client.verify_directly_issued_by(ca)
    usages = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "falcotui"
    verifier = PolicyBuilder().store(Store([ca])).build_client_verifier()
    verifier.verify(client, [])
    # A client cert must not pass as a server cert.
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store([ca])).build_server_verifier(x509.DNSName("localhost")).verify(client, [])


def test_keys_match_their_certs_and_validity(certs) -> None:
    for crt, key in ((certs.server_crt, certs.server_key), (certs.client_crt, certs.client_key)):
        public = serialization.load_pem_private_key(key, None).public_key()
        assert public == _cert(crt).public_key()
    server = _cert(certs.server_crt)
    lifetime = server.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=29) < lifetime <= dt.timedelta(days=30)


def test_two_generations_share_nothing() -> None:
    a, b = generate_grpc_certs(), generate_grpc_certs()
    assert a.ca_crt != b.ca_crt and a.server_key != b.server_key
    with pytest.raises(InvalidSignature):
        _cert(b.server_crt).verify_directly_issued_by(_cert(a.ca_crt))


def test_secret_data_round_trip_and_bad_data(certs) -> None:
    data = certs.to_secret_data()
    assert list(data) == ["ca.crt", "server.crt", "server.key", "client.crt", "client.key"]
    assert GrpcCerts.from_secret_data(data) == certs
    with pytest.raises(CertificateDataError, match=r"client\.key"):
        GrpcCerts.from_secret_data({k: v for k, v in data.items() if k != "client.key"})
    with pytest.raises(CertificateDataError, match="base64"):
        GrpcCerts.from_secret_data({**data, "ca.crt": "not base64!"})
    with pytest.raises(CertificateDataError, match="PEM"):
        GrpcCerts.from_secret_data({**data, "ca.crt": "aGVsbG8="})
    with pytest.raises(CertificateDataError):
        GrpcCerts.from_secret_data(None)


_KEYS = st.sampled_from(["ca.crt", "server.crt", "server.key", "client.crt", "client.key", "other"])
_VALUES = st.one_of(st.text(max_size=40), st.binary(max_size=40), st.integers(), st.none())


# as the other property tests: a loaded machine (a CI neighbour, the suite's servers) makes input generation
# "slow" to hypothesis's health check and trips its 200 ms deadline, which says nothing about the property
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_any_bad_secret_data_gives_our_error(data) -> None:
    with pytest.raises(CertificateDataError):
        GrpcCerts.from_secret_data(data)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="server name"):
        generate_grpc_certs(())
    with pytest.raises(ValueError, match="days"):
        generate_grpc_certs(days=0)


def test_mutual_tls_handshake_over_loopback(certs, tmp_path: Path) -> None:
    """The certs work as Falco uses them: the server demands a client cert signed by the same CA."""
    for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key"):
        (tmp_path / name).write_bytes(getattr(certs, name.replace(".", "_")))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    server_ctx.load_verify_locations(tmp_path / "ca.crt")
    server_ctx.verify_mode = ssl.CERT_REQUIRED

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]
    peers: list[str] = []

    def serve(count: int) -> None:
        for _ in range(count):
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    peer = tls.getpeercert()
                    peers.append(dict(x[0] for x in peer["subject"])["commonName"])
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                peers.append("refused")

    thread = threading.Thread(target=serve, args=(2,), daemon=True)
    thread.start()
    try:
        client_ctx = ssl.create_default_context(cafile=tmp_path / "ca.crt")
        client_ctx.load_cert_chain(tmp_path / "client.crt", tmp_path / "client.key")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.recv(2) == b"ok"

        anonymous = ssl.create_default_context(cafile=tmp_path / "ca.crt")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                with anonymous.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.recv(2)
        thread.join(10)
    finally:
        listener.close()
    assert peers == ["falcotui", "refused"]
