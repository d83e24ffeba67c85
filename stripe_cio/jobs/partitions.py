"""The nightly enrich in partitions: peak memory set by a partition, not by the account.

Persons are split by a stable hash of their key. The run reads the ledger once and writes each
partition's rows into a file of its own (`write_partitions`, see `stripe_cio.attributes.scatter`);
each partition then builds its frames from its file alone and computes its persons' attributes
(`compute_partition`), anywhere: in this process, in a Prefect task, or in a child flow run on
another worker of the pool, which needs the files but not the ledger. Everything they exchange
is a file in the run's partition directory (on one machine a temporary directory; across
machines a directory every worker mounts):

- `frames-<n>.pickle`: partition n's rows, written by the run;
- `attributes-<n>.pickle`: its attributes and rank inputs, written by whoever computed it.

The rank attributes compare a person with everyone, so the run combines every partition's
small rank inputs into the cut-points of everyone and scores each partition against them
(`finished_partition`): the result equals the single pass exactly. The files are the run's
own, written and read by stripe-cio processes only.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..attributes import (
    AttributeResult,
    AttributeSettings,
    RankCuts,
    combined_rank_cuts,
    compute_attributes,
    partition_file,
    partition_frames,
    rescored,
    scatter,
)
from ..ledger import Ledger
from ..settings_base import ENV_NAMES

ENRICH_PARTITION = "enrich-partition"
# Where the partitions' files go when they must be shared (child flow runs on other workers):
# a directory every worker sees. Unset: a temporary directory of the run's machine.
PARTITION_DIR_VARIABLE = ENV_NAMES[("partitions", "directory")]

# Partitions a run may be split into: beyond this the plan files and the per-partition
# overhead outweigh what a partition saves.
MAX_PARTITIONS = 4096


@dataclass(frozen=True)
class PartitionWork:
    """What computing one partition takes: plain values, so a child flow run can take it as
    parameters."""

    directory: str
    partition: int
    as_of: int


@dataclass(frozen=True)
class PartitionComputed:
    """One partition's computation done: how many persons, and what it left out and why."""

    partition: int
    persons: int
    skipped: dict[str, int]  # "table: reason" -> rows


# Runs every partition's computation (in any order, anywhere that sees the directory); the
# run then checks each partition's attributes file is there.
PartitionRunner = Callable[[Sequence[PartitionWork]], Awaitable[object]]


def _attributes_file(directory: str | Path, partition: int) -> Path:
    return Path(directory) / f"attributes-{partition}.pickle"


def write_partitions(
    ledger: Ledger, settings: AttributeSettings, partitions: int, directory: Path, as_of: int
) -> list[PartitionWork]:
    """Read the ledger once, writing each of `partitions` its persons' rows; their work."""
    scatter(ledger.engine, settings, partitions, directory)
    return [PartitionWork(str(directory), partition, as_of) for partition in range(partitions)]


def compute_partition(settings: AttributeSettings, work: PartitionWork) -> PartitionComputed:
    """Compute one partition's attributes from its own rows and write them for the run."""
    frames = partition_frames(work.directory, work.partition)
    result = compute_attributes(frames, work.as_of, settings)
    del frames
    with _attributes_file(work.directory, work.partition).open("wb") as handle:
        pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
    skipped = {
        f"{table}: {reason}": count
        for table, reasons in result.skipped.as_dict().items()
        for reason, count in reasons.items()
        if count
    }
    return PartitionComputed(work.partition, len(result.attributes), skipped)


def computed(work: PartitionWork) -> bool:
    """Whether partition `work`'s attributes have been written."""
    return _attributes_file(work.directory, work.partition).exists()


def _result(directory: str | Path, partition: int) -> AttributeResult:
    with _attributes_file(directory, partition).open("rb") as handle:
        result: AttributeResult = pickle.load(handle)  # noqa: S301 - the run's own file
    return result


def everyones_cuts(works: Sequence[PartitionWork]) -> RankCuts | None:
    """The cut-points of every person of every partition (their rank inputs, one at a time)."""
    inputs = []
    for work in works:
        rank_inputs = _result(work.directory, work.partition).rank_inputs
        assert rank_inputs is not None
        inputs.append(rank_inputs)
    return combined_rank_cuts(inputs)


def finished_partition(
    work: PartitionWork, cuts: RankCuts | None, settings: AttributeSettings
) -> AttributeResult:
    """Partition `work`'s attributes, its persons ranked among everyone by `cuts`."""
    return rescored(_result(work.directory, work.partition), cuts, settings)


def remove_files(works: Sequence[PartitionWork]) -> None:
    """Delete the run's partition files (and the directory when that leaves it empty)."""
    for work in works:
        partition_file(work.directory, work.partition).unlink(missing_ok=True)
        _attributes_file(work.directory, work.partition).unlink(missing_ok=True)
    for directory in {Path(work.directory) for work in works}:
        with contextlib.suppress(OSError):  # not empty: someone else's files are there too
            directory.rmdir()


def in_threads(settings: AttributeSettings, concurrency: int = 1) -> PartitionRunner:
    """A runner computing the partitions in this process, `concurrency` at a time (each one
    at a time holds one partition's frames: the peak grows with it)."""
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(work: PartitionWork) -> PartitionComputed:
        async with limit:
            return await asyncio.to_thread(compute_partition, settings, work)

    async def run(works: Sequence[PartitionWork]) -> list[PartitionComputed]:
        return list(await asyncio.gather(*(one(work) for work in works)))

    return run
