"""torchflow: a workflow and case-management engine for cooperation matters."""

__version__ = "0.1.0"
