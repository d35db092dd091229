"""Brute-force remediation: block an alert's source IP in a WAF IP set for a TTL; an hourly sweep unblocks.

Pure policy and use cases over two small ports declared here: :class:`IpBlocklist` (the WAF IP set:
:class:`churnguard_ops.security.waf.WafIpSet`) and :class:`BlockRecords` (our own record of what we
blocked, and the audit of every action: :class:`churnguard_ops.security.waf.DynamoBlockRecords`).

``Remediator.on_alert(alert_line, now)`` (the alert is the EventBridge event's ``detail``, ``Alert.line()``):

* alerts of detectors not in ``enabled_detectors`` are ignored (``None``, nothing recorded);
* a redelivered alert (its ``alert_id`` already has a recorded decision) records nothing new and
  returns the first decision (``replayed=True``);
* refused, with the reason recorded: an address that does not parse; one that is not globally routable
  (unspecified, loopback, link-local, multicast, private, reserved, or otherwise not global: note that
  Python counts the documentation ranges 192.0.2/24, 198.51.100/24, 203.0.113/24 as private); one in
  ``allow_cidrs``; an IPv6 address when no IPv6 IP set is configured; a stale alert (its timestamp plus
  the TTL has passed: the block would already be over); and a new block over the hourly cap (blocks of
  the same mode recorded less than 60 minutes ago >= ``max_blocks_per_hour``);
* an address we already block is not blocked twice: its expiry moves to ``now + ttl`` (never earlier)
  and an ``extend`` is recorded; extending does not count against the cap;
* otherwise the address is blocked as ``/32`` (IPv4) or ``/128`` (IPv6) until ``now + ttl``; in dry-run
  (the default) nothing touches the IP set, but the block is recorded (``dry_run_block``) and later swept
  (``dry_run_unblock``), so the audit shows exactly what a live run would have done.

``Remediator.sweep(now)`` unblocks every address **we recorded** whose expiry has passed. It never reads
the IP set to decide what to remove: addresses an operator or another tool put there are never touched.
A live block is removed from the IP set even when the policy has since become dry-run (dry-run governs
new blocks; an expired block of ours is always given back).

Order of writes, so a crash anywhere loses nothing and never leaves an untracked block in the IP set:

* block: the current-block record is written first, then the address is added, then the decision is
  recorded (conditionally on ``alert_id``). A crash before the decision: the redelivered alert finds its
  own current-block record and completes the block (it is not an ``extend``).
* sweep: the address is removed first, then the current-block record is deleted conditionally on the
  expiry it had when read; if an alert extended the block in between, the delete fails and the address
  is added back.

Concurrency: two Lambdas judging alerts at the same moment can each pass the hourly cap check; give the
remediation function a reserved concurrency of 1 to make the cap exact.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from churnguard_ops.core.errors import InvalidEvent, OpsError
from churnguard_ops.security.model import Alert

ActionKind = Literal["block", "extend", "unblock", "refused", "dry_run_block", "dry_run_extend", "dry_run_unblock"]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Actions that put an address in the IP set (or would have, in dry-run): what the hourly cap counts.
BLOCK_ACTIONS: Mapping[bool, ActionKind] = {False: "block", True: "dry_run_block"}
CAP_WINDOW = timedelta(minutes=60)
#: The longest text of an unparsable "address" kept in a record.
MAX_IP_TEXT = 128


class RemediationPolicy(BaseModel):
    """How brute-force alerts are remediated. Dry-run unless ``{"dry_run": false}``.

    Example::

        {"dry_run": false, "ttl_minutes": 120, "max_blocks_per_hour": 20,
         "allow_cidrs": ["198.18.0.0/15", "2001:db8::/32"]}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled_detectors: list[str] = Field(default_factory=lambda: ["brute_force_login", "console_brute_force"],
                                         description="alerts of these detectors are remediated")
    dry_run: bool = Field(default=True, description="record what would be done; never change the IP set")
    ttl_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60, description="how long a block lasts")
    max_blocks_per_hour: int = Field(default=20, ge=1, le=10_000,
                                     description="new blocks in any 60 minutes; more are refused")
    allow_cidrs: list[str] = Field(default_factory=list, description="networks never blocked")

    @field_validator("allow_cidrs")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        normalized = []
        for cidr in value:
            try:
                normalized.append(str(ipaddress.ip_network(cidr.strip(), strict=False)))
            except ValueError as exc:
                raise ValueError(f"allow_cidrs: {cidr!r} is not a network: {exc}") from None
        return normalized

    @property
    def ttl(self) -> timedelta:
        return timedelta(minutes=self.ttl_minutes)

    def allowlisted(self, address: IpAddress) -> str | None:
        """The allowlisted network containing ``address``, if any."""
        for cidr in self.allow_cidrs:
            network = ipaddress.ip_network(cidr)
            if network.version == address.version and address in network:
                return cidr
        return None


class BlockAction(BaseModel):
    """One recorded action: a decision on an alert (block, extend, refused and their dry-run forms) or a
    sweep's unblock. ``cidr`` is None when the address did not parse; ``expires_at`` is the block's end
    (None for a refusal); ``alert_id`` and ``detector`` name the alert (for an unblock: the alert that
    blocked); ``dry_run`` says the IP set was left untouched."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: ActionKind
    ip: str
    cidr: str | None = None
    alert_id: str | None = None
    detector: str | None = None
    organization_id: str | None = None
    reason: str
    at: datetime
    expires_at: datetime | None = None
    dry_run: bool

    def line(self) -> dict[str, Any]:
        """The JSON-able form (the EventBridge detail of a remediation event, the audit document)."""
        return self.model_dump(mode="json")


class ActiveBlock(BaseModel):
    """An address we block now (or, ``dry_run``, would block): the sweeper's to-do list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ip: str
    cidr: str
    alert_id: str
    detector: str
    blocked_at: datetime
    expires_at: datetime
    dry_run: bool
    extensions: int = Field(default=0, ge=0)


@dataclass(frozen=True, slots=True)
class BlockDecision:
    """What ``on_alert`` did: the recorded action, and whether it was recorded before (a redelivery)."""

    action: BlockAction
    replayed: bool = False


@dataclass
class SweepResult:
    """Unblocks recorded by a sweep, blocks still running, and the blocks it failed to remove (retried at
    the next sweep: their records are kept)."""

    actions: list[BlockAction] = field(default_factory=list)
    remaining: int = 0
    failures: dict[str, str] = field(default_factory=dict)


class RemediationIncomplete(OpsError):
    """A sweep could not remove every expired block; ``result`` says what it did and what failed."""

    def __init__(self, message: str, result: SweepResult) -> None:
        super().__init__(message)
        self.result = result


class IpBlocklist(Protocol):
    """One WAF IP set (one address family). ``cidr`` is ``a.b.c.d/32`` or ``x::y/128``; addresses compare
    as networks (``1.2.3.4/32`` matches however the set spells it)."""

    def addresses(self) -> set[str]:
        """Every CIDR in the set, ours or not."""
        ...

    def add(self, cidr: str) -> bool:
        """Add ``cidr``; False when it was already there (nothing changed)."""
        ...

    def remove(self, cidr: str) -> bool:
        """Remove ``cidr`` and nothing else; False when it was not there (nothing changed)."""
        ...


class BlockRecords(Protocol):
    """Our current blocks (one per address) and the audit of every action."""

    def active(self, ip: str) -> ActiveBlock | None: ...

    def actives(self) -> list[ActiveBlock]:
        """Every current block, expired or not."""
        ...

    def put_active(self, block: ActiveBlock) -> None:
        """Create or replace the current block of ``block.ip``."""
        ...

    def delete_active(self, ip: str, expires_at: datetime) -> bool:
        """Delete the current block of ``ip`` only if its expiry is still ``expires_at`` (False: it was
        extended or deleted meanwhile; nothing changed)."""
        ...

    def decision(self, alert_id: str) -> BlockAction | None:
        """The decision recorded for this alert, if any."""
        ...

    def record_decision(self, action: BlockAction) -> bool:
        """Record the decision on ``action.alert_id`` and audit it, unless that alert already has one
        (False: nothing written). Idempotent on ``alert_id``."""
        ...

    def record(self, action: BlockAction) -> None:
        """Audit an action that is no decision on an alert (a sweep's unblock)."""
        ...

    def actions(self, start: datetime, end: datetime) -> list[BlockAction]:
        """Audited actions with start <= at < end, oldest first."""
        ...


def cidr_of(address: IpAddress) -> str:
    return f"{address}/{address.max_prefixlen}"


def parse_address(text: object) -> IpAddress | None:
    """An IP address from untrusted text (IPv4-mapped IPv6 becomes IPv4); None when it is none."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_IP_TEXT:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def not_blockable(address: IpAddress) -> str | None:
    """Why ``address`` must never be blocked (it is not a public internet address), or None."""
    for reason, flag in (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
                         ("link_local", address.is_link_local), ("multicast", address.is_multicast),
                         ("private", address.is_private), ("reserved", address.is_reserved),
                         ("not_global", not address.is_global)):
        if flag:
            return reason
    return None


class Remediator:
    """The remediation use cases: ``on_alert`` (block) and ``sweep`` (unblock), see the module docstring.

    ``blocklist`` is the IPv4 IP set; IPv6 addresses are blocked only when ``blocklist_v6`` is given
    (a WAF IP set holds one address family)."""

    def __init__(self, policy: RemediationPolicy, blocklist: IpBlocklist, records: BlockRecords, *,
                 blocklist_v6: IpBlocklist | None = None) -> None:
        self.policy = policy
        self.blocklists: dict[int, IpBlocklist] = {4: blocklist}
        if blocklist_v6 is not None:
            self.blocklists[6] = blocklist_v6
        self.records = records

    # -- block ------------------------------------------------------------------------------------
    def on_alert(self, alert_line: Mapping[str, Any], now: datetime) -> BlockDecision | None:
        """Judge one alert (``Alert.line()``); None when its detector is not remediated. Raises
        InvalidEvent when it is no alert; OpsError subclasses when AWS failed (retry the alert)."""
        alert = _parse_alert(alert_line)
        if alert.detector not in self.policy.enabled_detectors:
            return None
        prior = self.records.decision(alert.alert_id)
        if prior is not None:
            return BlockDecision(prior, replayed=True)
        action = self._decide(alert, now)
        if self.records.record_decision(action):
            return BlockDecision(action)
        first = self.records.decision(alert.alert_id)  # a concurrent delivery recorded first
        return BlockDecision(first or action, replayed=True)

    def _decide(self, alert: Alert, now: datetime) -> BlockAction:
        policy, dry_run = self.policy, self.policy.dry_run
        raw_ip, address = _address_of(alert)

        def refuse(reason: str, ip: str, cidr: str | None = None) -> BlockAction:
            return self._action("refused", alert, ip, cidr, reason, now, None, dry_run)

        if address is None:
            return refuse(f"unparsable: no IP address in the alert (entity {raw_ip!r})", raw_ip[:MAX_IP_TEXT])
        ip, cidr = str(address), cidr_of(address)
        why_not = not_blockable(address)
        if why_not is not None:
            return refuse(f"{why_not}: {ip} is not a public internet address", ip, cidr)
        allowed = policy.allowlisted(address)
        if allowed is not None:
            return refuse(f"allowlisted: {ip} is in {allowed}", ip, cidr)
        blocklist = self.blocklists.get(address.version)
        if blocklist is None:
            return refuse(f"no_ip_set: no IPv{address.version} IP set is configured", ip, cidr)
        if alert.timestamp + policy.ttl <= now:
            return refuse(f"stale: the alert of {alert.timestamp.isoformat()} is older than the "
                          f"{policy.ttl_minutes} min TTL", ip, cidr)
        expires_at = now + policy.ttl
        active = self.records.active(ip)
        if active is not None and active.alert_id == alert.alert_id:
            # An earlier attempt at this very alert wrote the record and crashed: complete that block.
            if not active.dry_run and not dry_run:
                blocklist.add(cidr)
            kind = BLOCK_ACTIONS[active.dry_run]
            return self._action(kind, alert, ip, cidr, "blocked (completed after an interrupted attempt)", now,
                                active.expires_at, active.dry_run)
        if active is not None and (not active.dry_run or dry_run):
            return self._extend(alert, active, blocklist, expires_at, now)
        # A new block (or a live block replacing a dry-run record).
        tick = timedelta(microseconds=1)  # the window is (now - 60 min, now]: a block 60 min old has left it
        recent = sum(1 for a in self.records.actions(now - CAP_WINDOW + tick, now + tick)
                     if a.action == BLOCK_ACTIONS[dry_run])
        if recent >= policy.max_blocks_per_hour:
            return refuse(f"hourly_cap: {recent} blocks in the last 60 minutes (max {policy.max_blocks_per_hour})",
                          ip, cidr)
        self.records.put_active(ActiveBlock(ip=ip, cidr=cidr, alert_id=alert.alert_id, detector=alert.detector,
                                            blocked_at=now, expires_at=expires_at, dry_run=dry_run))
        if not dry_run:
            blocklist.add(cidr)
        reason = f"{alert.detector}: {alert.count} events in {alert.window_seconds} s; blocked for " \
                 f"{policy.ttl_minutes} min"
        return self._action(BLOCK_ACTIONS[dry_run], alert, ip, cidr, reason, now, expires_at, dry_run)

    def _extend(self, alert: Alert, active: ActiveBlock, blocklist: IpBlocklist, expires_at: datetime,
                now: datetime) -> BlockAction:
        if self.policy.dry_run and not active.dry_run:
            # A live block while the policy is dry-run: changing its expiry would change a real block.
            return self._action("dry_run_extend", alert, active.ip, active.cidr,
                                f"already blocked until {active.expires_at.isoformat()}; dry run: expiry unchanged",
                                now, active.expires_at, True)
        new_expiry = max(active.expires_at, expires_at)
        self.records.put_active(active.model_copy(update={"expires_at": new_expiry,
                                                          "extensions": active.extensions + 1}))
        if not active.dry_run:
            blocklist.add(active.cidr)  # back in the set should someone have removed it by hand
        kind: ActionKind = "dry_run_extend" if active.dry_run else "extend"
        return self._action(kind, alert, active.ip, active.cidr,
                            f"already blocked (since {active.blocked_at.isoformat()}); expiry moved from "
                            f"{active.expires_at.isoformat()}", now, new_expiry, active.dry_run)

    @staticmethod
    def _action(kind: ActionKind, alert: Alert, ip: str, cidr: str | None, reason: str, now: datetime,
                expires_at: datetime | None, dry_run: bool) -> BlockAction:
        return BlockAction(action=kind, ip=ip, cidr=cidr, alert_id=alert.alert_id, detector=alert.detector,
                           organization_id=alert.organization_id, reason=reason, at=now, expires_at=expires_at,
                           dry_run=dry_run)

    # -- unblock ----------------------------------------------------------------------------------
    def sweep(self, now: datetime) -> SweepResult:
        """Unblock every block of ours whose expiry passed. Tries all; raises RemediationIncomplete
        afterwards when any failed (its records are kept, so the next sweep retries them)."""
        result = SweepResult()
        for block in sorted(self.records.actives(), key=lambda b: (b.expires_at, b.ip)):
            if block.expires_at > now:
                result.remaining += 1
                continue
            try:
                action = self._unblock(block, now)
            except OpsError as exc:
                result.failures[block.ip] = f"{type(exc).__name__}: {exc}"
                continue
            if action is not None:
                result.actions.append(action)
        if result.failures:
            raise RemediationIncomplete(f"sweep: {len(result.failures)} expired blocks not removed: "
                                        f"{sorted(result.failures)}", result)
        return result

    def _unblock(self, block: ActiveBlock, now: datetime) -> BlockAction | None:
        reason = f"expired at {block.expires_at.isoformat()}"
        if block.dry_run:
            if not self.records.delete_active(block.ip, block.expires_at):
                return None  # extended meanwhile: the next sweep looks again
            kind: ActionKind = "dry_run_unblock"
        else:
            address = parse_address(block.ip)
            blocklist = self.blocklists.get(address.version) if address is not None else None
            if blocklist is None:
                raise OpsError(f"no IP set for {block.cidr}: cannot remove it")
            if not blocklist.remove(block.cidr):
                reason += " (it was no longer in the IP set)"
            if not self.records.delete_active(block.ip, block.expires_at):
                blocklist.add(block.cidr)  # an alert extended it between our read and the removal
                return None
            kind = "unblock"
        action = BlockAction(action=kind, ip=block.ip, cidr=block.cidr, alert_id=block.alert_id,
                             detector=block.detector, reason=reason, at=now, expires_at=block.expires_at,
                             dry_run=block.dry_run)
        self.records.record(action)
        return action


def _parse_alert(line: Mapping[str, Any]) -> Alert:
    try:
        return Alert.model_validate(line)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in error["loc"]) or "(alert)" for error in exc.errors()})
        raise InvalidEvent(f"not a security alert: invalid {', '.join(fields)}") from None


def _address_of(alert: Alert) -> tuple[str, IpAddress | None]:
    """The source address: the entity (brute_force_login's entity is the IP), else ``context.source_ip``
    (detectors whose entity is a user name put the address there)."""
    candidates: Sequence[object] = (alert.entity, alert.context.get("source_ip"))
    for candidate in candidates:
        address = parse_address(candidate)
        if address is not None:
            return str(candidate), address
    return alert.entity, None
