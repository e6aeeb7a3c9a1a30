"""A letter's file written directly: the bytes fpdf2's ``OutputProducer`` writes for a document
in the built-in fonts, without its general object model.

fpdf2 serialises each object by reading all its attributes (``dir()``), converting their names
and values, and building the cross-reference table from the result: about a quarter of a
built-in-font letter's time. Such a letter has few objects of few kinds: the page tree, the
catalog, each page and its content stream (the QR code is drawn in it), a one-bit image
(CCITT) if the document has one, the fonts (Helvetica,
Courier: no file), each page's resources and the document information. :func:`lean_output`
writes them in fpdf2's order and format, with its file identifier; for any document with
something else (an embedded font, another kind of image, links, an outline, encryption…) it
returns None and fpdf2 writes the file. ``tests/unit/test_pdf_output.py`` compares the two
byte for byte."""

from __future__ import annotations

import hashlib
import zlib
from datetime import UTC, datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import PageLayout, PDFResourceType
from fpdf.fonts import CoreFont
from fpdf.util import escape_parens

_PROC_SET = "/ProcSet [/PDF /Text /ImageB /ImageC /ImageI]"


def lean_output(pdf: FPDF) -> bytes | None:
    """The finished document's file as fpdf2 writes it, or None if it has anything beyond the
    pages, built-in fonts, CCITT images and document information of a letter."""
    if not _simple(pdf):
        return None
    return _written(pdf)


def _written(pdf: Any) -> bytes:
    pages = [pdf.pages[n] for n in range(1, pdf.pages_count + 1)]
    count = len(pages)
    images = sorted(
        (img for img in pdf.image_cache.images.values() if img["usages"] > 0),
        key=lambda img: img["i"],
    )
    fonts = sorted(pdf.fonts.values(), key=lambda font: font.i)
    # fpdf2's numbering: the page tree, the catalog, each page and its contents, the images,
    # the fonts, each page's resources, the information
    image_ids = {img["i"]: 3 + 2 * count + n for n, img in enumerate(images)}
    first_font = 3 + 2 * count + len(images)
    font_ids = {font.i: first_font + n for n, font in enumerate(fonts)}
    first_resources = first_font + len(fonts)
    info_id = first_resources + count

    out = bytearray("%PDF-1.3\n%éëñ¿\n".encode("latin-1"))
    offsets: list[int] = []

    def obj(body: str, stream: bytes | None = None) -> None:
        offsets.append(len(out))
        out.extend(f"{len(offsets)} 0 obj\n<<\n{body}\n>>\n".encode("latin-1"))
        if stream is not None:
            out.extend(b"stream\n" + stream + b"\nendstream\n")
        out.extend(b"endobj\n")

    kids = "\n".join(f"{3 + 2 * n} 0 R" for n in range(count))
    width, height = pdf.default_page_dimensions
    obj(f"/Count {count}\n/Kids [{kids}]\n/MediaBox [0 0 {width:.2f} {height:.2f}]\n/Type /Pages")
    obj("/OpenAction [3 0 R /FitH null]\n/PageLayout /OneColumn\n/Pages 1 0 R\n/Type /Catalog")
    for n, page in enumerate(pages):
        obj(f"/Contents {4 + 2 * n} 0 R\n/Parent 1 0 R\n/Resources {first_resources + n} 0 R\n"
            "/Type /Page")  # fmt: skip
        data = zlib.compress(page.contents, -1)
        obj(f"/Filter /FlateDecode\n/Length {len(data)}", data)
    for img in images:
        data = img["data"]
        obj(
            f"/BitsPerComponent {img['bpc']}\n/ColorSpace /{img['cs']}\n"
            f"/DecodeParms <<{img['dp']} /BitsPerComponent {img['bpc']}>>\n/Filter /{img['f']}\n"
            f"/Height {img['h']}\n/Length {len(data)}\n/Subtype /Image\n/Type /XObject\n"
            f"/Width {img['w']}",
            data,
        )
    for font in fonts:
        obj(f"/BaseFont /{font.name}\n/Encoding /WinAnsiEncoding\n/Subtype /Type1\n/Type /Font")
    catalog = pdf._resource_catalog
    for number in range(1, count + 1):
        used = catalog.get_resources_per_page(number, PDFResourceType.FONT)
        shown = catalog.get_resources_per_page(number, PDFResourceType.X_OBJECT)
        parts = []
        if used:
            refs = "\n".join(f"/F{i} {font_ids[int(i)]} 0 R" for i in sorted(int(i) for i in used))
            parts.append(f"/Font <<{refs}>>")
        parts.append(_PROC_SET)
        if shown:
            refs = "\n".join(
                f"/I{i} {image_ids[int(i)]} 0 R" for i in sorted(int(i) for i in shown)
            )
            parts.append(f"/XObject <<{refs}>>")
        obj("\n".join(parts))
    created = pdf.creation_date
    obj(
        f"/Author {_string(pdf.author)}\n/CreationDate ({_date(created)})\n"
        f"/Creator {_string(pdf.creator)}\n/Title {_string(pdf.title)}"
    )
    assert len(offsets) == info_id  # noqa: S101  # the numbering above
    digest = hashlib.md5(out, usedforsecurity=False)
    digest.update(created.strftime("%Y%m%d%H%M%S").encode("utf8"))
    file_id = digest.hexdigest().upper()
    start = len(out)
    table = "".join(f"{offset:010} 00000 n \n" for offset in offsets)
    out.extend(
        (
            f"xref\n0 {info_id + 1}\n0000000000 65535 f \n{table}trailer\n<<\n/Size {info_id + 1}\n"
            f"/Root 2 0 R\n/Info {info_id} 0 R\n/ID [<{file_id}><{file_id}>]\n>>\n"
            f"startxref\n{start}\n%%EOF\n"
        ).encode("latin-1")
    )
    return bytes(out)


def _simple(pdf: Any) -> bool:
    """Whether the document has only what :func:`lean_output` writes (the rest at fpdf2's
    defaults): every font built in (not Symbol or ZapfDingbats), every image a CCITT one, no
    annotation, page label or size of its own, no outline, table of contents, structure,
    embedded file, encryption, signature, graphics state or optional content."""
    catalog = pdf._resource_catalog
    dimensions = pdf.default_page_dimensions
    created = pdf.creation_date
    return bool(
        pdf.pdf_version == "1.3"
        and pdf.compress
        and pdf.zoom_mode == "fullwidth"
        and pdf.page_layout == PageLayout.ONE_COLUMN
        and pdf.page_mode is None
        and pdf.viewer_preferences is None
        and getattr(pdf, "lang", None) is None
        and not any(getattr(pdf, key, None) for key in ("subject", "keywords", "producer"))
        and all(isinstance(getattr(pdf, key, None), str) for key in ("title", "author", "creator"))
        and isinstance(created, datetime)
        and created.tzinfo == UTC
        and not pdf.single_resources_object
        and pdf._security_handler is None
        and pdf._sign_key is None
        and pdf._compliance is None
        and pdf.toc_placeholder is None
        and not pdf.embedded_files
        and not pdf.named_destinations
        and not pdf._outline
        and not pdf.struct_builder.doc_struct_elem.k
        and getattr(pdf, "xmp_metadata", None) is None
        and not catalog.graphics_styles
        and not catalog.soft_mask_xobjects
        and not catalog.form_xobjects
        and not catalog.optional_content_groups
        and all(
            isinstance(font, CoreFont) and font.name not in ("Symbol", "ZapfDingbats")
            for font in pdf.fonts.values()
        )
        and all(
            img.get("f") == "CCITTFaxDecode"
            and img.get("cs") == "DeviceGray"
            and not ({"smask", "pal", "decode"} & img.keys())
            and img.get("iccp_i") is None
            and not img.get("image_mask")
            for img in pdf.image_cache.images.values()
        )
        and all(
            not page.annots
            and page.dimensions() == dimensions
            and page.dur is None
            and page.trans is None
            and page._page_label is None
            and isinstance(page.contents, bytearray)
            for page in pdf.pages.values()
        )
    )


def _string(text: str) -> str:
    """fpdf2's PDFString: ASCII in parentheses, anything else as UTF-16 in hexadecimal."""
    if text.isascii():
        return f"({escape_parens(text)})"
    return "<feff" + text.encode("utf-16-be").hex() + ">"


def _date(created: datetime) -> str:
    return f"D:{created:%Y%m%d%H%M%SZ}"
