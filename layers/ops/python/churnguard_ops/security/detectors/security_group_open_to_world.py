"""security_group_open_to_world: security group ingress opened to 0.0.0.0/0 or ::/0."""
from __future__ import annotations

from typing import Any, ClassVar

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.cloudtrail import fields
from churnguard_ops.security.model import Event

from .base import DETECTORS, Finding
from .cloudtrail_base import CloudTrailDetector


def ingress_openings(event: Event) -> list[dict[str, Any]]:
    """The /0 sources a security-group request adds: ``cidr``, ``protocol``, ``from_port``, ``to_port``."""
    params = fields.request(event)
    openings: list[dict[str, Any]] = []
    if event.type == "AuthorizeSecurityGroupIngress":
        # Legacy flat form: cidrIp/ipProtocol/fromPort/toPort at the top of the request.
        if fields.world(params.get("cidrIp")):
            openings.append({"cidr": params.get("cidrIp"), "protocol": params.get("ipProtocol"),
                             "from_port": params.get("fromPort"), "to_port": params.get("toPort")})
        for permission in fields.items(params.get("ipPermissions")):
            if not isinstance(permission, dict):
                continue
            ranges = [r.get("cidrIp") for r in fields.items(permission.get("ipRanges")) if isinstance(r, dict)]
            ranges += [r.get("cidrIpv6") for r in fields.items(permission.get("ipv6Ranges")) if isinstance(r, dict)]
            openings += [{"cidr": cidr, "protocol": permission.get("ipProtocol"),
                          "from_port": permission.get("fromPort"), "to_port": permission.get("toPort")}
                         for cidr in ranges if fields.world(cidr)]
    elif event.type == "ModifySecurityGroupRules":
        request = params.get("ModifySecurityGroupRulesRequest")
        request = request if isinstance(request, dict) else params
        for update in fields.as_list(request.get("SecurityGroupRule")):
            rule = update.get("SecurityGroupRule") if isinstance(update, dict) else None
            if not isinstance(rule, dict):
                continue
            for key in ("CidrIpv4", "CidrIpv6"):
                if fields.world(rule.get(key)):
                    openings.append({"cidr": rule.get(key), "protocol": rule.get("IpProtocol"),
                                     "from_port": rule.get("FromPort"), "to_port": rule.get("ToPort"),
                                     "rule_id": update.get("SecurityGroupRuleId")})
    return openings


@DETECTORS.register
class SecurityGroupOpenToWorld(CloudTrailDetector):
    """Ingress opened to the whole internet, ``0.0.0.0/0`` or ``::/0`` (CloudTrail). High.

    Rule: ``AuthorizeSecurityGroupIngress`` with a /0 in ``ipPermissions.items[].ipRanges.items[].cidrIp`` or
    ``ipv6Ranges.items[].cidrIpv6`` (or the legacy flat ``cidrIp``); ``ModifySecurityGroupRules`` whose
    ``SecurityGroupRule`` sets ``CidrIpv4``/``CidrIpv6`` to a /0. Decided: any port counts (443 on a load
    balancer's group is a legitimate case: suppress it by entity, don't weaken the rule); a
    ``ModifySecurityGroupRules`` record does not say whether the rule is ingress or egress, so it alerts either
    way (a false alarm on egress beats a missed ingress).

    Entity: the group id; context: ``group``, ``openings`` (cidr, protocol, ports), ``reason``.

    Example::

        {"detector": "security_group_open_to_world", "params": {}}
    """

    name = "security_group_open_to_world"
    Params: ClassVar[type[PluginParams]] = PluginParams
    severity = "high"
    recommended_action = ("Revoke the world-open rule(s) unless the group fronts a public endpoint; restrict the "
                          "source to known CIDRs or a security group (a legitimate public group: suppress it by "
                          "entity with a reason).")
    event_names = frozenset({"AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"})
    event_sources = frozenset({"ec2.amazonaws.com"})

    def predicate(self, event: Event) -> Finding | None:
        openings = ingress_openings(event)
        if not openings:
            return None
        params = fields.request(event)
        request = params.get("ModifySecurityGroupRulesRequest")
        group = str(params.get("groupId") or params.get("groupName")
                    or (request.get("GroupId") if isinstance(request, dict) else None) or "unknown-group")
        ports = ", ".join(f"{o['protocol']}:{o['from_port']}-{o['to_port']} from {o['cidr']}" for o in openings)
        return self.finding(event, group, group=group, openings=openings, reason=f"{group} open to the world: {ports}")
