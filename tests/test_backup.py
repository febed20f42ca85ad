"""``storyclust backup``: a consistent copy of a store in use, which restores as a data directory
(the indexes rebuilt from it) with every committed decision, and never overwrites anything."""

from __future__ import annotations

import json

import pytest

from storyclust.article import parse_article
from storyclust.backup import backup
from storyclust.cli import main
from storyclust.engine import Engine
from storyclust.seeds import load_seeds
from storyclust.store import STORE_FILE


def test_a_backup_taken_during_a_write_restores_every_committed_decision(engine, settings, encoder, tmp_path):
    decisions = engine.ingest([parse_article(s) for s in load_seeds()])
    engine.store.begin()  # a writer in the middle of a transaction, as the service may be
    engine.store.set_meta("uncommitted", "yes")
    try:
        report = backup(settings.data_dir, tmp_path / "copy")
    finally:
        engine.store.rollback()
    assert report["articles"] == 5 and report["stories"] == 4
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [STORE_FILE]
    restored = Engine(settings.model_copy(update={"data_dir": tmp_path / "copy"}), encoder=encoder)
    try:
        assert restored.indexes_match_store() and len(restored.vectors) == 5
        assert restored.store.get_meta("uncommitted") is None
        assert dict((a, c) for a, c, *_ in restored.store.assignments()) == {d.id: d.cluster_id for d in decisions}
        again = restored.ingest([parse_article(load_seeds()[3])])[0]  # the same answer as before
        assert (again.cluster_id, again.stored) == (decisions[3].cluster_id, False)
    finally:
        restored.store.close()


def test_backup_never_overwrites_and_names_what_is_missing(engine, settings, tmp_path, capsys):
    engine.ingest([parse_article(load_seeds()[0])])
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("keep me")
    with pytest.raises(RuntimeError, match="not empty"):
        backup(settings.data_dir, taken)
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    assert main(["backup", str(taken), "--data-dir", str(settings.data_dir)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "nothing-here")]) == 2
    assert "no store to back up" in capsys.readouterr().err
    assert main(["backup", str(tmp_path / "c"), "--data-dir", str(settings.data_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 1
