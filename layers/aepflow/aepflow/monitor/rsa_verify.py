"""RSA PKCS#1 v1.5 signatures with SHA-256 verified with the standard library alone: Adobe I/O Events
signs each webhook delivery so (developer.adobe.com/events/docs/guides/sdk/sdk-signature-verification;
adobe/aio-lib-events src/signatureUtils.js: `crypto.verify('rsa-sha256', payload, spkiPemKey, sig)`),
and the Lambda runtime has no `cryptography` (the runtime dependencies are boto3, Powertools,
requests and pydantic).

Two deliberately small parts, each refusing rather than guessing:
- `load_public_key`: a PEM "PUBLIC KEY" (X.509 SubjectPublicKeyInfo, RFC 5280 4.1; RSA's, RFC 8017
  A.1.1 and RFC 3279 2.3.1) read with a minimal DER reader: definite minimal lengths only, every
  byte consumed, the rsaEncryption OID with its NULL parameters, a positive minimal modulus of 2048
  to 4096 bits and an odd exponent 3 <= e < 2^32.
- `verify`: RFC 8017 8.2.2 - the signature exactly k bytes (k the modulus's length) and below n,
  m = s^e mod n, and the WHOLE k-byte block compared in constant time (hmac.compare_digest) with
  the EMSA-PKCS1-v1_5 encoding this verifier builds itself (9.2: 00 01 FF..FF 00 || DigestInfo of
  SHA-256 || hash). The decrypted block is never parsed, so no padding or ASN.1 leniency (the
  Bleichenbacher 2006 signature forgery) can let a forged signature through.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import NamedTuple

MIN_BITS, MAX_BITS = 2048, 4096
MAX_PEM_CHARS = 4096            # a 4096-bit key's PEM is about 800 characters
# AlgorithmIdentifier rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters, DER.
_RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")
# DigestInfo's prefix for SHA-256 (RFC 8017 9.2, note 1), followed by the 32-byte hash.
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_PEM = re.compile(r"\A-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\r?\n?\Z")


class KeyRefused(ValueError):
    """A public key refused, with why."""


class PublicKey(NamedTuple):
    n: int
    e: int

    @property
    def size(self) -> int:
        """k: the modulus's length in bytes, and so a signature's."""
        return (self.n.bit_length() + 7) // 8


def _read(der: bytes, at: int, tag: int) -> tuple[bytes, int]:
    """The content of the DER element of `tag` at `at`, and where the next one starts."""
    if at + 2 > len(der) or der[at] != tag:
        raise KeyRefused(f"expected DER tag {tag:#04x} at byte {at}")
    first, at = der[at + 1], at + 2
    if first < 0x80:
        length = first
    elif first in (0x81, 0x82):                 # long form, 1 or 2 length bytes; never indefinite (0x80)
        count = first - 0x80
        if at + count > len(der):
            raise KeyRefused("DER length runs past the end")
        length = int.from_bytes(der[at:at + count], "big")
        if length < 0x80 or (count == 2 and length < 0x100):
            raise KeyRefused("DER length not minimally encoded")
        at += count
    else:
        raise KeyRefused("DER length form refused")
    if at + length > len(der):
        raise KeyRefused("DER element runs past the end")
    return der[at:at + length], at + length


def _positive_integer(content: bytes) -> int:
    if not content or content[0] & 0x80:
        raise KeyRefused("DER INTEGER empty or negative")
    if len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
        raise KeyRefused("DER INTEGER not minimally encoded")
    return int.from_bytes(content, "big")


def load_public_key(pem: str | bytes) -> PublicKey:
    """An RSA public key from its PEM SubjectPublicKeyInfo; KeyRefused when anything is off."""
    if isinstance(pem, bytes):
        try:
            pem = pem.decode("ascii")
        except UnicodeDecodeError:
            raise KeyRefused("PEM not ASCII") from None
    if len(pem) > MAX_PEM_CHARS:
        raise KeyRefused("PEM too long")
    match = _PEM.match(pem)
    if match is None:
        raise KeyRefused("not a PEM PUBLIC KEY")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        raise KeyRefused("PEM body not base64") from None
    spki, end = _read(der, 0, 0x30)
    if end != len(der):
        raise KeyRefused("bytes after the SubjectPublicKeyInfo")
    algorithm_len = len(_RSA_ALGORITHM)
    if spki[:algorithm_len] != _RSA_ALGORITHM:
        raise KeyRefused("not an rsaEncryption key")
    bits, end = _read(spki, algorithm_len, 0x03)
    if end != len(spki):
        raise KeyRefused("bytes after the subjectPublicKey")
    if not bits or bits[0] != 0:
        raise KeyRefused("subjectPublicKey BIT STRING with unused bits")
    rsa, end = _read(bits, 1, 0x30)
    if end != len(bits):
        raise KeyRefused("bytes after the RSAPublicKey")
    n_der, at = _read(rsa, 0, 0x02)
    e_der, end = _read(rsa, at, 0x02)
    if end != len(rsa):
        raise KeyRefused("bytes after the RSAPublicKey's exponent")
    n, e = _positive_integer(n_der), _positive_integer(e_der)
    if not MIN_BITS <= n.bit_length() <= MAX_BITS:
        raise KeyRefused(f"modulus of {n.bit_length()} bits (only {MIN_BITS}-{MAX_BITS})")
    if not n & 1:
        raise KeyRefused("even modulus")
    if not (3 <= e < 2 ** 32 and e & 1):
        raise KeyRefused("exponent refused (odd, 3 <= e < 2^32)")
    return PublicKey(n, e)


def expected_block(key: PublicKey, message: bytes) -> bytes:
    """EMSA-PKCS1-v1_5(message) for SHA-256 in k bytes (RFC 8017 9.2)."""
    t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    return b"\x00\x01" + b"\xff" * (key.size - 3 - len(t)) + b"\x00" + t


def verify(key: PublicKey, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `key`'s RSASSA-PKCS1-v1_5 SHA-256 signature of `message` (RFC 8017 8.2.2)."""
    k = key.size
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= key.n:
        return False
    block = pow(s, key.e, key.n).to_bytes(k, "big")
    return hmac.compare_digest(block, expected_block(key, message))
