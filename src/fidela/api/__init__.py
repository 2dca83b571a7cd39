"""The HTTP shell: FastAPI routes under ``/v1``, problem-details errors, API-key security."""
