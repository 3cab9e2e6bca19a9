"""Klaviyo connector: five prebuilt Klaviyo tables in your warehouse, kept fresh."""

__version__ = "0.1.0"

KLAVIYO_REVISION = "2026-07-15"
KLAVIYO_BASE_URL = "https://a.klaviyo.com"
