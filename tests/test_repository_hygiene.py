"""The test session's guard (tests/conftest.py): tests run from a temporary folder, and a session that writes
into the repository fails, naming what it wrote."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_session_writing_into_the_repository_fails_naming_the_file(tmp_path):
    written, relative = os.path.join(ROOT, f"written-by-{tmp_path.name}.txt"), f"relative-{tmp_path.name}.txt"
    probe = tmp_path / "test_probe.py"
    probe.write_text("def test_write():\n"
                     f"    open({written!r}, 'w').close()\n"
                     f"    open({relative!r}, 'w').close()  # into the current folder, as MindSpore's amp O1 does\n")
    try:
        # From the repository, as a developer runs the suite; the session's plugin is this folder's conftest.
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
                                 "--rootdir", str(tmp_path), str(probe)], cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "tests")}, timeout=600)
    finally:
        for path in (written, os.path.join(ROOT, relative)):
            if os.path.exists(path):
                os.remove(path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout and f"the tests wrote into the repository {ROOT}" in result.stdout
    assert os.path.basename(written) in result.stdout and relative not in result.stdout
