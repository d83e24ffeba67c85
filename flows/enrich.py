"""`enrich-profiles`: the nightly job. Every person's attributes from the ledger, diffed, pushed."""

from __future__ import annotations

import os
import uuid
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State

from blocks import CustomerIOCredentials
from stripe_cio.attributes import attribute_settings_from_env
from stripe_cio.jobs import ENRICH, enrich_job
from stripe_cio.jobs.partitions import (
    ENRICH_PARTITION,
    PARTITION_DIR_VARIABLE,
    PartitionWork,
    compute_partition,
)
from stripe_cio.runs import RunSummary
from tasks.notify import NotificationTarget
from tasks.partitions import in_child_flows, in_tasks
from tasks.steps import PrefectRunner

from .options import connections, described, flow_options, job_outcome


@flow(**flow_options(ENRICH, "Every person's attributes from the ledger; only changes are sent."))
@described
async def enrich_profiles(
    customerio_credentials: CustomerIOCredentials | None = None,
    dry_run: bool = False,
    as_of: datetime | None = None,
    limit: int | None = None,
    notify_block: NotificationTarget | None = None,
    wait_for_lock: float = 0.0,
    max_reject_rate: float | None = None,
    partitions: int = 1,
    partition_concurrency: int = 1,
    partition_deployment: str | None = None,
) -> RunSummary | State[Any]:
    """Compute every person's attributes and push what changed since Customer.io last accepted
    them (the `enrich` job, as `stripe-cio enrich` runs it).

    Persons whose history the ledger lacks are left out and counted. Another pushing run
    holding the ledger refuses this one (Cancelled) unless it ends within `wait_for_lock`.

    Args:
        as_of: The time the attributes are computed at (windows such as the last 30 days end
            there). Empty: now.
        limit: Compute and compare only the first persons, by identifier. Empty: everyone.
        wait_for_lock: Seconds to wait for another pushing run to finish before giving up.
        partitions: Split the persons into this many partitions by a stable hash, each computed
            from its own rows, so that peak memory follows a partition, not the account.
            1: one pass.
        partition_concurrency: How many partitions are computed at once (each holds its own
            rows in memory).
        partition_deployment: Compute each partition as a child flow run of this deployment
            ("enrich-partition/enrich-partition"), which any worker of its pool takes; they
            must all see the directory STRIPE_CIO_PARTITION_DIR names. Empty: as task runs of
            this flow run.
    """

    async def start() -> RunSummary:
        conns = connections(
            customerio_credentials=customerio_credentials, stripe=False, customerio=not dry_run
        )
        run_partitions = (
            in_child_flows(partition_deployment, partition_concurrency)
            if partition_deployment
            else in_tasks(attribute_settings_from_env(), partition_concurrency)
        )
        directory = os.environ.get(PARTITION_DIR_VARIABLE)
        return await enrich_job(
            conns,
            PrefectRunner(ENRICH),
            dry_run=dry_run,
            as_of=int(as_of.timestamp()) if as_of else None,
            limit=limit,
            wait_for_lock=wait_for_lock,
            max_reject_rate=max_reject_rate,
            partitions=partitions,
            run_partitions=run_partitions,
            partition_dir=Path(directory) / uuid.uuid4().hex if directory else None,
        )

    return await job_outcome(start)


@flow(
    **flow_options(
        ENRICH_PARTITION,
        "One partition of an enrich-profiles run split in partitions; started by that run.",
    )
)
def enrich_partition(directory: str, partition: int, as_of: int) -> dict[str, Any]:
    """Compute one partition's attributes from its own rows, for the `enrich-profiles` run that
    started this one (which ranks and pushes them); not a job to run on its own.

    Args:
        directory: The run's partition directory, where this partition's rows are and its
            attributes go.
        partition: Which partition.
        as_of: The time the attributes are computed at, Unix seconds.
    """
    done = compute_partition(
        attribute_settings_from_env(), PartitionWork(directory, partition, as_of)
    )
    get_run_logger().info(
        "partition %s: attributes of %s persons written to %s", partition, done.persons, directory
    )
    return asdict(done)
