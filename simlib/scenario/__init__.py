"""Scenario files: safe reading, ``extends`` chains, overrides, validation, description and diff."""
