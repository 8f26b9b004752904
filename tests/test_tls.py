"""HTTPS with real certificates (made by trustme): server TLS, custom CA, client certificates."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest
import trustme

import tiercube

from tests.conftest import ADMIN


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1", "localhost")
    paths = {
        "ca": directory / "ca.pem",
        "server": directory / "server.pem",
        "server_key": directory / "server-key.pem",
        "admin": directory / "admin.pem",
        "stranger": directory / "stranger.pem",
    }
    authority.cert_pem.write_to_path(str(paths["ca"]))
    server.private_key_and_cert_chain_pem.write_to_path(str(paths["server"]))
    server.private_key_pem.write_to_path(str(paths["server_key"]))
    # Client certificates: the common name is the user name.
    authority.issue_cert("admin@example.test", common_name="admin").private_key_and_cert_chain_pem.write_to_path(str(paths["admin"]))
    authority.issue_cert("x@example.test", common_name="stranger").private_key_and_cert_chain_pem.write_to_path(str(paths["stranger"]))
    return paths


@pytest.fixture(scope="module")
def tls_owner(certificates: dict[str, Path]) -> Generator[tiercube.Session]:
    config = tiercube.SessionConfig(
        users=[tiercube.UserConfig(name="admin", password=ADMIN.password, roles=["ROLE_ADMIN"])],
        tls=tiercube.TlsConfig(
            certificate=str(certificates["server"]), key=str(certificates["server_key"]), client_ca=str(certificates["ca"])
        ),
    )
    with tiercube.Session.start(config) as session:
        session.create_table("t", data_types={"x": "int64"}).append((1,), (2,))
        yield session


def test_owner_speaks_https(tls_owner: tiercube.Session) -> None:
    assert tls_owner.url.startswith("https://127.0.0.1:")
    assert tls_owner.tables["t"].row_count == 2


def test_password_over_https_with_custom_authority(tls_owner: tiercube.Session, certificates: dict[str, Path]) -> None:
    with tiercube.connect(tls_owner.url, authentication=ADMIN, certificate_authority=certificates["ca"]) as session:
        assert isinstance(session, tiercube.LocalSession)
        assert session.tables["t"].query()["x"].to_pylist() == [1, 2]


def test_client_certificate_authenticates_as_its_common_name(tls_owner: tiercube.Session, certificates: dict[str, Path]) -> None:
    certificate = tiercube.ClientCertificate(certificates["admin"])
    with tiercube.connect(tls_owner.url, authentication=certificate, certificate_authority=certificates["ca"]) as session:
        assert isinstance(session, tiercube.LocalSession)
        assert "authenticated as 'admin'" in str(session.capabilities)
        session.tables["t"].append((3,))
        assert tls_owner.tables["t"].row_count == 3
        session.tables["t"].drop(session.tables["t"]["x"] == 3)


def test_certificate_of_unknown_user_is_rejected(tls_owner: tiercube.Session, certificates: dict[str, Path]) -> None:
    certificate = tiercube.ClientCertificate(certificates["stranger"])
    with pytest.raises(tiercube.AuthenticationError, match="stranger"):
        tiercube.connect(tls_owner.url, authentication=certificate, certificate_authority=certificates["ca"])


def test_unknown_authority_is_a_clear_error(tls_owner: tiercube.Session) -> None:
    with pytest.raises(tiercube.ServerUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        tiercube.connect(tls_owner.url, authentication=ADMIN)
