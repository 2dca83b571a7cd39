"""The command-line shell: ``fidela <noun> <verb>``."""
