"""Prefect flows of stripe-cio: each wires tasks together and is a deployment entrypoint."""
