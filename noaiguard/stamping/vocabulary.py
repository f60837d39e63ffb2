"""The IPTC "Data Mining" property: its XMP namespace and the PLUS codes it takes.

IPTC Photo Metadata Standard 2023.1 (with PLUS, the Picture Licensing Universal System) gives images
one property for text and data mining, ``plus:DataMining`` (ExifTool: ``XMP-plus:DataMining``).
Its value is an XMP text holding a full URI from the PLUS vocabulary, e.g.
``http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING``.
"""

from __future__ import annotations

DATA_MINING_NAMESPACE = "http://ns.useplus.org/ldf/xmp/1.0/"
VOCABULARY = "http://ns.useplus.org/ldf/vocab/"

#: What noaiguard writes unless told otherwise: no training of AI or machine-learning models.
DEFAULT_DATA_MINING = "DMI-PROHIBITED-AIMLTRAINING"

#: The nine codes of the PLUS "Data Mining" vocabulary.
CODES: frozenset[str] = frozenset(
    {
        "DMI-UNSPECIFIED",
        "DMI-ALLOWED",
        "DMI-PROHIBITED-AIMLTRAINING",
        "DMI-PROHIBITED-GENAIMLTRAINING",
        "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
        "DMI-PROHIBITED",
        "DMI-PROHIBITED-SEECONSTRAINT",
        "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR",
        "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
    }
)


def data_mining_uri(code: str) -> str:
    """The URI written for ``code`` ("DMI-..."); ValueError for a code the vocabulary lacks.

    Readers compare the whole URI, so a misspelt code would silently mean nothing: refuse it.
    """
    if code not in CODES:
        known = ", ".join(sorted(CODES))
        raise ValueError(f"unknown Data Mining code {code!r}; expected one of {known}")
    return VOCABULARY + code


def short_value(value: str) -> str:
    """``value`` as a person reads it: the code for a vocabulary URI, else the value itself."""
    return value.removeprefix(VOCABULARY) if value.startswith(VOCABULARY) else value
