"""csm-graph: the customer self-management GraphQL layer over TM Forum Open API backends."""

__all__ = ["__version__"]

__version__ = "0.1.0"
