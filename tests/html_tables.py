"""Read the tables, sections and links of an HTML report back with the standard library's parser."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Table:
    caption: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # cell texts, the row header first
    classes: list[list[str]] = field(default_factory=list)  # each cell's class attribute
    reference: list[bool] = field(default_factory=list)  # the row is a published (reference) row


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.sections: list[str] = []
        self.headings: list[str] = []
        self.ids: list[str] = []
        self.sources: list[str] = []  # every src and href
        self._text: list[str] | None = None
        self._in: list[str] = []
        self._reference_body = False
        self._cell_class = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        for key in ("src", "href", "xlink:href"):
            if attributes.get(key):
                self.sources.append(str(attributes[key]))
        if tag == "section":
            self.sections.append(str(attributes.get("id")))
        elif tag == "table":
            self.tables.append(Table())
        elif tag == "tbody":
            self._reference_body = attributes.get("class") == "reference"
        elif tag == "tr" and self.tables and "thead" not in self._in:
            self.tables[-1].rows.append([])
            self.tables[-1].classes.append([])
            self.tables[-1].reference.append(self._reference_body)
        if tag in ("caption", "th", "td", "h2"):
            self._text = []
            self._cell_class = str(attributes.get("class") or "")
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self._in and self._in.pop() != tag:
            pass
        if tag in ("caption", "th", "td", "h2") and self._text is not None:
            text = "".join(self._text).strip()
            self._text = None
            if tag == "h2":
                self.headings.append(text)
            elif tag == "caption":
                self.tables[-1].caption = text
            elif "thead" in self._in:
                self.tables[-1].header.append(text)
            elif self.tables and self.tables[-1].rows:
                self.tables[-1].rows[-1].append(text)
                self.tables[-1].classes[-1].append(self._cell_class)

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def read_page(text: str) -> _Reader:
    reader = _Reader()
    reader.feed(text)
    reader.close()
    return reader


def rich_tables(output: str) -> dict[str, list[list[str]]]:
    """The tables of a rich terminal rendering (as ``albench leaderboard`` prints them without colour), by
    the title line printed above each: its rows' cell texts, the row header first."""
    tables: dict[str, list[list[str]]] = {}
    title = ""
    for line in output.splitlines():
        if line.startswith("│"):
            tables[title].append([cell.strip() for cell in line.strip("│").split("│")])
        elif line.startswith("┃"):
            continue
        elif line and line[0] not in "┏┡└┌├╇━─":
            title = line.strip()
            tables[title] = []
    return {t: rows for t, rows in tables.items() if rows}
