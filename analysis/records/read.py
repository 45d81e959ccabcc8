"""Reading a clinic's file into a table of text cells, with the row number a spreadsheet shows for each.

:func:`read_table` decodes a :class:`SourceFile` (UTF-8 with or without BOM, UTF-16, Windows-1252,
Latin-1), finds the delimiter from the header line and splits the rows. Plain files are read by
pyarrow straight from their bytes; files with quotes go through pandas' C parser, and files with
ragged rows through Python's csv module, which keeps every other row and reports the ragged ones
(with their row numbers) instead of failing. Whole-file refusals (a workbook, a PDF, binary data, no
header, duplicate headers, no data) raise :class:`~analysis.records.problems.ImportProblem`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analysis.records import schema
from analysis.records.problems import ImportProblem, clip

@dataclass(frozen=True)
class SourceFile:
    """An uploaded or local file: its name (shown in messages) and its bytes."""

    name: str
    data: bytes

    @classmethod
    def from_path(cls, path: str | Path) -> "SourceFile":
        p = Path(path)
        return cls(p.name, p.read_bytes())

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes (computed once; hashlib releases the GIL, so it can run in a thread)."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class RawTable:
    """A file split into cells, all still text: one Arrow column per header (plain, or dictionary-encoded
    when the reader was asked to), blank rows left out. ``rows`` holds the spreadsheet row number of each
    record; ``malformed`` the rows that could not be split into the header's columns."""

    file: str
    cells: pa.Table
    rows: np.ndarray
    encoding: str
    delimiter: str
    malformed: pd.DataFrame  # row, value, reason for records with the wrong number of fields
    blank_rows: int
    source: str = ""                    # the file's own name, when ``file`` also names a sheet
    sheet: str | None = None            # the workbook sheet the table is, if any
    decimal_comma: bool | None = None   # None: decided by the delimiter (a comma-separated file uses '.')

    @property
    def source_name(self) -> str:
        return self.source or self.file

    @property
    def uses_decimal_comma(self) -> bool:
        """Whether numbers written as text may use a decimal comma ('2,5')."""
        return self.delimiter != "," if self.decimal_comma is None else self.decimal_comma

    @property
    def headers(self) -> list[str]:
        return list(self.cells.column_names)

    @property
    def num_rows(self) -> int:
        return self.cells.num_rows

    def column(self, header: str) -> pa.ChunkedArray:
        """A column's cells (text, or dictionary-encoded text)."""
        return self.cells.column(self.headers.index(header))

    def frame_of(self, mask: np.ndarray | None = None, headers: list[str] | None = None) -> pd.DataFrame:
        """The cells of some rows (all by default) and columns as a frame of text."""
        cells = self.cells if headers is None else self.cells.select([self.headers.index(h) for h in headers])
        if mask is not None:
            cells = cells.filter(pa.array(mask))
        plain = pa.table([c.cast(pa.large_string()) if pa.types.is_dictionary(c.type) else c for c in cells.columns],
                         names=cells.column_names)
        return plain.to_pandas()

    @cached_property
    def frame(self) -> pd.DataFrame:
        """Every cell, as a frame of text."""
        return self.frame_of()



_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"SQLite format 3", "a SQLite database"),
)
_BOM = b"\xef\xbb\xbf"  # UTF-8's byte-order mark
_SAVE_AS_CSV = "Open it in Excel and use File > Save As > 'CSV UTF-8 (Comma delimited)', then upload the .csv."


def decode(source: SourceFile) -> tuple[str, str]:
    """Return the file's text and the encoding used: UTF-8 (with or without BOM), UTF-16, Windows-1252, Latin-1."""
    data = source.data
    if _looks_empty(data):
        raise ImportProblem(source.name, "the file is empty.",
                            "Export the records again and check the file has a header row and data.")
    what = _signature(data)
    if what:
        raise ImportProblem(source.name, f"this is {what}, not a CSV file.", _SAVE_AS_CSV)
    if data.startswith(_BOM):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        if b"\x00" in data[:65536]:
            raise ImportProblem(source.name, "the file contains binary data (NUL bytes), so it is not a CSV file.",
                                _SAVE_AS_CSV)
        candidates = ["utf-8", "cp1252", "latin-1"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        break
    else:  # pragma: no cover - latin-1 decodes any byte string
        raise ImportProblem(source.name, "the text encoding could not be read.", _SAVE_AS_CSV)
    if _mostly_controls(text[:65536]):
        raise ImportProblem(source.name, "the file contains binary data, so it is not a CSV file.", _SAVE_AS_CSV)
    return text, {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "utf-16": "UTF-16",
                  "cp1252": "Windows-1252", "latin-1": "Latin-1"}[encoding]


def _looks_empty(data: bytes) -> bool:
    """Nothing but spaces, line ends, NULs and byte-order marks (looked for in the first 64 kB first)."""
    blank = b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"
    return not data[:65536].strip(blank) and not data.strip(blank)


def _signature(data: bytes) -> str | None:
    """What a file that is not text is (an Excel workbook, a PDF, ...), from its first bytes."""
    return next((what for magic, what in _SIGNATURES if data.startswith(magic)), None)


_CONTROLS = {c: None for c in range(32) if chr(c) not in "\t\r\n"}  # str.translate deletes these


def _mostly_controls(sample: str) -> bool:
    """The first characters of a file hold more control characters than text can: it is binary."""
    controls = len(sample) - len(sample.translate(_CONTROLS))
    return controls > max(8, len(sample) // 100)


def delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter, repr(delimiter))


def sniff_delimiter(header_line: str) -> str:
    """Pick the delimiter that splits the header line into the most fields (outside quotes)."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


Encode = Callable[[list[str]], Collection[str]]


def read_table(source: SourceFile, encode: Encode | None = None) -> RawTable:
    """Decode and split a CSV file into columns of text cells with spreadsheet row numbers.

    ``encode`` is given the headers and names the columns to dictionary-encode as they are read (those
    that repeat few values: the reader then does what checking each distinct value once needs, on
    both cores); plain files read by pyarrow honour it, others are read as plain text."""
    utf8 = _read_utf8(source, encode) if BYTES_PATH else None
    if utf8 is not None:  # what the branch below gives for this file, without decoding it to Python text
        cells, encoding, delimiter, first_line = utf8
        malformed = pd.DataFrame(columns=["row", "value", "reason"])
        rows = np.arange(2, cells.num_rows + 2)
    else:
        cells, rows, malformed, encoding, delimiter, first_line = _read_decoded(source, encode)
    return finish_table(RawTable(source.name, cells, rows, encoding, delimiter, malformed, 0), first_line)


def finish_table(table: RawTable, first_line: str) -> RawTable:
    """The checks every file's (or sheet's) cells go through once split: at least two columns, no column of
    data without a header (empty ones are dropped), distinct headers, blank rows left out (counted), and
    some data. ``first_line``: the header as written, quoted in the refusal of a one-column file."""
    cells, rows, malformed = table.cells, table.rows, table.malformed
    headers = [str(h).strip() for h in cells.column_names]
    if len(headers) < 2:
        line = first_line.strip()
        shown = "(not shown: it may identify a patient)" if schema.identifying(line) or "@" in line else f"'{clip(line)}'"
        raise ImportProblem(table.file, "only one column was found, so this does not look like a CSV "
                            f"export (first line: {shown}).",
                            "Export the records as CSV with a header row and comma, semicolon or tab "
                            "between columns.")
    untitled = [i for i, h in enumerate(headers) if h == "" or h.startswith("Unnamed:")]
    if untitled:
        # Excel often leaves trailing empty header cells; drop those columns when they hold nothing.
        # Columns are addressed by position: several blank headers would otherwise share one name.
        holding = [i for i in untitled
                   if (_text_series(cells.column(i)).str.strip() != "").any()]
        if holding:
            raise ImportProblem(table.file, "a column with data has no header "
                                f"(column {', '.join(str(i + 1) for i in holding)}).",
                                "Give every column a name in the first row.")
        cells = cells.select([i for i in range(len(headers)) if i not in untitled])
        headers = [h for i, h in enumerate(headers) if i not in untitled]
        if len(headers) < 2:
            raise ImportProblem(table.file, "only one column with a header was found, so this does not look like "
                                "a CSV export.", "Export the records as CSV with a header row.")
    cells = cells.rename_columns(headers)
    duplicated = sorted({h for h in headers if headers.count(h) > 1})
    if duplicated:
        raise ImportProblem(table.file, f"the header names {', '.join(repr(h) for h in duplicated)} "
                            "more than once.", "Give each column a distinct name.")
    blank = _blank_rows(cells)
    blank_rows = int(blank.sum())
    if blank_rows:
        cells = cells.filter(pa.array(~blank))
        rows = rows[~blank]
    if cells.num_rows == 0 and malformed.empty:
        raise ImportProblem(table.file, "the file has a header row but no data rows.",
                            "Export the records again, including the data.")
    return replace(table, cells=cells, rows=rows, blank_rows=blank_rows)


def _text_series(column: pa.ChunkedArray) -> pd.Series:
    return column.cast(pa.large_string()).to_pandas() if pa.types.is_dictionary(column.type) else column.to_pandas()


def _from_frame(frame: pd.DataFrame) -> pa.Table:
    """A frame of text cells (from pandas' or Python's CSV reader) as a table of text columns."""
    return pa.table([pa.array(frame.iloc[:, i].astype(str).to_numpy(dtype=object), pa.large_string())
                     for i in range(frame.shape[1])], names=[str(c) for c in frame.columns])


def _read_decoded(source: SourceFile, encode: Encode | None = None
                  ) -> tuple[pa.Table, np.ndarray, pd.DataFrame, str, str, str]:
    """Decode the file to text and split it: cells, row numbers, malformed rows, encoding, delimiter, first line."""
    text, encoding = decode(source)
    text = text.lstrip("\ufeff")
    end = text.find("\n")
    first_line = text if end < 0 else text[:end]
    delimiter = sniff_delimiter(first_line)
    # Plain UTF-8 files are already the bytes pyarrow and the line scan need; others are encoded once.
    data = source.data if encoding == "UTF-8" else _utf8(text)
    cells = _read_arrow(text, data, first_line, delimiter, encode=encode)
    if cells is not None:  # exactly what the branch below gives for this file, only faster
        return cells, np.arange(2, cells.num_rows + 2), pd.DataFrame(columns=["row", "value", "reason"]), encoding, \
            delimiter, first_line
    try:
        if _may_have_extra_fields(text, first_line, delimiter, data):
            raise pd.errors.ParserError("a row may have more fields than the header")
        frame = _read_fast(text, delimiter)
        malformed = pd.DataFrame(columns=["row", "value", "reason"])
        rows = np.arange(2, len(frame) + 2)
    except (pd.errors.ParserError, csv.Error, ValueError):
        frame, rows, malformed = _read_tolerant(text, delimiter, source.name)
    return _from_frame(frame), rows, malformed, encoding, delimiter, first_line


#: Read plain UTF-8 files from their bytes (:func:`_read_utf8`); tests switch it off to compare.
BYTES_PATH = True


def _read_utf8(source: SourceFile, encode: Encode | None = None) -> tuple[pa.Table, str, str, str] | None:
    """For a file :func:`decode` reads as UTF-8 (with or without BOM) and :func:`_read_arrow` can read: the
    cells, encoding name, delimiter and first line, from the bytes (pyarrow checks the UTF-8 as it reads),
    without decoding a million rows into one Python string first. None for any other file."""
    data = source.data
    # decode()'s refusals (and UTF-16) are for the decoding path to give
    if (_looks_empty(data) or _signature(data) or data.startswith((b"\xff\xfe", b"\xfe\xff"))
            or b"\x00" in data[:65536]):
        return None
    bom = data.startswith(_BOM)
    # decode()'s check for binary content looks at the first 65,536 characters after one BOM.
    head = len(_BOM) if bom else 0
    try:
        prefix = data[head:head + 262_144].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 262_144 - 4:  # not just a character cut at the end of the prefix
            return None
        prefix = data[head:head + exc.start].decode("utf-8")
    if _mostly_controls(prefix[:65536]):  # (262,144 bytes hold at least 65,536 characters)
        return None
    prefix = prefix.lstrip("\ufeff")
    end = prefix.find("\n")
    if end < 0 and len(data) > 262_144:
        return None  # a first line longer than the prefix
    first_line = prefix if end < 0 else prefix[:end]
    start = 0
    while data.startswith(_BOM, start):  # (no copy of the bytes after the marks)
        start += len(_BOM)
    delimiter = sniff_delimiter(first_line)
    cells = _read_arrow(None, data, first_line, delimiter, start, encode)
    if cells is None:
        return None
    return cells, "UTF-8 with BOM" if bom else "UTF-8", delimiter, first_line


def _blank_rows(cells: pa.Table) -> np.ndarray:
    """Rows whose every cell is empty (column by column, stopping once no row can be blank)."""
    blank = np.ones(cells.num_rows, dtype=bool)
    for column in cells.columns:
        if not blank.any():
            break
        blank &= _empty(column)
    return blank


def _empty(column: pa.ChunkedArray) -> np.ndarray:
    """Which cells are empty text (a dictionary-encoded column is looked at once per distinct value)."""
    parts = []
    for chunk in column.chunks:
        if isinstance(chunk, pa.DictionaryArray):
            empty = pc.equal(chunk.dictionary, "").to_numpy(zero_copy_only=False)
            parts.append(empty[chunk.indices.to_numpy(zero_copy_only=False)])
        else:
            parts.append(pc.equal(chunk, "").to_numpy(zero_copy_only=False))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def _utf8(text: str) -> bytes | None:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # pragma: no cover - decode() never yields lone surrogates
        return None


_SCAN_CHUNK = 1 << 23  # bytes per step of the line scan (bounds its memory)


def _may_have_extra_fields(text: str, first_line: str, delimiter: str, data: bytes | None = None) -> bool:
    """True when some line holds more delimiters than the header has fields (quoted ones counted too,
    so this errs towards the tolerant reader, which reports extra fields instead of dropping them).

    Lines are counted on the UTF-8 bytes with numpy: an ASCII delimiter or newline byte never occurs
    inside a multi-byte character, so the counts are those of ``text.split("\\n")``."""
    header_fields = re.sub(r'"[^"]*"', "", first_line).count(delimiter) + 1
    if data is None:
        data = _utf8(text)
    if data is None or len(delimiter) != 1 or ord(delimiter) > 127 or delimiter == "\n":
        counts = pd.Series(text.split("\n")[1:], dtype=object).str.count(re.escape(delimiter))
        return bool((counts >= header_fields).any())
    buffer = np.frombuffer(data, dtype=np.uint8)
    code = ord(delimiter)
    carry = 0          # delimiters so far in the line that is still open at the end of a chunk
    in_header = True   # that open line is the header line, which is not checked
    for start in range(0, len(buffer), _SCAN_CHUNK):
        chunk = buffer[start:start + _SCAN_CHUNK]
        newlines = np.flatnonzero(chunk == 10)
        delimiters = np.flatnonzero(chunk == code)
        if len(newlines) == 0:
            carry += len(delimiters)
            continue
        before = np.searchsorted(delimiters, newlines)  # delimiters in the chunk before each newline
        closed = np.diff(before, prepend=0)
        closed[0] += carry
        if in_header:
            closed[0] = 0
            in_header = False
        if (closed >= header_fields).any():
            return True
        carry = len(delimiters) - int(before[-1])
    return not in_header and carry >= header_fields


#: Bytes per block of pyarrow's CSV reader: 16 MB parses a million rows ~0.1 s faster than the 1 MB default
#: (measured on 2 cores, fresh processes); blocks end at line ends, so the result is the same.
_ARROW_BLOCK = 1 << 24
_ARROW_PARSE = dict(quote_char=False, double_quote=False, escape_char=False, newlines_in_values=False,
                    ignore_empty_lines=False)


def _read_arrow(text: str | None, data: bytes | None, first_line: str, delimiter: str,
                start: int = 0, encode: Encode | None = None) -> pa.Table | None:
    """What the pre-scan and :func:`_read_fast` give, read by pyarrow (several times faster at a million
    rows), for the files where the readers provably agree: no quote character, no NUL, no carriage
    return outside CRLF, and every line with the header's number of fields (blank lines are rows of
    empty cells in both). Without quotes a line with too many delimiters is a row with too many
    fields, which pyarrow refuses, so a frame returned here is one the pre-scan lets through.
    Returns None for any other file, which then takes the old way. ``start``: where the text begins in
    ``data`` (after byte-order marks, which hold no quote, NUL or carriage return); ``encode``: see
    :func:`read_table`."""
    if (data is None or b'"' in data or b"\x00" in data
            or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n"))):
        return None
    if delimiter not in first_line:
        return None
    try:  # the header as the C parser names it ('Unnamed: 3' for a blank one, 'x.1' for a repeat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names = list(pd.read_csv(io.StringIO(first_line), sep=delimiter, dtype=str, keep_default_na=False,
                                     na_filter=False, skip_blank_lines=False, engine="c", quotechar="\"",
                                     index_col=False, nrows=0).columns)
    except (pd.errors.ParserError, ValueError):
        return None
    header = first_line.removesuffix("\r").split(delimiter)
    if len(header) != len(names):
        return None
    columns = [f"c{i}" for i in range(len(names))]
    encoded = set(encode([str(n).strip() for n in names])) if encode else set()
    types = {c: _DICTIONARY if str(n).strip() in encoded else pa.large_string() for c, n in zip(columns, names)}
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data).slice(start),
            read_options=pacsv.ReadOptions(column_names=columns, block_size=_ARROW_BLOCK, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, **_ARROW_PARSE),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
    except (pa.ArrowException, ValueError):  # a row with too few fields, or anything unexpected
        return None
    if table.num_rows < 1:
        return None
    # Without quotes the header line splits at each delimiter: its fields are ``header`` (checked above).
    return table.rename_columns([str(n) for n in names])


_DICTIONARY = pa.dictionary(pa.int32(), pa.string())


def _read_fast(text: str, delimiter: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                            na_filter=False, skip_blank_lines=False, engine="c", quotechar="\"", index_col=False)
    return frame.fillna("")


def _read_tolerant(text: str, delimiter: str, name: str) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Slow path for files with ragged rows: every record keeps its row number; bad ones are reported."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"')
    try:
        header = next(reader)
    except StopIteration:  # pragma: no cover - decode() refuses empty files
        raise ImportProblem(name, "the file is empty.", "") from None
    except csv.Error as exc:  # e.g. a lone carriage return in the header line
        raise ImportProblem(name, "the header line could not be split into columns (a line break inside it?).",
                            "Check for an unclosed quote (\") or a stray line break and export the file again.") from exc
    width = len(header)
    good, numbers, bad = [], [], []
    try:
        for number, record in enumerate(reader, start=2):
            if len(record) == width or (len(record) > width and not any(x.strip() for x in record[width:])):
                good.append(record[:width])
                numbers.append(number)
            elif len(record) < width and (not record or not any(x.strip() for x in record)):
                good.append([""] * width)
                numbers.append(number)
            else:
                bad.append((number, delimiter.join(record),
                            f"has {len(record)} fields but the header has {width}; check for a "
                            f"stray '{delimiter}' or an unclosed quote"))
    except csv.Error as exc:
        raise ImportProblem(name, f"the file could not be split into rows ({exc}).",
                            "Check for an unclosed quote (\") and export the file again.") from None
    frame = pd.DataFrame(good, columns=header, dtype=str) if good else pd.DataFrame(columns=header, dtype=str)
    malformed = pd.DataFrame(bad, columns=["row", "value", "reason"])
    return frame, np.asarray(numbers, dtype=np.int64), malformed
