# A package, so that the conftest's package-scoped fixture ends with this folder's tests.
