"""The user documentation, shipped so the language server can show a keyword's entry."""
