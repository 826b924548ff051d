"""Who is asking: principals, and the permissions declared on fields."""

from .principal import ANONYMOUS, Principal, Role, dev_principal

__all__ = ["ANONYMOUS", "Principal", "Role", "dev_principal"]
