"""Where the nightly enrich's partitions are computed: Prefect task runs of the enrich flow run,
or child flow runs of the `enrich-partition` deployment, which any worker of its pool takes.

Both only call the engine's `compute_partition`; the partitions exchange files in the run's
partition directory, which the child flow runs' workers must see (the same machine, or a
directory they all mount)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.deployments import arun_deployment

from stripe_cio.attributes import AttributeSettings
from stripe_cio.jobs.partitions import (
    PartitionComputed,
    PartitionRunner,
    PartitionWork,
    compute_partition,
)


@task(
    name="compute partition",
    task_run_name="compute partition {work.partition}",
    cache_policy=NO_CACHE,
)
def compute_partition_task(settings: AttributeSettings, work: PartitionWork) -> PartitionComputed:
    """Compute one partition's attributes from its own rows (a task run of the flow run)."""
    return compute_partition(settings, work)


def in_tasks(settings: AttributeSettings, concurrency: int) -> PartitionRunner:
    """Compute the partitions as task runs of this flow run, `concurrency` at a time."""
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(work: PartitionWork) -> PartitionComputed:
        async with limit:
            future = compute_partition_task.submit(settings, work)
            return await asyncio.to_thread(future.result)

    async def run(works: Sequence[PartitionWork]) -> list[PartitionComputed]:
        return list(await asyncio.gather(*(one(work) for work in works)))

    return run


def in_child_flows(deployment: str, concurrency: int) -> PartitionRunner:
    """Compute the partitions as child flow runs of `deployment` ("flow/deployment"), at most
    `concurrency` at a time; a child that does not complete fails the run."""
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(work: PartitionWork) -> None:
        async with limit:
            child = await arun_deployment(
                deployment,
                parameters={
                    "directory": work.directory,
                    "partition": work.partition,
                    "as_of": work.as_of,
                },
                flow_run_name=f"partition {work.partition}",
                timeout=None,  # wait for it, however long the queue
                poll_interval=2,
            )
        state = child.state
        if state is None or not state.is_completed():
            ended = state.name if state is not None else "without a state"
            raise RuntimeError(
                f"partition {work.partition}: child flow run {child.name} of {deployment} "
                f"ended {ended}"
            )

    async def run(works: Sequence[PartitionWork]) -> None:
        await asyncio.gather(*(one(work) for work in works))

    return run
