"""Shared constructs used by every capability stack."""

from infra_cdk.constructs.foundation import Foundation
from infra_cdk.constructs.ops_function import OpsFunction
from infra_cdk.constructs.storage import AccessLogBucket, encrypted_bucket

__all__ = ["AccessLogBucket", "Foundation", "OpsFunction", "encrypted_bucket"]
