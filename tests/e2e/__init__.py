"""End-to-end stories against the real app under the production server (`make serve`).

A package (unlike tests/), so that its conftest is imported as `e2e.conftest` and never takes
the module name `conftest` that the unit tests import their helpers from.
"""
