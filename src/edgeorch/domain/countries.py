"""Country codes and residency presets.

Countries are ISO 3166-1 alpha-2 codes, validated against the ``pycountry`` registry so the list
is never hand-typed here. Regulation presets name the countries data may live in.
"""

from functools import cache

import pycountry

# EU member states (27) plus the EEA's Iceland, Liechtenstein and Norway: GDPR's territorial scope
# for storage (GDPR Art. 3, EEA Agreement Annex XI). Kept as the legal definition, not derived.
EU_EEA: frozenset[str] = frozenset(
    (
        "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"  # EU 27
        " IS LI NO"  # EEA
    ).split()
)

REGULATIONS: dict[str, frozenset[str]] = {
    "GDPR": EU_EEA,
    "CCPA": frozenset({"US"}),
}


@cache
def all_country_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code known to the registry."""
    return frozenset(c.alpha_2 for c in pycountry.countries)


def normalize_country(code: str) -> str:
    """Return ``code`` upper-cased if it is an ISO 3166-1 alpha-2 code, else raise ValueError."""
    up = code.strip().upper()
    if up == "UK":
        raise ValueError("'UK' is not an ISO 3166-1 alpha-2 code; the United Kingdom is 'GB'")
    if up not in all_country_codes():
        raise ValueError(
            f"{code!r} is not an ISO 3166-1 alpha-2 country code (for example DE, US, AU, JP)"
        )
    return up


def countries_for_regulation(name: str) -> frozenset[str]:
    """Countries allowed by a named regulation preset, or ValueError naming the accepted presets."""
    key = name.strip().upper()
    if key not in REGULATIONS:
        raise ValueError(f"unknown regulation {name!r}; accepted: {', '.join(sorted(REGULATIONS))}")
    return REGULATIONS[key]
