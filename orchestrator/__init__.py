"""cbr-orchestrator: durable workflows over the Huawei Cloud CBR v3 API, and a local CBR emulator."""

__version__ = "0.1.0"
