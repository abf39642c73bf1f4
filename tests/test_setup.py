"""The repository's set-up contract: the README's commands exist and pin torch."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_commands_exist_and_ci_calls_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/demo.sh" in readme and "bash scripts/test.sh" in readme
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_setup_pins_torch_and_uses_the_repo_venv():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert 'TORCH_VERSION="2.13.0"' in setup and '"torch==${TORCH_VERSION}"' in setup
    assert ".venv" in setup
