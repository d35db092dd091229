"""The foundation stack every capability builds on, and one stack (or stack pair) per capability."""

from infra_cdk.stacks.alarms_stack import AlarmsStack
from infra_cdk.stacks.backup_dr_stack import BackupDrStack, dr_bucket_name
from infra_cdk.stacks.backup_stack import BackupStack
from infra_cdk.stacks.canary_stack import CanaryStack
from infra_cdk.stacks.cost_stack import CostStack
from infra_cdk.stacks.dbadvisor_stack import DbAdvisorStack
from infra_cdk.stacks.drill_stack import DrillStack
from infra_cdk.stacks.foundation_stack import FoundationStack
from infra_cdk.stacks.incidents_stack import IncidentsStack
from infra_cdk.stacks.monitoring_stack import MonitoringStack
from infra_cdk.stacks.performance_stack import PerformanceStack
from infra_cdk.stacks.security_stack import SecurityStack

__all__ = ["AlarmsStack", "BackupDrStack", "BackupStack", "CanaryStack", "CostStack", "DbAdvisorStack", "DrillStack",
           "FoundationStack", "IncidentsStack", "MonitoringStack", "PerformanceStack", "SecurityStack",
           "dr_bucket_name"]
