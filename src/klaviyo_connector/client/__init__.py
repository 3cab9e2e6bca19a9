"""The Klaviyo client: the only code in the connector that speaks HTTP to Klaviyo.

from klaviyo_connector.client import KlaviyoClient
with KlaviyoClient(api_key) as client:
    for page in client.paginate("/api/lists"):
        ...
"""

from klaviyo_connector.client.endpoints import ENDPOINTS, Endpoint, template_for
from klaviyo_connector.client.http import KlaviyoClient
from klaviyo_connector.client.jsonapi import Page
from klaviyo_connector.client.pacing import Pacer, parse_rate_limit
from klaviyo_connector.client.responses import parse_retry_after, scope_fix
from klaviyo_connector.client.stats import RequestInfo, RequestStats
from klaviyo_connector.client.waits import WaitInfo

__all__ = [
    "ENDPOINTS",
    "Endpoint",
    "KlaviyoClient",
    "Pacer",
    "Page",
    "RequestInfo",
    "RequestStats",
    "WaitInfo",
    "parse_rate_limit",
    "parse_retry_after",
    "scope_fix",
    "template_for",
]
