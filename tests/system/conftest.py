"""The system tests' shared fixtures: the deployed topology's stack (module scope: one per module that asks)."""

from tests.system.topology_stack import stack  # noqa: F401 (a fixture, registered by being here)
