"""Word pools the generators draw from: people, places, products, copy.

Names are (display, ascii slug) pairs so emails stay plain while names carry
accents, other scripts and emoji, as real accounts do.
"""

from __future__ import annotations

FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Sarah", "sarah"),
    ("James", "james"),
    ("María", "maria"),
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("Łukasz", "lukasz"),
    ("Søren", "soren"),
    ("Amélie", "amelie"),
    ("Ngozi", "ngozi"),
    ("Priya", "priya"),
    ("Wei", "wei"),
    ("李", "li"),
    ("Ярослав", "yaroslav"),
    ("محمد", "mohammed"),
    ("Yuki", "yuki"),
    ("O'Brien", "obrien"),
    ("Anne-Marie", "annemarie"),
    ("Chloé 🌸", "chloe"),
    ("Tom", "tom"),
    ("Émile", "emile"),
    ("Björk", "bjork"),
    ("Kwame", "kwame"),
    ("Ana", "ana"),
    ("Noah", "noah"),
)

LAST_NAMES: tuple[tuple[str, str], ...] = (
    ("Mason", "mason"),
    ("García", "garcia"),
    ("Müller", "muller"),
    ("Nguyễn", "nguyen"),
    ("Kowalski", "kowalski"),
    ("O'Connor", "oconnor"),
    ("Smith-Jones", "smithjones"),
    ("王", "wang"),
    ("Иванова", "ivanova"),
    ("Okafor", "okafor"),
    ("Patel", "patel"),
    ("Dubois", "dubois"),
    ("Sánchez", "sanchez"),
    ("Tanaka", "tanaka"),
    ("van der Berg", "vanderberg"),
    ("Lee 🚀", "lee"),
    ("Andersson", "andersson"),
    ("Haddad", "haddad"),
    ("Rossi", "rossi"),
    ("Brown", "brown"),
)

EMAIL_DOMAINS = (
    "example.com",
    "mail.example.org",
    "klaviyo-demo.com",
    "example.net",
    "shop.example.co.uk",
)

# (city, region, country, timezone, latitude, longitude, zip, phone prefix)
PLACES: tuple[tuple[str, str, str, str, float, float, str, str], ...] = (
    (
        "Boston",
        "Massachusetts",
        "United States",
        "America/New_York",
        42.3601,
        -71.0589,
        "02110",
        "+1617",
    ),
    (
        "Austin",
        "Texas",
        "United States",
        "America/Chicago",
        30.2672,
        -97.7431,
        "73301",
        "+1512",
    ),
    (
        "Brisbane",
        "Queensland",
        "Australia",
        "Australia/Brisbane",
        -27.4698,
        153.0251,
        "4000",
        "+614",
    ),
    (
        "London",
        "England",
        "United Kingdom",
        "Europe/London",
        51.5072,
        -0.1276,
        "SW1A 1AA",
        "+447",
    ),
    (
        "München",
        "Bayern",
        "Germany",
        "Europe/Berlin",
        48.1351,
        11.582,
        "80331",
        "+4915",
    ),
    (
        "Lyon",
        "Auvergne-Rhône-Alpes",
        "France",
        "Europe/Paris",
        45.764,
        4.8357,
        "69001",
        "+336",
    ),
    (
        "São Paulo",
        "SP",
        "Brazil",
        "America/Sao_Paulo",
        -23.5505,
        -46.6333,
        "01000-000",
        "+5511",
    ),
    ("東京", "Tokyo", "Japan", "Asia/Tokyo", 35.6762, 139.6503, "100-0001", "+8190"),
    (
        "Toronto",
        "Ontario",
        "Canada",
        "America/Toronto",
        43.6532,
        -79.3832,
        "M5H 2N2",
        "+1416",
    ),
    ("Lagos", "Lagos", "Nigeria", "Africa/Lagos", 6.5244, 3.3792, "100001", "+23480"),
)

STREETS = ("Main St", "Calle Mayor", "Hauptstraße", "Rue de la Paix", "High St")
ORGANIZATIONS = ("Acme Corp", "Globex", "Initech", "Umbrella Co.", "Stark & Sons")
TITLES = ("Regional Manager", "Buyer", "Founder", "Head of Growth", "Student")
LOCALES = ("en-US", "en-GB", "es-ES", "de-DE", "fr-FR", "ja-JP", "pt-BR")
COLORS = ("red", "Blue", "green", "Ultraviolet 💜", "türkis", "black")
SOURCES = ("Shopify", "Signup form", "Import", "API", "Checkout", "Quiz")

LIST_NAMES = (
    "Newsletter",
    "VIP Customers",
    "Back in Stock — Shoes",
    "Clientes España 🇪🇸",
    "SMS Subscribers",
    "Preview List",
    "Wholesale Leads",
    "Newsletter",
    "Early Access ✨",
    "Retail Store Signups",
    "Holiday Gift Guide 2024",
    "Push Opt-ins",
    "Unengaged (suppressed)",
    "Kundenliste Deutschland",
)

SEGMENT_NAMES = (
    "Repeat Purchasers",
    "Engaged (30 days)",
    "Engaged (90 days)",
    "Churn Risk",
    "High CLV 💎",
    "Never Purchased",
    "Lapsed Customers",
    "EU Residents",
    "Opened but not Clicked",
    "SMS Consent",
    "Cart Abandoners",
    "New Subscribers",
    "Winback — 180 days",
)

CAMPAIGN_THEMES = (
    "Boxing Day Sale",
    "Spring Collection",
    "Black Friday Early Access",
    "Weekly Newsletter",
    "Back in Stock",
    "Flash Sale ⚡",
    "Summer Lookbook",
    "Cyber Monday",
    "Nouvelle collection",
    "Winterschlussverkauf",
    "Loyalty Points Reminder",
    "Product Launch: Aurora",
    "Last Chance!",
    "Valentine's Day 💘",
)

SUBJECTS = (
    "50% off today only",
    "You're on the list 🎉",
    "Don't miss out",
    "New arrivals just for you",
    "¡Última oportunidad!",
    "Your exclusive code inside",
)
