"""One stack (or stack pair) per capability."""

from infra_cdk.stacks.backup_dr_stack import BackupDrStack, dr_bucket_name
from infra_cdk.stacks.backup_stack import BackupStack

__all__ = ["BackupDrStack", "BackupStack", "dr_bucket_name"]
