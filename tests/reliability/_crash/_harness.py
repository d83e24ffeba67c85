"""The parent's side of the crash tests: the fork server's client, one pipeline run (backfill,
then rounds of "a day passes, sync") restarted after every kill until each phase completes,
and the end state compared with an uninterrupted run's.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stripe_cio.sandbox import (
    SANDBOX_CIO_API_KEY,
    SANDBOX_CIO_SITE_ID,
    SANDBOX_STRIPE_KEY,
    SandboxProcess,
)

from ._killpoints import ANY, KINDS, TARGETS
from ._state import check_after_crash, sandbox_call
from ._zygote import Zygote

__all__ = [
    "DAY",
    "Account",
    "CrashPlan",
    "PipelineRun",
    "Tally",
    "stripe_sandbox",
]

DAY = 86_400
MAX_FAILED_RESTARTS = 8  # a phase failing (not killed) this often in a row is a finding


@dataclass(frozen=True)
class Account:
    """The synthetic Stripe account and how many days of activity are synced after the backfill."""

    customers: int = 80
    months: int = 2
    seed: int = 7
    now: int = 1_780_000_000  # fixed: the same account and the same attributes on every run
    rounds: int = 2

    def phases(self) -> list[str]:
        return ["backfill"] + [f"sync{i + 1}" for i in range(self.rounds)]


@dataclass
class CrashPlan:
    """Kill the pipeline `kills` times: a share by wall-clock timer, the rest at kill points."""

    kills: int
    seed: int = 1
    timed_share: float = 0.25


@dataclass
class Tally:
    """What happened in a run: kills by kind and target, restarts, seconds, calls per phase."""

    kills: list[dict[str, Any]] = field(default_factory=list)
    failed_restarts: int = 0
    misses: int = 0  # kill points that were not reached before the phase completed
    seconds: float = 0.0
    calls: dict[str, Counter[str]] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)

    def by_kind(self) -> Counter[str]:
        return Counter(kill["kind"] for kill in self.kills)

    def summary(self) -> str:
        where = Counter(f"{k['phase']} {k['kind']} {k['where']}" for k in self.kills)
        lines = [
            f"{len(self.kills)} kills ({dict(self.by_kind())}), {self.misses} kill points not "
            f"reached, {self.failed_restarts} failed restarts, {self.seconds:.1f}s"
        ]
        lines += [f"  {count:3d} x {name}" for name, count in sorted(where.items())]
        return "\n".join(lines)


def stripe_sandbox(account: Account, log_path: Path | None = None) -> SandboxProcess:
    """A fresh Stripe sandbox holding `account` (its clock moves, so one per pipeline run)."""
    return SandboxProcess(
        "stripe", "--customers", str(account.customers), "--months", str(account.months),
        "--seed", str(account.seed), "--now", str(account.now), "--rps", "0",
        log_path=log_path,
    )  # fmt: skip


class PipelineRun:
    """backfill-history, then `account.rounds` times: the Stripe clock moves a day, then
    sync-stripe-events; each phase restarted in a new child after every kill until it completes.
    """

    def __init__(
        self,
        zygote: Zygote,
        account: Account,
        stripe_url: str,
        cio_url: str,
        database_url: str,
        workdir: Path,
        via: str = "engine",
    ) -> None:
        self.zygote = zygote
        self.account = account
        self.stripe_url = stripe_url
        self.cio_url = cio_url
        self.database_url = database_url
        self.workdir = workdir
        self.via = via
        workdir.mkdir(parents=True, exist_ok=True)
        self.hits = workdir / "hits.jsonl"
        self.calls = workdir / "calls.tsv"
        self.log = workdir / "children.log"
        self.journal = workdir / "children.jsonl"  # each child: its phase, kill and end
        self.children = 0

    def env(self) -> dict[str, str]:
        return {
            "STRIPE_API_KEY": SANDBOX_STRIPE_KEY,
            "STRIPE_API_BASE": self.stripe_url,
            "STRIPE_REQUESTS_PER_SECOND": "2000",
            "CUSTOMERIO_SITE_ID": SANDBOX_CIO_SITE_ID,
            "CUSTOMERIO_API_KEY": SANDBOX_CIO_API_KEY,
            "CUSTOMERIO_TRACK_URL": self.cio_url,
            "CUSTOMERIO_REQUESTS_PER_SECOND": "2000",
            "STRIPE_CIO_DATABASE_URL": self.database_url,
        }

    def child(self, label: str, **kill: Any) -> dict[str, Any]:
        """Run phase `label` once in a child; `kill` is kill=KillPoint dict or kill_after=s."""
        now = int(sandbox_call(self.stripe_url, "clock")["now"])
        self.children += 1
        request = {
            "child": self.children,
            "phase": "backfill" if label == "backfill" else "sync",
            "label": label,
            "via": self.via,
            "now": now,
            "env": self.env(),
            "kill": kill.get("kill"),
            "kill_after": kill.get("kill_after"),
            "hits": str(self.hits),
            "calls": str(self.calls),
            "log": str(self.log),
        }
        return self.zygote.run(request)

    def advance(self) -> None:
        sandbox_call(self.stripe_url, "advance", {"seconds": DAY})

    def run(self, plan: CrashPlan | None = None, reference: Tally | None = None) -> Tally:
        """The whole pipeline; with a plan, killed `plan.kills` times along the way."""
        tally = Tally()
        rng = random.Random(plan.seed if plan else 0)
        phases = self.account.phases()
        for index, label in enumerate(phases):
            if label != "backfill":
                self.advance()
            left = (plan.kills - len(tally.kills)) if plan else 0
            quota = math.ceil(left / (len(phases) - index)) if left > 0 else 0
            fired = self._phase(label, quota, rng, plan, reference, tally)
            # A phase whose work ended before its kills did is run again, as the next
            # scheduled run would be, and killed in that run (which finds nothing new to do).
            for _ in range(3 * (quota - fired)):
                if fired >= quota:
                    break
                fired += self._phase(label, 1, rng, plan, reference, tally, again=True)
        tally.calls = self._calls()
        tally.seconds = sum(tally.phase_seconds.values())
        return tally

    def _phase(
        self,
        label: str,
        quota: int,
        rng: random.Random,
        plan: CrashPlan | None,
        reference: Tally | None,
        tally: Tally,
        again: bool = False,
    ) -> int:
        """Run `label` until a child completes it, killing up to `quota` children first;
        returns how many were killed."""
        fired = failed = 0
        name = f"{label} again" if again else label
        while True:
            kill: dict[str, Any] = {}
            if plan and fired < quota:
                kill = self._choose(label, rng, plan, reference, tally.by_kind(), again)
            before = self._hit_count()
            ended = self.child(label, **kill)
            tally.phase_seconds[label] = tally.phase_seconds.get(label, 0.0) + ended["seconds"]
            status = ended["status"]
            with self.journal.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"phase": name, **kill, **ended}) + "\n")
            if status == "killed":
                fired += 1
                failed = 0
                tally.kills.append(self._what_was_hit(name, label, kill, before))
                check_after_crash(self.cio_url, self.database_url)
                continue
            if status == "completed":
                if kill:
                    tally.misses += 1
                return fired
            failed += 1
            tally.failed_restarts += 1
            if failed > MAX_FAILED_RESTARTS or status == "cancelled":
                raise AssertionError(
                    f"{label} {status} {failed} times in a row; children's log:\n"
                    + self._log_tail()
                )

    def _choose(
        self,
        label: str,
        rng: random.Random,
        plan: CrashPlan,
        reference: Tally | None,
        hit: Counter[str],
        again: bool,
    ) -> dict[str, Any]:
        ref_calls = reference.calls.get(label, Counter()) if reference else Counter()
        last = self._last_child_calls(label)
        if rng.random() < plan.timed_share or not ref_calls:
            limit = reference.phase_seconds.get(label, 5.0) if reference else 5.0
            return {"kill_after": round(rng.uniform(0.05, max(0.2, limit)), 3)}
        # What the previous child of this phase called (before it died, or in a run that found
        # nothing to do) is what the next one will likely call again; else the reference's.
        if again:
            estimate = last
        else:
            estimate = Counter({t: max(last[t], math.ceil(ref_calls[t] / 3)) for t in ref_calls})
            if all(hit[kind] for kind in KINDS) and rng.random() < 0.5:
                # Any moment in the first half of the work the previous child did (a restart
                # redoes what it had not committed), else of the reference's: kills spread as
                # the work does, and most land before the phase can complete.
                moments = last.total() or ref_calls.total()  # half the calls and returns
                return {"kill": {"target": ANY, "n": rng.randint(1, moments), "position": ""}}
        # The kind hit least so far first, so that each is hit while its work is still to do;
        # within a kind, any target likely called.
        for kind in sorted(KINDS, key=lambda kind: (hit[kind], rng.random())):
            targets = sorted(t for t, n in estimate.items() if TARGETS[t] == kind and n > 0)
            if targets:
                target = rng.choice(targets)
                n = rng.randint(1, estimate[target])
                position = rng.choice(("before", "after"))
                return {"kill": {"target": target, "n": n, "position": position}}
        return {"kill_after": round(rng.uniform(0.05, 0.5), 3)}

    def _last_child_calls(self, label: str) -> Counter[str]:
        per_child: dict[str, Counter[str]] = {}
        for phase, child, target in self._call_lines():
            if phase == label:
                per_child.setdefault(child, Counter())[target] += 1
        return per_child[max(per_child, key=int)] if per_child else Counter()

    def _call_lines(self) -> list[tuple[str, str, str]]:
        if not self.calls.exists():
            return []
        lines = self.calls.read_text(encoding="utf-8").splitlines()
        return [(p, c, t) for p, c, t in (line.split("\t") for line in lines)]

    def _hit_count(self) -> int:
        if not self.hits.exists():
            return 0
        return len(self.hits.read_text(encoding="utf-8").splitlines())

    def _what_was_hit(
        self, name: str, label: str, kill: dict[str, Any], before: int
    ) -> dict[str, Any]:
        lines = self.hits.read_text(encoding="utf-8").splitlines() if self.hits.exists() else []
        if len(lines) > before:
            hit: dict[str, Any] = json.loads(lines[-1])
            target = hit["target"].partition(":")[2]
            return {"phase": name, "kind": hit["kind"], "where": f"{hit['position']} {target}"}
        last = self._last_call(label)
        return {"phase": name, "kind": "timed", "where": f"after {kill.get('kill_after')}s, "
                f"last kill-point call {last}"}  # fmt: skip

    def _last_call(self, label: str) -> str:
        for phase, _, target in reversed(self._call_lines()):
            if phase == label:
                return target.partition(":")[2]
        return "none"

    def _calls(self) -> dict[str, Counter[str]]:
        calls: dict[str, Counter[str]] = {}
        for phase, _, target in self._call_lines():
            calls.setdefault(phase, Counter())[target] += 1
        return calls

    def _log_tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return "(no log)"
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])
