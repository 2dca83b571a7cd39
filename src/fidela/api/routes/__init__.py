"""HTTP routes, one module per context. They live in the shell, not in the contexts, so that
no context imports FastAPI (see ARCHITECTURE.md)."""
