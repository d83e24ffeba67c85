"""The Prefect side of the engine's jobs: the step runner that makes each job step a task run
(retries, artifacts, run logs), failure notifications and masked logs; no business logic."""
