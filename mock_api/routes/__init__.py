"""The fake's routes, one module per tag of ``openapi.yaml``."""
