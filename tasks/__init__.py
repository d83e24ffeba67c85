"""Thin Prefect tasks over the engine: retries, logging and artifacts; no business logic."""
