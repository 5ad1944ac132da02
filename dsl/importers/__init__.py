"""Importers: real boards and machines into rule files."""
