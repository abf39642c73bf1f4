"""The documentation as a user meets it: a short README whose Python runs as written, reference
docs that speak of the software (not of how the work was organised), research notes apart,
and links that lead somewhere."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# words about how the work was organised, not about the software
FORBIDDEN = [
    (r"\bsessions?\b", "session"),
    (r"\bstops? \d+", "stop N"),
    (r"\bissues? #?\d+|(?<![\w/])#\d+\b", "issue N"),
    (r"\bwas lent\b", "was lent"),
    (r"\bgit show\b", "git show"),
    (r"\bgit worktree\b", "git worktree"),
]


def reference_documents() -> list[Path]:
    docs = ROOT / "docs"
    return [README, *sorted(p for p in docs.rglob("*.md") if docs / "research" not in p.parents)]


def forbidden_words(text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, what in FORBIDDEN:
            if re.search(pattern, line, re.IGNORECASE):
                found.append(f"{number}: {what}: {line.strip()[:100]}")
    return found


def test_the_forbidden_word_check_catches_each_word():
    for line in ("trained this session", "before stop 41", "as issue #22 asks", "see issue 7", "no GPU was lent",
                 "git show abc:file", "git worktree add /tmp/x"):  # fmt: skip
        assert forbidden_words(line), line
    assert not forbidden_words("an InferenceSession of ONNX Runtime; the stop button; issues are welcome")


def test_readme_and_reference_docs_speak_of_the_software():
    problems = {str(p.relative_to(ROOT)): forbidden_words(p.read_text()) for p in reference_documents()}
    problems = {path: found for path, found in problems.items() if found}
    assert not problems, problems


def test_readme_is_a_front_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= 250
    first_separate = next(i for i, line in enumerate(lines, 1) if "lightsep separate" in line)
    assert first_separate <= 60
    table = next(i for i, line in enumerate(lines, 1) if line.startswith("| model |"))
    assert table <= 80
    # the command that made the table sits next to it, in a bash block
    above = "\n".join(lines[max(0, table - 15) : table])
    assert "```bash" in above and "scripts/results_at_a_glance.py" in above
    for heading in ("Install", "Separate", "Stream", "In the browser", "ONNX", "Models", "Licence", "Citing"):
        assert f"## {heading}" in lines, heading
    assert "research and education" in README.read_text()


def test_every_research_note_has_its_parts():
    notes = sorted((ROOT / "docs" / "research").glob("*.md"))
    assert notes
    for note in notes:
        text = note.read_text()
        for part in ("**Question.**", "**Data.**", "**Command.**", "**Result.**", "**Conclusion.**"):
            assert part in text, f"{note.name}: {part}"


def test_relative_links_lead_to_files():
    missing = []
    for doc in [README, ROOT / "DEVELOPERS.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (doc.parent / target).exists():
                missing.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert not missing, missing


def heading_anchors(doc) -> set[str]:
    """The anchors GitHub gives ``doc``'s headings: lower case, punctuation but hyphens and
    underscores dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.*)$", doc.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_links_to_a_heading_find_it():
    broken = []
    for doc in [README, ROOT / "DEVELOPERS.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", doc.read_text()):
            path = doc.parent / target if target else doc
            if "://" in target or path.suffix != ".md" or not path.exists():
                continue
            if anchor not in heading_anchors(path):
                broken.append(f"{doc.relative_to(ROOT)} -> {target}#{anchor}")
    assert not broken, broken


def test_the_anchor_check_finds_a_missing_heading(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("# The default model: 46 ms (`frames.py`)\n")
    assert "the-default-model-46-ms-framespy" in heading_anchors(doc)
    assert "the-default-model" not in heading_anchors(doc)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def test_every_python_block_of_the_readme_runs(tmp_path):
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 2
    rng = np.random.default_rng(0)
    t = np.arange(int(2.0 * 44100)) / 44100
    tone = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    song = np.stack([tone, tone]) + 0.05 * rng.standard_normal((2, t.size))
    sf.write(tmp_path / "song.wav", song.T.astype(np.float32), 44100)
    env = {**os.environ, "LIGHTSEP_CACHE": os.environ.get("LIGHTSEP_CACHE", str(tmp_path / "cache"))}
    for number, block in enumerate(blocks, 1):
        result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=600)  # fmt: skip
        assert result.returncode == 0, f"block {number}:\n{block}\n{result.stderr[-3000:]}"
    assert (tmp_path / "separated" / "spectral-2stem" / "song" / "vocals.flac").is_file()
