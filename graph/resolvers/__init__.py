"""Resolvers: arguments and principal in, records out, through loaders only (never HTTP)."""
