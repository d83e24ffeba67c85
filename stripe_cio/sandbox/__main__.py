"""`python -m stripe_cio.sandbox stripe|customerio ...`: how SandboxProcess starts a sandbox."""

from .command import sandbox_app

sandbox_app(prog_name="stripe-cio sandbox")
