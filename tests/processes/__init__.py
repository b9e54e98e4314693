"""Scenario tests with real `torchflow scheduler run` processes (marked slow)."""
