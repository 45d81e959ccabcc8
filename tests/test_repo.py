"""The repository keeps its promises: the README's commands, CI, the data dictionary."""

from __future__ import annotations

import re

from analysis.records import schema

from testpaths import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(python3 -m venv .*?)\n```", text)


def test_readme_has_the_two_fresh_machine_commands():
    run, test = readme_commands()[:2]
    assert run.startswith("python3 -m venv .venv && ") and run.endswith("streamlit run dashboard.py")
    assert "-r requirements.txt" in run
    assert test.startswith("python3 -m venv .venv && ") and test.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    test = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert test in ci.splitlines()


def test_requirements_are_pinned():
    for name in ("requirements.txt", "requirements-dev.txt", "constraints.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                assert "==" in line, f"{name}: '{line}' is not pinned"


def test_data_dictionary_documents_every_column_and_effect():
    text = (ROOT / "data" / "README.md").read_text()
    for name in (*schema.OUTCOME_NAMES, *schema.SIDE_EFFECT_NAMES, *schema.EFFECTS):
        assert f"`{name}`" in text, name


def test_analysis_never_imports_streamlit():
    for path in (ROOT / "analysis").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+streamlit", path.read_text(), re.M), path


def test_no_page_or_module_renders_html():
    """User-supplied text must never reach HTML: the app's own code does not use ``unsafe_allow_html``
    at all (Streamlit's own copy under .venv is not ours), nor ``st.html``."""
    sources = [p for folder in ("analysis", "ui", "pages") for p in (ROOT / folder).rglob("*.py")]
    sources.append(ROOT / "dashboard.py")
    offending = [str(p.relative_to(ROOT)) for p in sources
                 if "unsafe_allow_html" in (text := p.read_text()) or "st.html(" in text]
    assert len(sources) > 20 and offending == []
