"""The standard-library RSA verify (monitor/rsa_verify.py) against the `cryptography` package (moto's
dependency in the venv; never the layer's): what cryptography signs verifies, anything else fails,
and a key that is not a well-formed 2048-4096-bit RSA SubjectPublicKeyInfo is refused."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from aepflow.monitor.rsa_verify import KeyRefused, load_public_key, verify

MESSAGE = b'{"event_id":"1","recipient_client_id":"abc","event":{"id":"run"}}'


def _pem(public_key) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def keys():
    """Two 2048-bit keys and a 3072-bit one (generated once: about 0.1-0.5 s)."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=size) for size in (2048, 2048, 3072)]


def _sign(private, message: bytes = MESSAGE, digest=None) -> bytes:
    return private.sign(message, padding.PKCS1v15(), digest or hashes.SHA256())


def test_a_signature_cryptography_makes_verifies_and_the_key_reads_as_cryptography_reads_it(keys):
    for private in keys:
        key = load_public_key(_pem(private.public_key()))
        numbers = private.public_key().public_numbers()
        assert (key.n, key.e) == (numbers.n, numbers.e)
        assert verify(key, MESSAGE, _sign(private))
        assert verify(key, b"", _sign(private, b""))


def test_any_flipped_bit_of_the_signature_or_the_message_fails(keys):
    private = keys[0]
    key, signature = load_public_key(_pem(private.public_key())), _sign(private)
    for bit in range(0, len(signature) * 8, 61):
        flipped = bytearray(signature)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert not verify(key, MESSAGE, bytes(flipped))
    for bit in range(0, len(MESSAGE) * 8, 7):
        changed = bytearray(MESSAGE)
        changed[bit // 8] ^= 1 << (bit % 8)
        assert not verify(key, bytes(changed), signature)


def test_another_key_another_hash_or_another_padding_fails(keys):
    first, second = keys[0], keys[1]
    assert not verify(load_public_key(_pem(second.public_key())), MESSAGE, _sign(first))
    key = load_public_key(_pem(first.public_key()))
    assert not verify(key, MESSAGE, _sign(first, digest=hashes.SHA1()))
    assert not verify(key, MESSAGE, _sign(first, digest=hashes.SHA512()))
    pss = first.sign(MESSAGE, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    assert not verify(key, MESSAGE, pss)


def test_a_short_long_zero_or_out_of_range_signature_fails(keys):
    private = keys[0]
    key, signature = load_public_key(_pem(private.public_key())), _sign(private)
    assert not verify(key, MESSAGE, signature[1:])
    assert not verify(key, MESSAGE, b"\x00" + signature)
    assert not verify(key, MESSAGE, signature + b"\x00")
    assert not verify(key, MESSAGE, b"")
    assert not verify(key, MESSAGE, bytes(len(signature)))
    assert not verify(key, MESSAGE, key.n.to_bytes(key.size, "big"))            # s == n
    assert not verify(key, MESSAGE, b"\xff" * key.size)                          # s > n


def _der_pem(der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{lines}\n-----END PUBLIC KEY-----\n"


def test_malformed_or_unfit_keys_are_refused(keys):
    good = _pem(keys[0].public_key())
    der = base64.b64decode("".join(good.splitlines()[1:-1]))
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    refused = [
        "", "not a key", good.replace("PUBLIC KEY", "RSA PUBLIC KEY"), good.replace("M", "!", 1),
        good[:200] + good[260:],                                       # truncated DER
        _der_pem(der + b"\x00"),                                       # trailing bytes
        _der_pem(der[:-1]),                                            # runs short
        _der_pem(b"\x30\x80" + der[2:]),                               # indefinite length
        _der_pem(der.replace(bytes.fromhex("2a864886f70d010101"), bytes.fromhex("2a864886f70d01010a"))),  # RSA-PSS
        _pem(small),                                                   # 1024 bits
        _pem(ec.generate_private_key(ec.SECP256R1()).public_key()),
        keys[0].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode(),
        good * 8,                                                      # too long
        good.encode("utf-16"),
    ]
    for pem in refused:
        with pytest.raises(KeyRefused):
            load_public_key(pem)


def test_an_even_exponent_or_an_exponent_of_one_is_refused(keys):
    n = keys[0].public_key().public_numbers().n
    for e in (1, 2, 65536, 2 ** 32 + 1):
        pem = _pem(rsa.RSAPublicNumbers(e, n).public_key()) if e > 1 and e & 1 else None
        if pem is None:   # cryptography refuses to build these: encode the DER by hand
            pem = _der_pem(_spki(n, e))
        with pytest.raises(KeyRefused):
            load_public_key(pem)
    assert load_public_key(_der_pem(_spki(n, 65537))).e == 65537   # the hand-made encoder is right


def _int(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + _length(len(raw)) + raw


def _length(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else (bytes([0x81, n]) if n < 0x100 else b"\x82" + n.to_bytes(2, "big"))


def _seq(body: bytes, tag: int = 0x30) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def _spki(n: int, e: int) -> bytes:
    algorithm = bytes.fromhex("300d06092a864886f70d0101010500")
    return _seq(algorithm + _seq(b"\x00" + _seq(_int(n) + _int(e)), tag=0x03))
