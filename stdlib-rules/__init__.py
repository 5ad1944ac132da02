"""The stdlib rule packs, shipped as package data."""
