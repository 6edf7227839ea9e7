"""core/files.py: pruning per-run work folders."""

import os

from synth_pipelines.core.files import keep_newest_folders


def test_keep_newest_folders_removes_the_oldest_runs_only(tmp_path):
    tmp_path = tmp_path / "qa_runs"  # tmp_path itself holds the fixtures' folders
    tmp_path.mkdir()
    for age, run in enumerate(["run-c", "run-b", "run-a"]):  # run-a is the oldest
        folder = tmp_path / run
        folder.mkdir()
        (folder / "qa_report.html").write_text(run)
        os.utime(folder, ns=(1_000_000_000 * (10 - age),) * 2)
    (tmp_path / "note.txt").write_text("not a run")  # files beside the runs are left alone

    removed = keep_newest_folders(tmp_path, keep=2)

    assert [p.name for p in removed] == ["run-a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.txt", "run-b", "run-c"]
    assert keep_newest_folders(tmp_path, keep=2) == []
    assert keep_newest_folders(tmp_path / "missing", keep=2) == []
