"""The embedded TM Forum sandbox: realistic TMF Open API backends in one aiohttp app."""

from .app import RunningSandbox, SandboxConfig, create_sandbox_app, running_sandbox
from .faults import Fault

__all__ = ["Fault", "RunningSandbox", "SandboxConfig", "create_sandbox_app", "running_sandbox"]
