"""RabbitMQ: topology, command intake, outbox relay, command publishing."""

from orchestrator.broker.intake import Intake, new_workflow
from orchestrator.broker.publisher import command_message, publish_raw, submit
from orchestrator.broker.relay import Relay
from orchestrator.broker.topology import REASON_HEADER, Topology, declare_topology, delete_topology

__all__ = [
    "REASON_HEADER",
    "Intake",
    "Relay",
    "Topology",
    "command_message",
    "declare_topology",
    "delete_topology",
    "new_workflow",
    "publish_raw",
    "submit",
]
