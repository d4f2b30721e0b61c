"""The ``auxot`` command line."""
