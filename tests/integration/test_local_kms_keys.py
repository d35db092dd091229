"""The embedded AWS's KMS keys: a symmetric key no longer pays for an RSA pair; asymmetric keys still sign."""
from __future__ import annotations

import boto3
from moto.kms.models import kms_backends

from tests.integration.conftest import REGION


def test_a_symmetric_key_encrypts_without_ever_generating_a_key_pair(moto_aws):
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key(Description="ops CMK")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"backup manifest")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"backup manifest"
    account = next(iter(kms_backends))
    assert kms_backends[account][REGION].keys[key_id].private_key._key is None


def test_an_asymmetric_key_generates_its_pair_on_first_use_and_signs_and_verifies(moto_aws):
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    signed = kms.sign(KeyId=key_id, Message=b"release 42", SigningAlgorithm="RSASSA_PSS_SHA_256")
    verified = kms.verify(KeyId=key_id, Message=b"release 42", Signature=signed["Signature"],
                          SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert verified["SignatureValid"] is True
    assert kms.get_public_key(KeyId=key_id)["PublicKey"]
