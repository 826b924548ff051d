"""The TMF APIs csm-graph talks to, their standard base paths and configuration names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["APIS", "API_BY_KEY", "ApiInfo"]


@dataclass(frozen=True, slots=True)
class ApiInfo:
    key: str  # "TMF629"
    base_path: str  # standard path below a server root

    @property
    def env_var(self) -> str:
        """Environment variable holding the API's full base URL, e.g. ``CSM_TMF629_URL``."""
        return f"CSM_{self.key}_URL"


APIS: Final[tuple[ApiInfo, ...]] = (
    ApiInfo("TMF629", "/tmf-api/customerManagement/v4"),
    ApiInfo("TMF632", "/tmf-api/party/v4"),
    ApiInfo("TMF666", "/tmf-api/accountManagement/v4"),
    ApiInfo("TMF683", "/tmf-api/partyInteraction/v4"),
    ApiInfo("TMF678", "/tmf-api/customerBillManagement/v4"),
    ApiInfo("TMF676", "/tmf-api/paymentManagement/v4"),
    ApiInfo("TMF670", "/tmf-api/paymentMethod/v4"),
    ApiInfo("TMF635", "/tmf-api/usageManagement/v4"),
    ApiInfo("TMF621", "/tmf-api/troubleTicket/v4"),
    ApiInfo("TMF656", "/tmf-api/serviceProblemManagement/v4"),
    ApiInfo("TMF620", "/tmf-api/productCatalogManagement/v4"),
    ApiInfo("TMF622", "/tmf-api/productOrderingManagement/v4"),
    ApiInfo("TMF637", "/tmf-api/productInventory/v4"),
    ApiInfo("TMF641", "/tmf-api/serviceOrdering/v4"),
    ApiInfo("TMF638", "/tmf-api/serviceInventory/v4"),
    ApiInfo("TMF639", "/tmf-api/resourceInventoryManagement/v4"),
)

API_BY_KEY: Final = {api.key: api for api in APIS}
