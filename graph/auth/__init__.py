"""Who is asking: verified tokens become principals."""

from .principal import ANONYMOUS, CHANNELS, ClaimsError, Principal, Role, principal_from_claims

__all__ = ["ANONYMOUS", "CHANNELS", "ClaimsError", "Principal", "Role", "principal_from_claims"]
