"""Connectors: a Kafka Connect-compatible runtime on the Headwater log."""
