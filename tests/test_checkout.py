"""The main command leaves a checkout clean: what ``nmfexp-reproduce`` writes by default is ignored by git,
and the committed figures live in ``docs/figures/`` where no default run writes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import nmfexp.figures
import nmfexp.reproduce as reproduce

ROOT = Path(__file__).resolve().parents[1]

needs_git = pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                                reason="needs git and a git checkout of nmfexp")


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=60)


def _ignored(rel: Path) -> bool:
    # --no-index: whether the rules ignore the path, whatever is tracked today
    return _git("check-ignore", "-q", "--no-index", str(rel)).returncode == 0


def _default_dirs(monkeypatch, tmp_path, *flags: str) -> tuple[Path, Path]:
    """The results and plots folders ``nmfexp-reproduce`` uses without --results-dir/--plots-dir (nothing runs)."""
    seen = {}

    def fake_run_preset(preset, results_dir, extra=None, *, submit_only=False, folder=None):
        seen["results"] = Path(results_dir)
        (tmp_path / results_dir / "fig5_synthetic").mkdir(parents=True, exist_ok=True)
        return 0

    def fake_plot_all(results_dir, plots_dir, **kwargs):
        seen["plots"] = Path(plots_dir)
        raise SystemExit(0)  # the folders are known; make nothing

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(reproduce, "run_preset", fake_run_preset)
    monkeypatch.setattr(reproduce, "data_overrides", lambda preset: ([], {}))
    monkeypatch.setattr(nmfexp.figures, "plot_all", fake_plot_all)
    with pytest.raises(SystemExit):
        reproduce.main(["--only", "fig5_synthetic", *flags])
    return seen["results"], seen["plots"]


@needs_git
@pytest.mark.parametrize("flags", [(), ("--quick",)], ids=["full", "quick"])
def test_what_the_main_command_writes_by_default_is_ignored(monkeypatch, tmp_path, flags):
    results, plots = _default_dirs(monkeypatch, tmp_path, *flags)
    assert not results.is_absolute() and not plots.is_absolute()
    for written in [plots / "index.html", plots / "fig5_runtime.png", plots / "fig5_runtime.pdf",
                    plots / "fig5_table.csv", plots / "references.bib",
                    results / "fig5_synthetic" / "job.h5", results / "fig5_synthetic" / "plan.json",
                    results / "fig5_synthetic" / "logs" / "multirun_x" / "nmfexp.log"]:
        assert _ignored(written), f"{written} would show in git status after nmfexp-reproduce"
    assert not _ignored(Path("results") / ".gitkeep")


@needs_git
def test_the_committed_figures_are_tracked_in_docs_and_nothing_under_plots():
    tracked = _git("ls-files", "docs/figures", "plots").stdout.split()
    assert "docs/figures/index.html" in tracked and "docs/figures/fig5_runtime.png" in tracked
    assert not [p for p in tracked if p.startswith("plots/")]
    assert not _ignored(Path("docs") / "figures" / "fig5_runtime.png")
    # the documents show the committed copy, not the folder a run rewrites
    for doc in ["README.md", "docs/reproduction.md"]:
        text = (ROOT / doc).read_text(encoding="utf-8")
        assert 'src="plots/' not in text and "](plots/" not in text, doc


def test_ci_runs_the_readme_test_command():
    """The README's two fresh-machine commands: one installs and runs the main job, one the tests; CI runs the
    second verbatim."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Two commands"):]
    section = section[:section.index("\n## ", 3)]
    commands = re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)
    assert len(commands) == 2, commands
    main_job, tests = commands
    assert "nmfexp-reproduce" in main_job and "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci, f"{tests!r} is not a line of .ci/run"
