"""One stack (or stack pair) per capability."""

from infra_cdk.stacks.backup_dr_stack import BackupDrStack, dr_bucket_name
from infra_cdk.stacks.backup_stack import BackupStack
from infra_cdk.stacks.drill_stack import DrillStack

__all__ = ["BackupDrStack", "BackupStack", "DrillStack", "dr_bucket_name"]
