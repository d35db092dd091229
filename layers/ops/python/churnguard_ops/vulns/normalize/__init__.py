"""One module per source: the tool's own output shape in, normalized :class:`~..model.Finding` items out."""
