"""The one object every screen reads: the ops services of the cluster the app is connected to."""

from __future__ import annotations

from dataclasses import dataclass

from falcotui.ops.deployer import Deployer
from falcotui.ops.engine import Engine
from falcotui.ops.rules_service import RulesService


@dataclass
class Services:
    engine: Engine  # fleet, alerts hub/store/views, health(), drain()
    deployer: Deployer
    rules: RulesService
    context_name: str
    namespace: str
    read_only: bool
    demo: bool = False
