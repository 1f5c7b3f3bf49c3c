"""Untrusted XML into an element tree, with document type declarations and entities refused.

Repository metadata comes from mirrors nobody vouches for until its checksum or signature is
checked, and a DTD is the door to entity expansion ("billion laughs") and external fetches.
expat is driven directly so that a ``<!DOCTYPE`` or ``<!ENTITY`` stops the parse at once.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Final
from xml.parsers import expat

from ..errors import FormatError, OciforgeError

__all__ = ["XML_NAMESPACE", "parse_xml"]

#: The namespace of ``xml:base`` and friends, as ElementTree spells qualified names.
XML_NAMESPACE: Final = "http://www.w3.org/XML/1998/namespace"


class _Refused(Exception):
    pass


def parse_xml(data: bytes, *, what: str, error: type[OciforgeError] = FormatError) -> ET.Element:
    """The root element of ``data``; names are ``{namespace}local`` as in ElementTree.

    Raises ``error`` (default :class:`FormatError`) naming ``what`` and the line for malformed XML,
    a document type declaration, or an entity declaration.
    """
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def qualified(name: str) -> str:
        return "{" + name if "}" in name else name

    def start(name: str, attributes: dict[str, str]) -> None:
        builder.start(qualified(name), {qualified(k): v for k, v in attributes.items()})

    def refuse(*_args: object) -> int:
        raise _Refused

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(qualified(name))
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except _Refused:
        raise error(
            f"{what}: line {parser.CurrentLineNumber}: XML with a document type or entity"
            " declaration is refused"
        ) from None
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code) if exc.code else str(exc)
        raise error(f"{what}: line {exc.lineno}: malformed XML ({reason})") from None
    return builder.close()
