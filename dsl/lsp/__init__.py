"""The language server (``iommu-rules lsp``): rule files in editors.

``analysis`` loads a document as ``check`` does (same diagnostics, one code path) and
indexes the names it holds; ``features`` answers the editor's questions (hover,
completion, definitions, references, rename, outline, formatting, code actions) from an
analysis, as pure functions; ``server`` wires them to the protocol with pygls.
"""
