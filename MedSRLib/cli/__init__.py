"""The `medsr` command line."""
