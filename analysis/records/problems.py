"""What can be wrong with an imported file: whole-file refusals and the row-level problem log.

A file that cannot be used at all raises :class:`ImportProblem` (or a subclass that carries what the
app needs to ask the user: :class:`MissingColumns`, :class:`DateOrderNeeded`). Problems with single
rows go in a :class:`ProblemLog`, which names the file, the row as a spreadsheet shows it (header =
row 1), the column, the value and the reason, and tracks which rows are rejected.

Every column is checked once per *distinct* value (:mod:`analysis.records.validate`): a log over a
column's distinct values is then expanded to the rows that hold them (:meth:`ProblemLog.expand`), so
a million rows cost what their few distinct values cost, and every problem still has its row.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from analysis.records import schema

Kind = Literal["outcomes", "side_effects"]

PROBLEM_COLUMNS = ["file", "row", "column", "value", "reason", "severity"]

# Shown instead of a value that may identify a patient: the text of a row that could not be split into
# columns when the file has identifier columns (its fields cannot be matched to the headers), and any
# value of a column whose header names an identifier. ui/upload.py shows the same words.
WITHHELD = "(not shown: the file has patient identifier columns)"


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


class ProblemLog:
    """Row-level problems of one file, collected as arrays (fast at a million rows), and the rejected rows.

    ``rows`` holds the number each position is reported as: the spreadsheet row of a file's record, or,
    in a log over a column's distinct values, the value's position (see :meth:`expand`).
    """

    def __init__(self, file: str, rows: np.ndarray) -> None:
        self.file = file
        self.rows = rows
        self.rejected = np.zeros(len(rows), dtype=bool)
        self._parts: list[tuple[np.ndarray, str, np.ndarray, np.ndarray, str]] = []

    @property
    def found(self) -> bool:
        return bool(self._parts)

    def add(self, mask: np.ndarray, column: str, values: pd.Series | np.ndarray, reason: str | pd.Series | np.ndarray,
            severity: str = "rejected") -> None:
        """Report the positions in ``mask``: their ``values`` and ``reason`` (one text, or one per position)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        if severity == "rejected":
            self.rejected |= mask
        where = np.flatnonzero(mask)
        # A mapping can point an identifier column (e.g. 'Date of Birth') at a schema column: its values
        # are checked like any other, but never quoted.
        if schema.looks_like_identifier_header(column):
            vals = np.full(len(where), WITHHELD, dtype=object)
        else:
            vals = _take(values, where)
        reasons = np.full(len(where), reason, dtype=object) if isinstance(reason, str) else _take(reason, where)
        self._parts.append((where, column, vals, reasons, severity))

    def add_rows(self, rows: np.ndarray, values: list[str], reasons: list[str]) -> None:
        """Whole rows that could not be split into columns (already numbered as in the file)."""
        if len(rows):
            self._parts.append((np.asarray(rows, dtype=np.int64), "(whole row)", np.asarray(values, dtype=object),
                                np.asarray(reasons, dtype=object), "rejected:numbered"))

    def expand(self, log: "ProblemLog", indices: np.ndarray) -> None:
        """Add the problems ``log`` found on a column's distinct values to every row holding them.

        ``indices`` gives each row's position in those distinct values. A problem keeps its column,
        reason and severity; its value is the row's own text (the distinct value it holds)."""
        for where, column, values, reasons, severity in log._parts:
            if len(where) == len(log.rows):  # every distinct value: every row
                rows = np.arange(len(indices))
                at = indices
            else:
                position = np.full(len(log.rows), -1, dtype=np.int64)
                position[where] = np.arange(len(where))
                of_row = position[indices]
                rows = np.flatnonzero(of_row >= 0)
                at = of_row[rows]
            if not len(rows):
                continue
            if severity == "rejected":
                self.rejected[rows] = True
            self._parts.append((rows, column, values[at], reasons[at], severity))

    def frame(self) -> pd.DataFrame:
        """The problems in the order they were found: file, row, column, value, reason, severity."""
        if not self._parts:
            return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else object) for c in PROBLEM_COLUMNS})
        parts = []
        for where, column, values, reasons, severity in self._parts:
            numbered = severity.endswith(":numbered")
            parts.append(pd.DataFrame({"file": self.file, "row": where if numbered else self.rows[where],
                                       "column": column, "value": values, "reason": reasons,
                                       "severity": severity.removesuffix(":numbered")}))
        return pd.concat(parts, ignore_index=True)


def _take(values: pd.Series | np.ndarray, where: np.ndarray) -> np.ndarray:
    """``np.asarray(values, dtype=object)[where]`` without converting the rows that are not taken."""
    if isinstance(values, pd.Series):
        return np.asarray(values.iloc[where], dtype=object)
    return np.asarray(values, dtype=object)[where]


def clip(value: object, width: int = 60) -> str:
    """A value shortened for a message (with an ellipsis)."""
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
