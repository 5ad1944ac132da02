"""The language grammar, shipped as package data."""
