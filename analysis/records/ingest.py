"""Reading and validating CSV exports into typed, canonical record frames.

The flow is ``SourceFile`` (bytes and a name) -> :func:`read_table` (decode, find the delimiter,
split into a frame of strings) -> :func:`import_files` (map headers to the schema, validate every
row, build side-effect records) -> :class:`ImportResult` (typed frames plus an
:class:`ImportReport`). Whole-file refusals raise :class:`ImportProblem`; row-level problems go in
the report, which names the file, the row as a spreadsheet shows it (header = row 1), the column,
the value and the reason. Nothing here touches storage or Streamlit.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analysis.records import columnar, schema
from analysis.records.schema import Column

DateOrder = Literal["auto", "dayfirst", "monthfirst"]
Kind = Literal["outcomes", "side_effects"]

MAX_PROBLEMS_PER_RULE = 100_000  # rows beyond this are still rejected, only not itemised twice


class ImportProblem(ValueError):
    """A file is refused as a whole. The message says what is wrong and how to fix it."""

    def __init__(self, file: str, message: str, how_to_fix: str = "") -> None:
        self.file = file
        self.problem = message
        self.how_to_fix = how_to_fix
        text = f"{file}: {message}"
        if how_to_fix:
            text += f" {how_to_fix}"
        super().__init__(text)


class MissingColumns(ImportProblem):
    """Required columns were not recognised; carries what the app needs for a column-mapping step."""

    def __init__(self, file: str, kind: Kind, headers: list[str], missing: list[str],
                 mapping: dict[str, str]) -> None:
        self.kind = kind
        self.headers = headers
        self.missing = missing
        self.mapping = mapping
        columns = schema.OUTCOME_COLUMNS if kind == "outcomes" else schema.SIDE_EFFECT_COLUMNS
        hints = []
        for name in missing:
            col = next(c for c in columns if c.name == name)
            hints.append(f"'{name}' ({col.description.rstrip('.')}; also accepted: "
                         + ", ".join(f"'{s}'" for s in col.synonyms[:4]) + ")")
        super().__init__(
            file,
            "no column found for " + "; ".join(hints) + ". Columns in the file: "
            + ", ".join(f"'{h}'" for h in headers) + ".",
            "Rename the column in the file, or map it to the schema in the app "
            "(or with --map HEADER=COLUMN on the command line).",
        )


class DateOrderNeeded(ImportProblem):
    """Every slash date in the column has day and month <= 12, so the order cannot be told."""

    def __init__(self, file: str, column: str, examples: list[str]) -> None:
        self.column = column
        self.examples = examples
        super().__init__(
            file,
            f"the dates in column '{column}' (e.g. {', '.join(examples[:3])}) could be either "
            "day/month/year or month/day/year: every day and month in the file is 12 or less.",
            "Say which: choose 'day first' or 'month first' in the app, or pass --dayfirst or "
            "--monthfirst on the command line.",
        )


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
    """A CSV split into cells, all still text. ``rows`` holds the spreadsheet row number of each record."""

    file: str
    frame: pd.DataFrame
    rows: np.ndarray
    encoding: str
    delimiter: str
    malformed: pd.DataFrame  # row, value, reason for records with the wrong number of fields
    blank_rows: int


@dataclass(frozen=True)
class ImportOptions:
    """Choices the user can make about a file; the defaults decide from the data."""

    date_order: DateOrder = "auto"
    outcome_columns: dict[str, str] = field(default_factory=dict)  # file header -> schema column
    side_effect_columns: dict[str, str] = field(default_factory=dict)


@dataclass
class FileSummary:
    """What happened to one file."""

    file: str
    kind: Kind
    sha256: str
    encoding: str
    delimiter: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    columns: dict[str, str]          # file header -> schema column (or 'flag: effect')
    ignored_columns: list[str]
    dropped_identifier_columns: list[str]


PROBLEM_COLUMNS = ["file", "row", "column", "value", "reason", "severity"]

# Shown instead of a value that may identify a patient: the text of a row that could not be split into
# columns when the file has identifier columns (its fields cannot be matched to the headers), and any
# value of a column whose header names an identifier. ui/upload.py shows the same words.
WITHHELD = "(not shown: the file has patient identifier columns)"


@dataclass
class ImportReport:
    """The full account of an import: per-file summaries, file-level notes and row-level problems.

    ``problems`` is a frame with columns file, row, column, value, reason, severity
    ('rejected' or 'warning'); ``rejected_rows`` holds the original text of every rejected row
    with its row number and reasons, ready to download, fix and upload again.
    """

    files: list[FileSummary]
    notes: list[str]
    problems: pd.DataFrame
    rejected_rows: dict[str, pd.DataFrame]
    outcomes_accepted: int
    side_effects_accepted: int

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def warnings(self) -> pd.DataFrame:
        return self.problems[self.problems["severity"] == "warning"]

    def summary_lines(self, max_problems: int = 20) -> list[str]:
        """The report as plain sentences, for the command line and the app."""
        lines = [f"Accepted {self.outcomes_accepted} treatment(s) and "
                 f"{self.side_effects_accepted} side-effect record(s); "
                 f"rejected {self.rows_rejected} row(s)."]
        for f in self.files:
            lines.append(f"{f.file} ({f.kind.replace('_', '-')}, {f.encoding}, "
                         f"delimiter {_delimiter_name(f.delimiter)}): {f.rows_read} row(s) read, "
                         f"{f.rows_accepted} accepted, {f.rows_rejected} rejected.")
        lines.extend(self.notes)
        shown = self.problems.head(max_problems)
        for p in shown.itertuples(index=False):
            lines.append(f"{p.file} row {p.row}, column '{p.column}', value '{_clip(p.value)}': "
                         f"{p.reason} ({p.severity})")
        if len(self.problems) > max_problems:
            lines.append(f"... and {len(self.problems) - max_problems} more problem(s); "
                         "download the rejected rows for the full list.")
        return lines


class ImportResult:
    """Typed, canonical records ready to store, and the report of how they were read.

    The records are frames (``outcomes``, ``side_effects``; see :mod:`analysis.records.schema`). The import may
    hand them over as tables of canonical values instead (:meth:`from_tables`), which become frames on
    first use; from then on the frame is the record, since a caller may change it.
    """

    def __init__(self, outcomes: pd.DataFrame, side_effects: pd.DataFrame, report: ImportReport,
                 sources: list[SourceFile]) -> None:
        self._frames: dict[str, pd.DataFrame] = {"outcomes": outcomes, "side_effects": side_effects}
        self._tables: dict[str, pa.Table] = {}
        self._parquet: dict[str, Future[bytes]] = {}
        self.report = report
        self.sources = sources

    @classmethod
    def from_tables(cls, outcomes: pa.Table, side_effects: pa.Table, report: ImportReport,
                    sources: list[SourceFile], parquet: dict[str, Future[bytes]] | None = None) -> "ImportResult":
        """Records as tables of canonical values (:func:`analysis.records.columnar.to_arrow`'s form); ``parquet``:
        their Parquet encoding (:func:`analysis.records.columnar.to_parquet`), being made in the background."""
        result = cls(pd.DataFrame(), pd.DataFrame(), report, sources)
        result._frames.clear()
        result._tables.update(outcomes=outcomes, side_effects=side_effects)
        result._parquet.update(parquet or {})
        return result

    @property
    def outcomes(self) -> pd.DataFrame:
        return self._frame("outcomes")

    @property
    def side_effects(self) -> pd.DataFrame:
        return self._frame("side_effects")

    def _frame(self, kind: str) -> pd.DataFrame:
        if kind not in self._frames:
            self._frames[kind] = columnar.to_frame(self._tables.pop(kind), kind)  # type: ignore[arg-type]
        return self._frames[kind]

    def records(self, kind: str) -> pd.DataFrame | pa.Table:
        """A kind's records as they are held: a table of canonical values until a frame is made from it."""
        return self._frames[kind] if kind in self._frames else self._tables[kind]

    def parquet(self, kind: str) -> bytes | None:
        """The records of a kind encoded by :func:`analysis.records.columnar.to_parquet` (``ordered`` for outcomes), if
        the import made that encoding and they are still held as the table it was made from."""
        if kind in self._tables and kind in self._parquet:
            return self._parquet[kind].result()
        return None

    def count(self, kind: str) -> int:
        """How many records of a kind there are (without making frames)."""
        return len(self._frames[kind]) if kind in self._frames else self._tables[kind].num_rows

    @property
    def side_effects_recorded(self) -> bool:
        """True when the import carried side effects at all (a side-effect file, flag columns or an event)."""
        return self.count("side_effects") > 0 or any(
            f.kind == "side_effects" or any(c.startswith("flag:") for c in f.columns.values())
            for f in self.report.files)


#: Try the Arrow path for clean files first (:mod:`analysis.records.ingest_arrow`); tests switch it off to compare.
ARROW_PATH = True


# --- reading -----------------------------------------------------------------------------------

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


def _mostly_controls(sample: str) -> bool:
    """The first characters of a file hold more control characters than text can: it is binary."""
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    return controls > max(8, len(sample) // 100)


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter, repr(delimiter))


def sniff_delimiter(header_line: str) -> str:
    """Pick the delimiter that splits the header line into the most fields (outside quotes)."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def read_table(source: SourceFile) -> RawTable:
    """Decode and split a CSV file into a frame of text cells with spreadsheet row numbers."""
    utf8 = _read_utf8(source) if BYTES_PATH else None
    if utf8 is not None:  # what the branch below gives for this file, without decoding it to Python text
        frame, encoding, delimiter, first_line = utf8
        malformed = pd.DataFrame(columns=["row", "value", "reason"])
        rows = np.arange(2, len(frame) + 2)
    else:
        frame, rows, malformed, encoding, delimiter, first_line = _read_decoded(source)
    headers = [str(h).strip() for h in frame.columns]
    if len(headers) < 2:
        line = first_line.strip()
        shown = "(not shown: it may identify a patient)" if _identifying(line) or "@" in line else f"'{_clip(line)}'"
        raise ImportProblem(source.name, "only one column was found, so this does not look like a CSV "
                            f"export (first line: {shown}).",
                            "Export the records as CSV with a header row and comma, semicolon or tab "
                            "between columns.")
    untitled = [i for i, h in enumerate(headers) if h == "" or h.startswith("Unnamed:")]
    if untitled:
        # Excel often leaves trailing empty header cells; drop those columns when they hold nothing.
        # Columns are addressed by position: several blank headers would otherwise share one name.
        frame = frame.copy()
        frame.columns = [f"\x00{i}" if i in untitled else h for i, h in enumerate(headers)]
        holding = [i for i in untitled if (frame.iloc[:, i].astype(str).str.strip() != "").any()]
        if holding:
            raise ImportProblem(source.name, "a column with data has no header "
                                f"(column {', '.join(str(i + 1) for i in holding)}).",
                                "Give every column a name in the first row.")
        frame = frame.iloc[:, [i for i in range(len(headers)) if i not in untitled]]
        headers = [h for i, h in enumerate(headers) if i not in untitled]
        if len(headers) < 2:
            raise ImportProblem(source.name, "only one column with a header was found, so this does not look like "
                                "a CSV export.", "Export the records as CSV with a header row.")
    frame.columns = headers
    duplicated = sorted({h for h in headers if headers.count(h) > 1})
    if duplicated:
        raise ImportProblem(source.name, f"the header names {', '.join(repr(h) for h in duplicated)} "
                            "more than once.", "Give each column a distinct name.")
    blank = _blank_rows(frame)
    blank_rows = int(blank.sum())
    if blank_rows:
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    if len(frame) == 0 and malformed.empty:
        raise ImportProblem(source.name, "the file has a header row but no data rows.",
                            "Export the records again, including the data.")
    return RawTable(source.name, frame, rows, encoding, delimiter, malformed, blank_rows)


def _read_decoded(source: SourceFile) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, str, str, str]:
    """Decode the file to text and split it: frame, row numbers, malformed rows, encoding, delimiter, first line."""
    text, encoding = decode(source)
    text = text.lstrip("\ufeff")
    end = text.find("\n")
    first_line = text if end < 0 else text[:end]
    delimiter = sniff_delimiter(first_line)
    # Plain UTF-8 files are already the bytes pyarrow and the line scan need; others are encoded once.
    data = source.data if encoding == "UTF-8" else _utf8(text)
    frame = _read_arrow(text, data, first_line, delimiter)
    if frame is not None:  # exactly what the branch below gives for this file, only faster
        return frame, np.arange(2, len(frame) + 2), pd.DataFrame(columns=["row", "value", "reason"]), encoding, \
            delimiter, first_line
    try:
        if _may_have_extra_fields(text, first_line, delimiter, data):
            raise pd.errors.ParserError("a row may have more fields than the header")
        frame = _read_fast(text, delimiter)
        malformed = pd.DataFrame(columns=["row", "value", "reason"])
        rows = np.arange(2, len(frame) + 2)
    except (pd.errors.ParserError, csv.Error, ValueError):
        frame, rows, malformed = _read_tolerant(text, delimiter, source.name)
    return frame, rows, malformed, encoding, delimiter, first_line


#: Read plain UTF-8 files from their bytes (:func:`_read_utf8`); tests switch it off to compare.
BYTES_PATH = True


def _read_utf8(source: SourceFile) -> tuple[pd.DataFrame, str, str, str] | None:
    """For a file :func:`decode` reads as UTF-8 (with or without BOM) and :func:`_read_arrow` can read: the
    frame, encoding name, delimiter and first line, from the bytes (pyarrow checks the UTF-8 as it reads),
    without decoding a million rows into one Python string first. None for any other file."""
    data = source.data
    # decode()'s refusals (and UTF-16) are for the decoding path to give
    if (_looks_empty(data) or _signature(data) or data.startswith((b"\xff\xfe", b"\xfe\xff"))
            or b"\x00" in data[:65536]):
        return None
    bom = data.startswith(_BOM)
    # decode()'s check for binary content looks at the first 65,536 characters after one BOM.
    try:
        prefix = data[len(_BOM) if bom else 0:][:262_144].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 262_144 - 4:  # not just a character cut at the end of the prefix
            return None
        prefix = data[len(_BOM) if bom else 0:][:exc.start].decode("utf-8")
    if _mostly_controls(prefix[:65536]):  # (262,144 bytes hold at least 65,536 characters)
        return None
    prefix = prefix.lstrip("\ufeff")
    end = prefix.find("\n")
    if end < 0 and len(data) > 262_144:
        return None  # a first line longer than the prefix
    first_line = prefix if end < 0 else prefix[:end]
    body = data
    while body.startswith(_BOM):
        body = body[len(_BOM):]
    delimiter = sniff_delimiter(first_line)
    frame = _read_arrow(None, body, first_line, delimiter)
    if frame is None:
        return None
    return frame, "UTF-8 with BOM" if bom else "UTF-8", delimiter, first_line


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is empty (column by column, stopping once no row can be blank)."""
    blank = np.ones(len(frame), dtype=bool)
    for name in range(frame.shape[1]):
        if not blank.any():
            break
        blank &= (frame.iloc[:, name] == "").to_numpy(dtype=bool)
    return blank


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


def _read_arrow(text: str | None, data: bytes | None, first_line: str, delimiter: str) -> pd.DataFrame | None:
    """What the pre-scan and :func:`_read_fast` give, read by pyarrow (several times faster at a million
    rows), for the files where the readers provably agree: no quote character, no NUL, no carriage
    return outside CRLF, and every line with the header's number of fields (blank lines are rows of
    empty cells in both). Without quotes a line with too many delimiters is a row with too many
    fields, which pyarrow refuses, so a frame returned here is one the pre-scan lets through.
    Returns None for any other file, which then takes the old way."""
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
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=columns, block_size=_ARROW_BLOCK),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, **_ARROW_PARSE),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.large_string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowException, ValueError):  # a row with too few fields, or anything unexpected
        return None
    if table.num_rows < 2 or [table.column(i)[0].as_py() for i in range(len(columns))] != header:
        return None
    frame = table.slice(1).to_pandas()
    frame.columns = names
    return frame


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


# --- header mapping ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnPlan:
    """How a file's headers map onto the schema."""

    mapping: dict[str, str]          # file header -> schema column
    flags: dict[str, str]            # file header -> effect (outcome files only)
    identifiers: list[str]           # headers dropped as patient identifiers
    ignored: list[str]               # headers not used


def plan_columns(headers: list[str], kind: Kind, overrides: dict[str, str] | None = None) -> ColumnPlan:
    """Match headers to schema columns (case/space-insensitive, with synonyms); user overrides win."""
    index = schema.OUTCOME_HEADERS if kind == "outcomes" else schema.SIDE_EFFECT_HEADERS
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    mapping: dict[str, str] = {}
    flags: dict[str, str] = {}
    identifiers: list[str] = []
    ignored: list[str] = []
    taken = set(overrides.values())
    for header in headers:
        if header in overrides:
            mapping[header] = overrides[header]
            continue
        key = schema.normalise_header(header)
        target = index.get(key) or index.get(key.replace(" ", ""))
        if target and target not in taken:
            mapping[header] = target
            taken.add(target)
        elif schema.looks_like_identifier_header(header):
            identifiers.append(header)
        elif kind == "outcomes" and schema.parse_effect(header) and schema.parse_effect(header) != "other":
            flags[header] = schema.parse_effect(header)  # type: ignore[assignment]
        else:
            ignored.append(header)
    return ColumnPlan(mapping, flags, identifiers, ignored)


def detect_kind(headers: list[str]) -> Kind:
    """Tell an outcome file (or combined sheet) from a side-effect file by its headers."""
    outcome = plan_columns(headers, "outcomes").mapping.values()
    side = plan_columns(headers, "side_effects").mapping.values()
    if "effect" in side and not ({"fitzpatrick_type", "treatment_date"} & set(outcome)):
        return "side_effects"
    return "outcomes"


def _missing_required(plan: ColumnPlan, kind: Kind) -> list[str]:
    columns = schema.OUTCOME_COLUMNS if kind == "outcomes" else schema.SIDE_EFFECT_COLUMNS
    present = set(plan.mapping.values())
    missing = [c.name for c in columns if c.required and c.name not in present]
    if kind == "outcomes" and "modality" not in present and "device" not in present:
        missing.append("modality")
    return missing


# --- validation --------------------------------------------------------------------------------

class _Problems:
    """Collects row-level problems as arrays (fast at a million rows) and tracks rejected rows."""

    def __init__(self, file: str, rows: np.ndarray) -> None:
        self.file = file
        self.rows = rows
        self.rejected = np.zeros(len(rows), dtype=bool)
        self.parts: list[pd.DataFrame] = []

    def add(self, mask: np.ndarray, column: str, values: pd.Series | np.ndarray, reason: str | pd.Series | np.ndarray,
            severity: str = "rejected") -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        if severity == "rejected":
            self.rejected |= mask
        where = np.flatnonzero(mask)
        # A mapping can point an identifier column (e.g. 'Date of Birth') at a schema column: its values
        # are checked like any other, but never quoted.
        vals = WITHHELD if schema.looks_like_identifier_header(column) else _take(values, where)
        reasons = _take(reason, where) if not isinstance(reason, str) else reason
        self.parts.append(pd.DataFrame({"file": self.file, "row": self.rows[where], "column": column,
                                        "value": vals, "reason": reasons, "severity": severity}))

    def add_rows(self, rows: np.ndarray, values: list[str], reasons: list[str]) -> None:
        if len(rows):
            self.parts.append(pd.DataFrame({"file": self.file, "row": rows, "column": "(whole row)",
                                            "value": values, "reason": reasons, "severity": "rejected"}))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else object) for c in PROBLEM_COLUMNS})
        return pd.concat(self.parts, ignore_index=True)


def _take(values: pd.Series | np.ndarray, where: np.ndarray) -> np.ndarray:
    """``np.asarray(values, dtype=object)[where]`` without converting the rows that are not taken."""
    if isinstance(values, pd.Series):
        return np.asarray(values.iloc[where], dtype=object)
    return np.asarray(values, dtype=object)[where]


def _clip(value: object, width: int = 60) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _map_unique(values: pd.Series, func) -> pd.Series:
    """Apply a Python parser once per distinct value (columns repeat few values), then broadcast."""
    codes, uniques = pd.factorize(values, sort=False)
    parsed = np.array([func(u) for u in uniques] + [None], dtype=object)
    # The dtype pandas infers (str when every result is text) depends only on which results occur,
    # so infer it on those few and broadcast the typed array instead of re-inferring a million rows.
    occurring = pd.Series(parsed if (codes < 0).any() else parsed[:-1])
    if occurring.dtype == object:
        return pd.Series(parsed[codes], index=values.index)
    return pd.Series(occurring.array.take(codes), index=values.index)  # -1 (missing) takes the final None


_CURRENCY = re.compile(r"[\s\u00a0$€£¥]|^(?:usd|eur|gbp)|(?:usd|eur|gbp)$", re.IGNORECASE)


def parse_numbers(values: pd.Series, decimal_comma: bool) -> pd.Series:
    """Parse numbers written by spreadsheets: decimal commas, thousands separators, currency signs.

    Returns float64. Each distinct text is parsed once: plain numbers by ``pd.to_numeric`` (which
    accepts them with surrounding spaces, giving what the cleaning would), and only the ones it
    rejects go through :func:`_parse_numbers_slow` (currency, thousands, decimal commas).
    """
    codes, uniques = pd.factorize(values, sort=False)
    distinct = pd.Series(uniques)
    number = np.array(pd.to_numeric(distinct, errors="coerce").to_numpy(dtype="float64", na_value=np.nan))
    retry = np.isnan(number) & (distinct != "").to_numpy(dtype=bool)
    if retry.any():
        slow = _parse_numbers_slow(distinct[retry].reset_index(drop=True), decimal_comma)
        number[retry] = slow.to_numpy(dtype="float64", na_value=np.nan)
    return pd.Series(np.append(number, np.nan)[codes], index=values.index)


def _parse_numbers_slow(values: pd.Series, decimal_comma: bool) -> pd.Series:
    """The full cleaning, one regular expression per value; also the reference for :func:`parse_numbers`."""
    text = values.str.replace(_CURRENCY, "", regex=True)
    if decimal_comma:
        has_comma = text.str.contains(",", regex=False)
        text = text.where(~has_comma, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    else:
        thousands = text.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
        text = text.where(~thousands, text.str.replace(",", "", regex=False))
    return pd.to_numeric(text.where(text != "", None), errors="coerce")


def _check_number(col: Column, raw: pd.Series, problems: _Problems, header: str,
                  decimal_comma: bool) -> pd.Series:
    present = raw != ""
    number = parse_numbers(raw, decimal_comma)
    problems.add(present & number.isna(), header, raw, "is not a number")
    low, high = col.minimum, col.maximum
    bad_range = present & number.notna() & (
        (number < low if low is not None else False) | (number > high if high is not None else False))
    if bad_range.any():
        span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        problems.add(bad_range, header, raw, f"must be {span}")
    if col.type == "integer":
        fractional = present & number.notna() & ~bad_range & (number % 1 != 0)
        problems.add(fractional, header, raw, "must be a whole number")
        return number.astype("float64") + 0.0  # a whole number has no sign of zero ("-0" is 0, as stored)
    return number.astype("float64")


_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?:[ T].*)?$")
_SERIAL = re.compile(r"^\d{5}(?:[.,]\d+)?$")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def parse_dates(raw: pd.Series, order: DateOrder, file: str, header: str,
                problems: _Problems, today: date | None = None) -> pd.Series:
    """Parse a date column written as ISO, dd/mm/yyyy, mm/dd/yyyy or Excel serial numbers.

    Day-first vs month-first is decided from the whole column: a first part above 12 means
    day-first, a second part above 12 means month-first. When no value tells, and ``order`` is
    ``auto``, :class:`DateOrderNeeded` is raised so the user can say.
    """
    today = today or date.today()
    text = raw.str.strip()
    year, month, day, is_iso, dmy, is_serial = _date_parts(text)
    is_dmy = ~np.isnan(dmy[0]) & ~is_iso
    if is_dmy.any():
        first, second = dmy[0][is_dmy], dmy[1][is_dmy]
        years = dmy[2][is_dmy]
        years = np.where(years < 100, np.where(years <= (today.year % 100) + 1, 2000 + years, 1900 + years), years)
        day_first_evidence = (first > 12).any()
        month_first_evidence = (second > 12).any()
        if order == "auto":
            if day_first_evidence and month_first_evidence:
                # Mixed column: follow the majority and reject the rows that contradict it.
                order = "dayfirst" if (first > 12).sum() >= (second > 12).sum() else "monthfirst"
            elif day_first_evidence:
                order = "dayfirst"
            elif month_first_evidence:
                order = "monthfirst"
            else:
                raise DateOrderNeeded(file, header, [WITHHELD] if schema.looks_like_identifier_header(header)
                                      else list(text[is_dmy].unique()[:3]))
        if order == "dayfirst":
            day[is_dmy], month[is_dmy] = first, second
        else:
            month[is_dmy], day[is_dmy] = first, second
        year[is_dmy] = years
    implausible = (year < 1900) | (year > 2200)  # beyond pandas' nanosecond range, and no treatment date
    problems.add(implausible, header, raw, "has an implausible year; check the date")
    year[implausible] = np.nan
    parsed = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")
    if is_serial.any():
        serial = pd.to_numeric(text[is_serial].str.replace(",", ".", regex=False), errors="coerce")
        serial = serial.where((serial >= 25569) & (serial <= 73051))  # 1970-01-01 .. 2099-12-31
        parsed[is_serial] = pd.Timestamp("1899-12-30") + pd.to_timedelta(np.floor(serial), unit="D")
    recognised = is_iso | is_dmy | is_serial
    blank = (text == "").to_numpy()
    problems.add(blank, header, raw, "is required: give the treatment date")
    problems.add(~blank & ~recognised, header, raw,
                 "is not a date; write it as YYYY-MM-DD, dd/mm/yyyy or mm/dd/yyyy")
    impossible = recognised & parsed.isna().to_numpy() & ~implausible
    if impossible.any():
        reason = np.empty(len(text), dtype=object)
        where = np.flatnonzero(impossible)
        reason[where] = [_impossible_reason(day[i], month[i]) for i in where]
        problems.add(impossible, header, raw, reason)
    too_early = parsed.notna() & (parsed < pd.Timestamp("1980-01-01"))
    problems.add(too_early.to_numpy(), header, raw, "is before 1980; check the year")
    future = parsed.notna() & (parsed > pd.Timestamp(today))
    problems.add(future.to_numpy(), header, raw, "is in the future; check the date")
    return parsed.astype("datetime64[ns]")


_ISO_PLAIN = "[0-9]{4}-[0-9]{2}-[0-9]{2}"  # the common case: a plain subset of _ISO, matched by pyarrow


def _date_parts(text: pd.Series, fast: bool = True) -> tuple[np.ndarray, ...]:
    """Year, month and day of the ISO dates (NaN elsewhere), the ISO mask, the three numbers of the
    dd/mm/yyyy-like dates (unordered, NaN elsewhere) and the Excel-serial mask, for stripped text.

    Plain ``YYYY-MM-DD`` is cut by position (vectorised); only the other values go through the
    regular expressions, row by row. ``fast=False`` sends every value through them (the reference).
    """
    n = len(text)
    year, month, day = (np.full(n, np.nan) for _ in range(3))
    dmy = [np.full(n, np.nan) for _ in range(3)]
    is_iso = np.zeros(n, dtype=bool)
    is_serial = np.zeros(n, dtype=bool)
    plain = (np.asarray(text.str.fullmatch(_ISO_PLAIN).fillna(False), dtype=bool) if fast and n
             else np.zeros(n, dtype=bool))
    if plain.any():
        cut = pa.array(text[plain], type=pa.large_string())
        for target, start, stop in ((year, 0, 4), (month, 5, 7), (day, 8, 10)):  # ASCII digits only
            target[plain] = pc.cast(pc.utf8_slice_codeunits(cut, start, stop), pa.float64()).to_numpy()
        is_iso |= plain
    rest = ~plain
    if rest.any():
        other = text[rest]
        iso = other.str.extract(_ISO).astype("float64")
        found = iso[0].notna().to_numpy()
        where = np.flatnonzero(rest)[found]
        is_iso[where] = True
        for target, i in ((year, 0), (month, 1), (day, 2)):
            target[where] = iso[i].to_numpy()[found]
        parts = other.str.extract(_DMY).astype("float64")
        for i in range(3):
            dmy[i][rest] = parts[i].to_numpy()
        is_serial[rest] = np.asarray(other.str.fullmatch(_SERIAL).fillna(False), dtype=bool)
    return year, month, day, is_iso, dmy, is_serial


def _impossible_reason(day: float, month: float) -> str:
    if np.isnan(month) or month < 1 or month > 12:
        return "has no such month; check the date and whether it is day- or month-first"
    return f"is not a real date: {_MONTHS[int(month) - 1]} has no day {day:g}"


# Every character str.isspace() accepts, i.e. what Python's \s matches, written out: pandas runs a
# pattern with \s row by row in Python (RE2's \s differs), a literal class in pyarrow.
_WHITESPACE = ("[\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
               "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000]+")


# A value needs _WHITESPACE replaced only if it holds whitespace other than a single space.
_SPACING = "[\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
           "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000]|  "


def _text(raw: pd.Series) -> pd.Series:
    """Trimmed text with every run of whitespace as one space, None for blank, as an object Series.

    Columns that repeat few values (clinic, device, ...) are cleaned once per distinct value and
    broadcast, which also shares one string object between the rows that hold it."""
    sample = raw.iloc[:10_000]
    if len(raw) > 20_000 and sample.nunique(dropna=False) * 4 < len(sample):
        codes, uniques = pd.factorize(raw, sort=False, use_na_sentinel=False)
        cleaned = _clean_text(pd.Series(uniques, dtype=raw.dtype)).to_numpy(dtype=object)
        return pd.Series(cleaned[codes], index=raw.index, dtype=object)
    return _clean_text(raw)


def _clean_text(raw: pd.Series) -> pd.Series:
    cleaned = raw.str.strip()
    if cleaned.str.contains(_SPACING, regex=True).any():
        cleaned = cleaned.str.replace(_WHITESPACE, " ", regex=True)
    return cleaned.where(cleaned != "", None).astype(object)


def _validate_outcomes(table: RawTable, plan: ColumnPlan, options: ImportOptions,
                       problems: _Problems, notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """The accepted records, the side effects of the flag columns, and whether the patient id column was
    refused (it held e-mail addresses or phone numbers)."""
    frame = table.frame
    by_name = {v: k for k, v in plan.mapping.items()}
    decimal_comma = table.delimiter != ","
    out: dict[str, pd.Series] = {}
    n = len(frame)
    empty = pd.Series([""] * n, index=frame.index, dtype=object)
    for col in schema.OUTCOME_COLUMNS:
        header = by_name.get(col.name)
        raw = frame[header].astype(str) if header else empty
        label = header or col.name
        if col.type == "text":
            out[col.name] = _text(raw)
        elif col.type in ("number", "integer"):
            out[col.name] = _check_number(col, raw, problems, label, decimal_comma)
        elif col.type == "date":
            out[col.name] = parse_dates(raw, options.date_order, table.file, label, problems)
        elif col.type == "fitzpatrick":
            out[col.name] = _check_fitzpatrick(raw, problems, label)
        elif col.type == "modality":
            out[col.name] = _check_modality(raw, problems, label)
    # treatment_id: required and unique; later repeats are rejected and name the row they repeat.
    ids = out["treatment_id"]
    id_label = by_name["treatment_id"]
    problems.add(ids.isna().to_numpy(), id_label, empty, "is required: give each treatment an id")
    dup = ids.notna() & ids.duplicated(keep="first")
    if dup.any():
        first_row = pd.Series(table.rows, index=ids.index).groupby(ids).transform("first")
        reason = "repeats the treatment_id of row " + first_row.astype("Int64").astype(str)
        problems.add(dup.to_numpy(), id_label, ids.fillna(""), reason.to_numpy())
    # modality from device when blank; a contradiction is a warning (the stated modality wins).
    implied = _map_unique(frame[by_name["device"]].astype(str), schema.device_modality) \
        if "device" in by_name else pd.Series([None] * n, index=frame.index, dtype=object)
    stated = out["modality"]
    filled = stated.isna() & implied.notna() & ~problems.rejected
    if filled.any():
        notes.append(_modality_note(table.file, int(filled.sum())))
    stated_raw = frame[by_name["modality"]] if "modality" in by_name else empty
    unknown = stated.isna() & implied.isna() & (stated_raw.str.strip() == "")
    problems.add(unknown.to_numpy(), by_name.get("modality") or by_name.get("device", "modality"),
                 frame[by_name["device"]] if "device" in by_name else empty,
                 "modality is blank and the device does not tell; give 'ablative' or 'non-ablative'")
    clash = stated.notna() & implied.notna() & (stated != implied)
    if clash.any():
        device_raw = frame[by_name["device"]]
        problems.add(clash.to_numpy(), by_name["modality"], stated_raw,
                     ("stated modality differs from the device '" + device_raw + "' (usually "
                      + implied.astype(str) + "); the stated modality was kept").to_numpy(), "warning")
    out["modality"] = stated.fillna(implied)
    out["treatment_area"] = out["treatment_area"].str.lower()
    ids_refused = _drop_identifier_values(out, table.file, notes)
    # side-effect flag columns in a combined sheet
    flag_rows: list[pd.DataFrame] = []
    for header, effect in plan.flags.items():
        raw = frame[header].astype(str)
        flag = _map_unique(raw, schema.parse_flag)
        problems.add(flag.isna().to_numpy(), header, raw,
                     "is not a yes/no flag; use yes/no, y/n, 1/0, true/false, or x/blank")
        flag_rows.append(pd.DataFrame({"treatment_id": ids[flag == True], "effect": effect}))  # noqa: E712
    checked = pd.DataFrame(out)
    records = schema.coerce_outcomes(checked.loc[~problems.rejected] if problems.rejected.any() else checked)
    flags = pd.concat(flag_rows, ignore_index=True) if flag_rows else pd.DataFrame(
        columns=["treatment_id", "effect"])
    if len(flags):
        flags = flags[flags["treatment_id"].isin(set(records["treatment_id"]))]
    return records, flags, ids_refused


def _check_fitzpatrick(raw: pd.Series, problems: _Problems, label: str) -> pd.Series:
    fitz = _map_unique(raw, schema.parse_fitzpatrick)
    blank = (raw.str.strip() == "").to_numpy()
    problems.add(blank, label, raw, "is required: give the Fitzpatrick skin type I-VI")
    problems.add(~blank & fitz.isna().to_numpy(), label, raw,
                 "is not a Fitzpatrick skin type; use I-VI or 1-6 (e.g. 'IV', '4', 'Type 4')")
    return fitz


def _check_modality(raw: pd.Series, problems: _Problems, label: str) -> pd.Series:
    modality = _map_unique(raw, schema.parse_modality)
    bad = (raw.str.strip() != "").to_numpy() & modality.isna().to_numpy()
    problems.add(bad, label, raw, "is not a modality; use 'ablative' or 'non-ablative'")
    return modality


def _check_severity(raw: pd.Series, problems: _Problems, label: str) -> pd.Series:
    severity = _map_unique(raw, schema.parse_severity)
    problems.add((raw.str.strip() != "").to_numpy() & severity.isna().to_numpy(),
                 label, raw, "is not a severity; use mild, moderate or severe")
    return severity


def _check_effect(raw: pd.Series, problems: _Problems, label: str) -> tuple[pd.Series, np.ndarray]:
    """The canonical effect of each row ('other' for unknown text, with a warning) and the 'other' mask."""
    effect = _map_unique(raw, schema.parse_effect)
    blank = (raw.str.strip() == "").to_numpy()
    problems.add(blank, label, raw, "is required: name the side effect")
    other = ~blank & effect.isna().to_numpy()
    problems.add(other, label, raw, "is not a known side effect; stored as 'other' with the original text kept",
                 "warning")
    return effect.where(~other, "other"), other


def _drop_identifier_values(out: dict[str, pd.Series], file: str, notes: list[str]) -> bool:
    """patient_id must be a pseudonymous code: drop it when it holds e-mail addresses, phone numbers or names.

    Returns True when it was dropped (the rejected rows then leave the column blank too)."""
    if not _holds_identifiers(out["patient_id"]):
        return False
    out["patient_id"] = pd.Series([None] * len(out["patient_id"]), index=out["patient_id"].index, dtype=object)
    notes.append(f"{file}: the patient id column holds e-mail addresses, phone numbers or personal names, which "
                 "identify patients, so it was not stored (and is left blank in the rejected rows). Use a pseudonymous "
                 "patient code instead.")
    return True


def _holds_identifiers(values: pd.Series) -> bool:
    """True when the first 5000 distinct values (found in the shortest prefix that holds them) include
    an e-mail address, a phone number or a personal name."""
    ids = values.dropna()
    if ids.empty:
        return False
    size = 20_000
    while True:
        sample = ids.iloc[:size].astype(str).unique()
        if len(sample) >= 5000 or size >= len(ids):
            break
        size *= 4
    return any(_identifying(v) for v in sample[:5000])


def _identifying(value: str) -> bool:
    return bool(schema.EMAIL_VALUE.match(value) or schema.PHONE_VALUE.match(value) or schema.looks_like_name(value))


def _validate_side_effects(table: RawTable, plan: ColumnPlan, problems: _Problems,
                           notes: list[str]) -> pd.DataFrame:
    frame = table.frame
    by_name = {v: k for k, v in plan.mapping.items()}
    decimal_comma = table.delimiter != ","
    n = len(frame)
    empty = pd.Series([""] * n, index=frame.index, dtype=object)
    out: dict[str, pd.Series] = {}
    ids = _text(frame[by_name["treatment_id"]].astype(str))
    problems.add(ids.isna().to_numpy(), by_name["treatment_id"], empty,
                 "is required: name the treatment this side effect followed")
    out["treatment_id"] = ids
    raw_effect = frame[by_name["effect"]].astype(str)
    out["effect"], other = _check_effect(raw_effect, problems, by_name["effect"])
    detail = np.full(n, None, dtype=object)
    if other.any():  # the original text is kept for 'other' only, so only those rows are cleaned
        detail[other] = _text(raw_effect[other]).to_numpy(dtype=object)
    out["effect_detail"] = pd.Series(detail, index=frame.index)
    severity_header = by_name.get("severity")
    raw_sev = frame[severity_header].astype(str) if severity_header else empty
    out["severity"] = _check_severity(raw_sev, problems, severity_header or "severity")
    for col in schema.SIDE_EFFECT_COLUMNS:
        if col.type == "number":
            header = by_name.get(col.name)
            raw = frame[header].astype(str) if header else empty
            out[col.name] = _check_number(col, raw, problems, header or col.name, decimal_comma)
    early = (out["resolved_day"] < out["onset_day"]).fillna(False).to_numpy()
    problems.add(early, by_name.get("resolved_day", "resolved_day"),
                 frame[by_name["resolved_day"]] if "resolved_day" in by_name else empty,
                 "is before the onset day; resolved_day must be on or after onset_day")
    records = pd.DataFrame(out)
    return records


def _classify(tables: list[RawTable], options: ImportOptions) -> tuple[RawTable, list[RawTable]]:
    outcomes = [t for t in tables if detect_kind(list(t.frame.columns)) == "outcomes"]
    sides = [t for t in tables if t not in outcomes]
    if not outcomes:
        raise ImportProblem(", ".join(t.file for t in tables),
                            "no outcome file was given: every file looks like side-effect records.",
                            "Add the outcome records (one row per treatment) to the import.")
    if len(outcomes) > 1:
        raise ImportProblem(", ".join(t.file for t in outcomes),
                            "more than one file looks like outcome records.",
                            "Import one outcome file (with its side-effect file) at a time. If one of them is "
                            "the side-effect file, its kind-of-effect column was not recognised: name it "
                            "'effect' (or 'side effect', 'complication', 'adverse event').")
    return outcomes[0], sides


def import_files(outcomes: SourceFile, side_effects: SourceFile | list[SourceFile] | None = None,
                 options: ImportOptions | None = None) -> ImportResult:
    """Read, validate and normalise an outcome file and optional side-effect files.

    Raises :class:`ImportProblem` (or a subclass) when a file cannot be used at all, including
    when no row of the outcome file is valid. Row-level problems are in ``result.report``.
    """
    options = options or ImportOptions()
    extra = [side_effects] if isinstance(side_effects, SourceFile) else list(side_effects or [])
    sources = [outcomes, *extra]
    hashing = ThreadPoolExecutor(max_workers=1)  # the files' SHA-256, while they are parsed and checked
    hashed = hashing.submit(lambda: {s.name: s.sha256 for s in sources})
    hashing.shutdown(wait=False)
    tables = [read_table(s) for s in sources]
    out_table, side_tables = _classify(tables, options) if extra else (tables[0], [])
    notes: list[str] = []
    summaries: list[FileSummary] = []
    all_problems: list[pd.DataFrame] = []
    rejected_rows: dict[str, pd.DataFrame] = {}

    plan = plan_columns(list(out_table.frame.columns), "outcomes", options.outcome_columns)
    missing = _missing_required(plan, "outcomes")
    if missing:
        raise MissingColumns(out_table.file, "outcomes", list(out_table.frame.columns), missing, plan.mapping)
    if ARROW_PATH:
        from analysis.records.ingest_arrow import import_clean  # imports this module: loaded on first use

        clean = import_clean(out_table, plan, side_tables, options, sources, hashed)
        if clean is not None:
            return clean
    sha = hashed.result()
    _note_columns(out_table, plan, notes)
    problems = _Problems(out_table.file, out_table.rows)
    records, flag_effects, ids_refused = _validate_outcomes(out_table, plan, options, problems, notes)
    _add_malformed(out_table, problems, _has_identifiers(out_table, plan) or ids_refused)
    if records.empty:
        first = problems.frame().head(3)
        examples = "; ".join(f"row {p.row} '{p.column}' = '{p.value if p.value == WITHHELD else _clip(p.value, 30)}'"
                             f": {p.reason}" for p in first.itertuples())
        raise ImportProblem(out_table.file, f"no row could be imported. First problems: {examples}.",
                            "Fix these values (or the column headers) and import the file again.")
    summaries.append(_summary(out_table, "outcomes", sha, plan, len(records), problems))
    all_problems.append(problems.frame())
    rejected_rows[out_table.file] = _rejected(out_table, problems, plan, ids_refused)

    outcome_rows = pd.Series(out_table.rows, index=out_table.frame.index)
    rejected = problems.rejected
    id_column = out_table.frame[{v: k for k, v in plan.mapping.items()}["treatment_id"]]
    rejected_id_rows = dict(zip(_text(id_column[rejected].astype(str)), outcome_rows[rejected])) \
        if rejected.any() else {}
    side_frames = [flag_effects.assign(severity=None, onset_day=np.nan, resolved_day=np.nan, effect_detail=None)]
    if len(flag_effects):
        notes.append(_flag_note(out_table.file, len(flag_effects), plan))
    known_ids = pd.Index(records["treatment_id"])
    for table in side_tables:
        side_plan = plan_columns(list(table.frame.columns), "side_effects", options.side_effect_columns)
        side_missing = _missing_required(side_plan, "side_effects")
        if side_missing:
            raise MissingColumns(table.file, "side_effects", list(table.frame.columns), side_missing,
                                 side_plan.mapping)
        _note_columns(table, side_plan, notes)
        side_problems = _Problems(table.file, table.rows)
        side = _validate_side_effects(table, side_plan, side_problems, notes)
        orphan = side["treatment_id"].notna().to_numpy() & ~side["treatment_id"].isin(known_ids).to_numpy()
        if orphan.any():
            reasons = np.array([
                f"its outcome row ({out_table.file} row {rejected_id_rows[t]}) was rejected"
                if t in rejected_id_rows else f"no outcome record has this treatment_id in {out_table.file}"
                for t in side["treatment_id"].to_numpy()[orphan]], dtype=object)
            full = np.empty(len(side), dtype=object)
            full[orphan] = reasons
            side_problems.add(orphan, {v: k for k, v in side_plan.mapping.items()}["treatment_id"],
                              side["treatment_id"].fillna(""), full)
        side_ids_refused = _side_ids_refused(table, notes)
        _add_malformed(table, side_problems, _has_identifiers(table, side_plan) or side_ids_refused)
        kept = side.loc[~side_problems.rejected]
        side_frames.append(kept)
        summaries.append(_summary(table, "side_effects", sha, side_plan, len(kept), side_problems))
        all_problems.append(side_problems.frame())
        rejected_rows[table.file] = _rejected(table, side_problems, None, side_ids_refused)
    side_effects_frame = schema.coerce_side_effects(pd.concat(side_frames, ignore_index=True))
    report = _report([out_table, *side_tables], summaries, notes, all_problems, rejected_rows, len(records),
                     len(side_effects_frame))
    return ImportResult(records, side_effects_frame, report, sources)


def _report(tables: list[RawTable], summaries: list[FileSummary], notes: list[str], all_problems: list[pd.DataFrame],
            rejected_rows: dict[str, pd.DataFrame], outcomes: int, side_effects: int) -> ImportReport:
    """The import's report: the notes of skipped empty rows last, problems by file (in import order) then row."""
    for table in tables:
        if table.blank_rows:
            notes.append(f"{table.file}: {table.blank_rows} empty row(s) skipped.")
    problems_frame = pd.concat(all_problems, ignore_index=True)
    order = {t.file: i for i, t in enumerate(tables)}
    problems_frame = (problems_frame.assign(_f=problems_frame["file"].map(order))
                      .sort_values(["_f", "row"], kind="stable").drop(columns="_f").reset_index(drop=True))
    return ImportReport(summaries, notes, problems_frame, rejected_rows, outcomes, side_effects)


def _modality_note(file: str, filled: int) -> str:
    return f"{file}: modality was blank in {filled} row(s) and was taken from the device."


def _flag_note(file: str, records: int, plan: ColumnPlan) -> str:
    return (f"{file}: {records} side-effect record(s) made from the flag columns "
            + ", ".join(f"'{h}'" for h in plan.flags) + ".")


def _side_ids_refused(table: RawTable, notes: list[str]) -> bool:
    """A side-effect file stores no patient id, but one may be in the file (and so in its rejected rows):
    True (with a note) when such a column holds e-mail addresses, phone numbers or names."""
    side_ids = _patient_id_headers(table, plan_columns(list(table.frame.columns), "outcomes"))
    refused = any(_holds_identifiers(table.frame[h]) for h in side_ids)
    if refused:
        notes.append(f"{table.file}: column(s) {', '.join(repr(h) for h in side_ids)} hold e-mail addresses, "
                     "phone numbers or personal names, which identify patients, so they are left blank in the "
                     "rejected rows.")
    return refused


def _note_columns(table: RawTable, plan: ColumnPlan, notes: list[str]) -> None:
    if plan.identifiers:
        notes.append(f"{table.file}: column(s) {', '.join(repr(h) for h in plan.identifiers)} look like patient "
                     "identifiers (names, contact details or dates of birth) and were NOT stored.")
    if plan.ignored:
        notes.append(f"{table.file}: column(s) {', '.join(repr(h) for h in plan.ignored)} are not part of the "
                     "schema and were ignored.")


def _summary(table: RawTable, kind: Kind, sha: dict[str, str], plan: ColumnPlan, accepted: int,
             problems: _Problems) -> FileSummary:
    columns = dict(plan.mapping)
    columns.update({h: f"flag: {e}" for h, e in plan.flags.items()})
    rejected = int(problems.rejected.sum()) + len(table.malformed)
    return FileSummary(table.file, kind, sha[table.file], table.encoding, table.delimiter,
                       len(table.frame) + len(table.malformed), accepted, rejected, columns, plan.ignored,
                       plan.identifiers)


def _add_malformed(table: RawTable, problems: _Problems, withhold: bool) -> None:
    """Report the rows that could not be split into columns. Their text is quoted only when the file has
    no patient identifier in it: its fields cannot be matched to the headers, so no part can be shown."""
    malformed = table.malformed
    values = [WITHHELD] * len(malformed) if withhold else malformed["value"].tolist()
    problems.add_rows(malformed["row"].to_numpy(), values, malformed["reason"].tolist())


def _has_identifiers(table: RawTable, plan: ColumnPlan) -> bool:
    """True when a column of the file is (or is named like) a patient identifier, even one mapped to the schema."""
    return bool(plan.identifiers) or any(schema.looks_like_identifier_header(h) for h in table.frame.columns)


def _patient_id_headers(table: RawTable, plan: ColumnPlan) -> list[str]:
    return [h for h, c in plan.mapping.items() if c == "patient_id" and h in table.frame.columns]


def _rejected(table: RawTable, problems: _Problems, plan: ColumnPlan | None, ids_refused: bool) -> pd.DataFrame:
    """The rejected rows as they were in the file (minus identifier columns), with row number and reasons.

    Patient ids are treated as in the accepted rows: when the import refused the column (it holds e-mail
    addresses or phone numbers) it is left blank, and any such value is blanked in any case. ``plan`` is
    the file's column plan (None: as an outcome file would be read)."""
    found = problems.frame()
    found = found[found["severity"] == "rejected"]
    if found.empty:
        return pd.DataFrame(columns=["row", "problems"])
    reasons = (found.assign(text=found["column"] + ": " + found["reason"])
               .groupby("row")["text"].agg("; ".join))
    default = plan_columns(list(table.frame.columns), "outcomes")
    keep = [c for c in table.frame.columns if c not in default.identifiers]
    rows = table.frame.loc[problems.rejected, keep].copy()
    for header in _patient_id_headers(table, default if plan is None else plan):
        if header in rows.columns:
            text = rows[header].astype(str)
            rows[header] = "" if ids_refused else text.where(~text.map(_identifying).astype(bool), "")
    rows.insert(0, "row", table.rows[problems.rejected])
    if len(table.malformed):
        bad = pd.DataFrame({"row": table.malformed["row"]})
        rows = pd.concat([rows, bad], ignore_index=True)
    rows["problems"] = rows["row"].map(reasons)
    return rows.sort_values("row").reset_index(drop=True)
