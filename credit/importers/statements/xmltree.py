"""An XML file read safely, every element with its line number.

defusedxml's SAX parser does the parsing, with ``forbid_dtd``: a document type declaration
(where entities are declared: the "billion laughs" expansion, external entities reading local
files) refuses the file before anything is expanded. SAX reports the line of each start tag
(ElementTree keeps none), so a small tree is built here from its events.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from xml.sax import SAXException, SAXParseException
from xml.sax.handler import ContentHandler, feature_external_ges, feature_namespaces
from xml.sax.xmlreader import AttributesNSImpl, InputSource, Locator

import defusedxml.sax
from defusedxml import DefusedXmlException, DTDForbidden

REFUSED_ENTITIES = "refused: the file declares entities (possible XML attack)"
REFUSED_DTD = (
    "refused: the file has a document type declaration (DTD), which bank statements never "
    "have (possible XML attack)"
)
_ENTITY_DECL = re.compile(rb"<\x00?!\x00?E\x00?N\x00?T\x00?I\x00?T\x00?Y")


class XmlRefused(Exception):
    """The file is not well-formed XML, or is refused as hostile; ``line`` when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason, self.line = reason, line
        super().__init__(reason)


class Node:
    """One element: its local name, namespace, the line of its start tag, attributes, text,
    children and parent (its path from the root, ``Document/BkToCstmrStmt/Stmt/Ntry/Amt``, is
    worked out when a message needs it)."""

    __slots__ = ("attrs", "children", "line", "name", "namespace", "parent", "text")

    def __init__(
        self,
        name: str,
        namespace: str = "",
        line: int = 0,
        *,
        attrs: dict[str, str] | None = None,
        parent: Node | None = None,
    ) -> None:
        self.name, self.namespace, self.line, self.parent = name, namespace, line, parent
        self.attrs = attrs or {}
        self.text = ""
        self.children: list[Node] = []

    def __repr__(self) -> str:
        return f"<{self.name} line {self.line}>"

    @property
    def path(self) -> str:
        parts = []
        node: Node | None = self
        while node is not None:
            parts.append(node.name)
            node = node.parent
        return "/".join(reversed(parts))

    def all(self, name: str) -> list[Node]:
        """The children called ``name``."""
        return [c for c in self.children if c.name == name]

    def find(self, path: str) -> Node | None:
        """The first element along ``path`` (local names separated by '/')."""
        node: Node | None = self
        for part in path.split("/"):
            node = next((c for c in node.children if c.name == part), None) if node else None
        return node

    def find_all(self, path: str) -> list[Node]:
        """Every element along ``path``."""
        nodes = [self]
        for part in path.split("/"):
            nodes = [c for n in nodes for c in n.children if c.name == part]
        return nodes

    def text_at(self, path: str) -> str | None:
        """The text of the first element along ``path``, or None when there is none."""
        node = self.find(path)
        return node.text if node is not None else None


# Called with each element as it ends (its children complete, the elements before it in the
# document read); True: it is dealt with, so it is not kept in the tree (a large statement's
# entries are read one by one rather than all held at once).
OnEnd = Callable[[Node], bool]


class _TreeBuilder(ContentHandler):
    def __init__(self, on_end: OnEnd | None) -> None:
        super().__init__()
        self.root: Node | None = None
        self.stack: list[Node] = []
        self.texts: list[list[str]] = []
        self.locator: Locator | None = None
        self.on_end = on_end

    def setDocumentLocator(self, locator: Locator) -> None:  # noqa: N802 (the SAX API)
        self.locator = locator

    def startElementNS(  # noqa: N802 (the SAX API)
        self, name: tuple[str | None, str], qname: str | None, attrs: AttributesNSImpl
    ) -> None:
        del qname
        uri, local = name
        line = self.locator.getLineNumber() if self.locator else 0
        parent = self.stack[-1] if self.stack else None
        values = {key[1]: value for key, value in attrs.items()} if len(attrs) else None
        node = Node(local, uri or "", line or 0, attrs=values, parent=parent)
        if parent is None:
            self.root = node
        else:
            parent.children.append(node)
        self.stack.append(node)
        self.texts.append([])

    def endElementNS(self, name: tuple[str | None, str], qname: str | None) -> None:  # noqa: N802
        del name, qname
        node = self.stack.pop()
        node.text = "".join(self.texts.pop()).strip()
        if self.on_end is not None and node.parent is not None and self.on_end(node):
            node.parent.children.pop()

    def characters(self, content: str) -> None:
        if self.texts:
            self.texts[-1].append(content)


def parse_xml(data: bytes, *, on_end: OnEnd | None = None) -> Node:
    """The document's root element, or :class:`XmlRefused` saying why not. ``on_end`` sees
    each element as it ends, and may take it out of the tree."""
    builder = _TreeBuilder(on_end)
    parser = defusedxml.sax.make_parser()
    parser.setFeature(feature_namespaces, True)
    parser.setFeature(feature_external_ges, False)
    parser.forbid_dtd = True
    parser.forbid_entities = True
    parser.forbid_external = True
    parser.setContentHandler(builder)
    source = InputSource()
    source.setByteStream(io.BytesIO(data))
    try:
        parser.parse(source)
    except DTDForbidden as exc:
        line = _line_of(builder)
        raise XmlRefused(
            REFUSED_ENTITIES if _ENTITY_DECL.search(data) else REFUSED_DTD, line
        ) from exc
    except DefusedXmlException as exc:  # entities or external references
        raise XmlRefused(REFUSED_ENTITIES, _line_of(builder)) from exc
    except SAXParseException as exc:
        raise XmlRefused(f"not well-formed XML: {exc.getMessage()}", exc.getLineNumber()) from exc
    except SAXException as exc:
        raise XmlRefused(f"not readable as XML: {exc.getMessage()}") from exc
    except (LookupError, UnicodeError) as exc:  # an encoding Python does not know, or bad bytes
        raise XmlRefused(f"not readable as XML: {exc}", 1) from exc
    if builder.root is None:
        raise XmlRefused("not an XML document: no root element")
    return builder.root


def _line_of(builder: _TreeBuilder) -> int | None:
    return builder.locator.getLineNumber() if builder.locator else None
