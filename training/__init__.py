"""Offline tooling: learning the pair scorer from labelled dev data (not part of the service)."""
