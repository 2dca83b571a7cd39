"""Alembic migrations. They live inside the package (not at the repository root) so that an
installed ``fidela`` can migrate its database with ``fidela db upgrade``."""
