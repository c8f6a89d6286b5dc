"""Multipart form bodies, read as they arrive and stopped at a size limit.

Starlette's own form parser spools large files into the system's temporary folder and has no
limit on a file's size; this one keeps every part in memory and gives up as soon as the body
passes ``max_bytes``, so a huge upload costs at most the limit, never a disk full of it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from ..errors import ConfigError, StyleFusionError

MB = 1024 * 1024


class UploadTooLarge(StyleFusionError):
    """A request body (an upload) is over the app's size limit."""

    def __init__(self, name: str, limit: int):
        self.name, self.limit = name, limit
        super().__init__(f"{name}: the upload is larger than the limit of {size_text(limit)}; "
                         "use a smaller file (or export the photo at a lower resolution)")


def size_text(n: int) -> str:
    """``41943040`` → ``"40 MB"``; below a megabyte in KB."""
    return f"{n / MB:.0f} MB" if n >= MB else f"{n / 1024:.0f} KB"


@dataclass
class Part:
    """One part of a form: a field (``filename`` None) or a file."""

    name: str
    filename: str | None
    data: bytes


@dataclass
class Form:
    """The parts of a multipart body, in the order sent."""

    parts: list[Part] = field(default_factory=list)

    def files(self, name: str) -> list[Part]:
        """The file parts called ``name``, in the order sent."""
        return [p for p in self.parts if p.name == name and p.filename is not None]

    def file(self, name: str) -> Part:
        """The one file part called ``name``; ConfigError when there is none."""
        found = self.files(name)
        if not found:
            raise ConfigError(f"the request has no file field {name!r}")
        return found[0]

    def text(self, name: str, default: str | None = None) -> str:
        """A text field's value (UTF-8); ConfigError when it is missing and has no default."""
        for p in self.parts:
            if p.name == name and p.filename is None:
                return p.data.decode("utf-8", "replace")
        if default is None:
            raise ConfigError(f"the request has no field {name!r}")
        return default

    def json(self, name: str) -> dict[str, Any]:
        """A field holding a JSON object."""
        try:
            value = json.loads(self.text(name))
        except json.JSONDecodeError as e:
            raise ConfigError(f"field {name!r} is not valid JSON ({e})") from None
        if not isinstance(value, dict):
            raise ConfigError(f"field {name!r} must hold a JSON object")
        return value


def _disposition(headers: dict[bytes, bytes]) -> tuple[str, str | None]:
    _, params = parse_options_header(headers.get(b"content-disposition", b""))
    name = params.get(b"name", b"").decode("utf-8", "replace")
    filename = params.get(b"filename")
    return name, None if filename is None else filename.decode("utf-8", "replace")


async def read_form(request: Request, max_bytes: int) -> Form:
    """Parse a ``multipart/form-data`` request body part by part as it streams in. Raises
    UploadTooLarge (naming the file being received) once more than ``max_bytes`` arrived, and
    ConfigError for a body that is not a well-formed form."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise ConfigError("expected a multipart/form-data upload")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UploadTooLarge("upload", max_bytes)  # refused before a byte of it is read

    form = Form()
    headers: dict[bytes, bytes] = {}
    header_field, header_value = bytearray(), bytearray()
    current: dict[str, Any] = {}

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        name, filename = _disposition(headers)
        current.update(name=name, filename=filename, buffer=io.BytesIO())

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current["buffer"].write(data[start:end])

    def on_part_end() -> None:
        form.parts.append(Part(current["name"], current["filename"], current["buffer"].getvalue()))

    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end})
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            # Parsed before the check, so the message can name the file (at most one chunk over).
            parser.write(chunk[: max(0, max_bytes + 1 - (received - len(chunk)))])
            if received > max_bytes:
                raise UploadTooLarge(current.get("filename") or "upload", max_bytes)
        parser.finalize()
    except FormParserError as e:
        raise ConfigError(f"the upload is not a well-formed form ({e})") from None
    return form
