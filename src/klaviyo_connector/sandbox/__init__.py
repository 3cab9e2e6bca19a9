"""A local, faithful Klaviyo API (revision 2026-07-15) to test and demo against."""

from klaviyo_connector.sandbox.config import DEFAULT_SANDBOX_KEY, SandboxConfig
from klaviyo_connector.sandbox.runner import RunningSandbox, serve_in_thread
from klaviyo_connector.sandbox.server import Sandbox

__all__ = [
    "DEFAULT_SANDBOX_KEY",
    "RunningSandbox",
    "Sandbox",
    "SandboxConfig",
    "serve_in_thread",
]
