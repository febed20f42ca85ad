"""The command line as a user runs it (subprocesses): `storyclust cluster` output lines, malformed
input, empty input, idempotent re-runs, a kill part-way, and `storyclust eval`.

Each `cluster` run loads the model (~10 s), so inputs are small and runs are few."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from itertools import chain
from pathlib import Path

import pytest
from conftest import DATA, load_dataset

from storyclust.evaluation import score
from storyclust.normalize import clean
from storyclust.store import Store

KEYS = {"id", "cluster_id", "relation", "duplicate_of", "score"}
RELATIONS = {"exact_duplicate", "near_duplicate", "same_story", "new_story"}
SCRIPT = Path(sys.executable).with_name("storyclust")


def storyclust(*args, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the CLI the way a user does; the console script when installed, else ``-m``."""
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "storyclust.cli"]
    return subprocess.run(command + [str(a) for a in args], cwd=cwd, capture_output=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_lines(lines: list[dict], ids: list[str]) -> None:
    """CONTRACT line format, one per input article, in input order."""
    assert [line["id"] for line in lines] == ids
    for line in lines:
        assert set(line) == KEYS, line
        assert line["relation"] in RELATIONS and isinstance(line["cluster_id"], str) and line["cluster_id"]
        assert isinstance(line["score"], (int, float)) and 0.0 <= line["score"] <= 1.0
        assert (line["duplicate_of"] is not None) == (line["relation"] in ("exact_duplicate", "near_duplicate"))
    by_id = {line["id"]: line for line in lines}
    for line in lines:
        if line["duplicate_of"] in by_id:  # copies are in the story of what they copy
            assert by_id[line["duplicate_of"]]["cluster_id"] == line["cluster_id"]


def good_rows(n: int, offset: int = 0) -> list[dict]:
    """Short real articles (allsides-train), with text, unique ids."""
    rows = [r for r in load_dataset("allsides-train") if clean(r.get("text") or "")]
    return rows[offset : offset + n]


# --- reading the input (in process: no model) ------------------------------------------------------
def test_read_articles_line_numbers_bom_crlf_and_separators():
    import io

    from storyclust.cli import read_articles
    from storyclust.config import Settings

    rows = good_rows(3)
    data = (b"\xef\xbb\xbf" + json.dumps(rows[0]).encode() + b"\r\n"          # BOM (Windows tools), CRLF
            + json.dumps({**rows[1], "text": rows[1]["text"] + "\u2028\u0085\u2029 end"}, ensure_ascii=False).encode()
            + b"\r\n\r\n   \n"                                                  # blank lines are skipped
            + b"\xff\xfe\n"                                                      # not UTF-8
            + json.dumps(rows[2]).encode())                                        # no final newline
    got = list(read_articles(io.BytesIO(data), Settings()))
    assert [(n, a.id if a else None, e is None) for n, a, e, _ in got] == [
        (1, rows[0]["id"], True), (2, rows[1]["id"], True), (5, None, False), (6, rows[2]["id"], True)]
    assert got[1][1].text.endswith("\u2028\u0085\u2029 end")  # Unicode line separators are not line ends
    assert "not valid UTF-8" in got[2][2]


def test_read_articles_enforces_the_size_limit():
    import io

    from storyclust.cli import read_articles
    from storyclust.config import Settings

    settings = Settings(max_article_bytes=1000)
    data = (json.dumps({"id": "small", "text": "x" * 1000}) + "\n" + json.dumps({"id": "big", "text": "x" * 1001})).encode()
    got = list(read_articles(io.BytesIO(data), settings))
    assert got[0][1].id == "small" and got[1][1] is None and "text: larger than the limit" in got[1][2]


# --- dedup: a feed file collapsed (in process, on the session's model) --------------------------------
def test_dedup_writes_the_kept_lines_as_read_and_stores_only_when_asked(tmp_path, monkeypatch, encoder, capsys):
    """A feed with two wire copies and a broken line: the output is the two originals' lines as
    they were read (unknown fields too), `--items` says what stands for each dropped one, the
    exit status says a line was skipped, and nothing is stored without `--store`. Stored, a later
    feed's copy of a stored article is dropped in its favour."""
    from storyclust import cli
    from storyclust.engine import Engine

    monkeypatch.setattr(cli, "_engine", lambda settings: Engine(settings, encoder=encoder))
    rows = {r["id"]: r for r in load_dataset("newswcl50")}

    def wire(row: dict, new_id: str) -> dict:
        body = row["text"][: len(row["text"]) * 3 // 4]
        return {"id": new_id, "title": f"{row['title']} (wire)", "text": f"NEW YORK (Wire) - {body}", "desk": "world"}

    feed = [rows["0_L"], wire(rows["0_L"], "wire-0_L"), rows["4_L"], wire(rows["4_L"], "wire-4_L")]
    source = tmp_path / "feed.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in feed) + '{"id": "broken"\n', encoding="utf-8")
    out, items, data_dir = tmp_path / "out.jsonl", tmp_path / "items.jsonl", tmp_path / "data"
    # An output nowhere to be written is refused before the feed is read (exit status 2).
    assert cli.main(["dedup", str(source), "--output", str(tmp_path / "no" / "out.jsonl"),
                     "--data-dir", str(data_dir)]) == 2
    assert not data_dir.exists()
    args = ["dedup", str(source), "--output", str(out), "--items", str(items), "--data-dir", str(data_dir)]
    assert cli.main(args) == 1  # the broken line
    assert read_lines(out) == [rows["0_L"], rows["4_L"]]
    by_id = {line["id"]: line for line in read_lines(items)}
    assert (by_id["wire-0_L"]["kept"], by_id["wire-0_L"]["stands_for"], by_id["wire-0_L"]["relation"]) == (
        False, "0_L", "near_duplicate")
    assert by_id["wire-4_L"]["stands_for"] == "4_L" and by_id["4_L"]["kept"] is True
    store = Store(data_dir)
    try:
        assert store.get("0_L") is None, "compared, not stored"
    finally:
        store.close()

    source.write_text("".join(json.dumps(r) + "\n" for r in feed), encoding="utf-8")
    assert cli.main(args + ["--store"]) == 0
    later = tmp_path / "later.jsonl"
    later.write_text(json.dumps(wire(rows["0_L"], "wire2-0_L")) + "\n" + json.dumps(rows["7_L"]) + "\n", encoding="utf-8")
    assert cli.main(["dedup", str(later), "--output", str(out), "--items", str(items), "--data-dir", str(data_dir)]) == 0
    assert read_lines(out) == [rows["7_L"]]
    copy = read_lines(items)[0]  # stands for the stored original, also where it copies the stored copy
    assert (copy["kept"], copy["stands_for"], copy["stands_for_stored"]) == (False, "0_L", True)
    # In a pipeline: the feed on standard input, the kept lines on standard output.
    import io

    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(later.read_bytes())))
    assert cli.main(["dedup", "-", "--data-dir", str(data_dir)]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [rows["7_L"]]


# --- cluster: format, malformed lines, idempotent re-run ------------------------------------------
def test_cluster_output_malformed_lines_and_idempotent_rerun(tmp_path):
    rows = good_rows(6) + [r for r in load_dataset("ecbplus-dev") if r["id"].startswith("29_")][:4]
    copy = {**rows[0], "id": "copy-of-first", "title": "A new headline"}
    lines: list[bytes] = []
    bad: dict[int, str] = {}

    def good(row):
        lines.append(json.dumps(row, ensure_ascii=False).encode("utf-8"))

    def malformed(raw: bytes, why: str):
        lines.append(raw)
        bad[len(lines)] = why

    good(rows[0])
    malformed(b'{"id": "broken", "text": "no closing brace"', "not valid JSON")
    good(rows[1])
    malformed(json.dumps({"id": "no-text", "title": "Headline only"}).encode(), "text: Field required")
    malformed(json.dumps({"id": "empty-text", "text": " <p>&nbsp;</p> "}).encode(), "text: must contain text")
    good(rows[2])
    malformed(json.dumps({"id": "wrong-type", "text": ["a", "list"]}).encode(), "text: Input should be a valid string")
    malformed(json.dumps({**rows[3], "id": "bad-date", "published_at": "2019-02-30"}).encode(), "published_at:")
    malformed(b'{"id": "latin-1", "text": "caf\xe9 au lait"}', "not valid UTF-8")
    malformed(json.dumps([rows[3]]).encode(), "expected a JSON object, got an array")
    lines.append(b"   ")  # blank lines are not articles
    for row in rows[3:]:
        good(row)
    good(copy)
    good(rows[1])  # the same id and content again: idempotent, still answered
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    ids = [rows[0]["id"], rows[1]["id"], rows[2]["id"], *[r["id"] for r in rows[3:]], "copy-of-first", rows[1]["id"]]
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"

    run = storyclust("cluster", source, "--output", out, "--data-dir", data_dir, cwd=tmp_path)
    stderr = run.stderr.decode("utf-8", "replace")
    assert run.returncode == 1, stderr
    assert run.stdout == b""  # with --output, nothing else on stdout
    for number, why in bad.items():
        reported = [line for line in stderr.splitlines() if line.startswith(f"{source}:{number}: ")]
        assert len(reported) == 1 and why in reported[0], (number, why, stderr)
    assert f"{len(bad)} malformed line(s) skipped" in stderr
    first = read_lines(out)
    check_lines(first, ids)
    by_id = {line["id"]: line for line in first}
    assert by_id["copy-of-first"]["relation"] == "exact_duplicate"
    assert by_id["copy-of-first"]["duplicate_of"] == rows[0]["id"]
    assert first[-1] == by_id[rows[1]["id"]]  # the repeat answers like the first time
    store = Store(data_dir)
    assert store.count() == len(set(ids))
    store.close()

    # The same file again on the same data dir, answers on stdout: same answers, nothing stored twice.
    again = storyclust("cluster", source, "--data-dir", data_dir, cwd=tmp_path)
    assert again.returncode == 1
    assert f"already holds {len(set(ids))} article(s)" in again.stderr.decode()
    assert "already holds" not in stderr  # the first run's data dir was empty
    assert [json.loads(line) for line in again.stdout.decode().splitlines()] == first
    store = Store(data_dir)
    try:
        assert store.count() == len(set(ids))
        assert {a[0]: a[1] for a in store.assignments()} == {line["id"]: line["cluster_id"] for line in first}
    finally:
        store.close()


def test_cluster_empty_input(tmp_path):
    source = tmp_path / "empty.jsonl"
    source.write_bytes(b"")
    out = tmp_path / "out.jsonl"
    run = storyclust("cluster", source, "--output", out, "--data-dir", tmp_path / "data", cwd=tmp_path)
    assert run.returncode == 0, run.stderr.decode()
    assert out.read_bytes() == b""
    store = Store(tmp_path / "data")
    assert store.count() == 0
    store.close()


# --- cluster: killed part-way ---------------------------------------------------------------
def test_kill_part_way_loses_nothing_reported_and_rerun_completes(tmp_path):
    rows = good_rows(200, offset=100)  # two chunks: the first is answered while the second is encoded
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "storyclust.cli"]
    process = subprocess.Popen(command + ["cluster", str(source), "--output", str(out), "--data-dir", str(data_dir)],
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if out.exists() and out.stat().st_size > 0:
                break
            time.sleep(0.05)
        assert process.poll() is None, "finished before it could be killed: make the input longer"
        assert out.stat().st_size > 0, "no output within the deadline"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    text = out.read_text(encoding="utf-8")
    reported = [json.loads(line) for line in text.splitlines() if line.endswith("}")]
    assert 0 < len(reported) < len(rows)
    check_lines(reported, [r["id"] for r in rows[: len(reported)]])

    store = Store(data_dir)  # everything reported was committed
    try:
        for line in reported:
            stored = store.get(line["id"])
            assert stored is not None and stored.cluster_id == line["cluster_id"]
            assert stored.relation == line["relation"]
    finally:
        store.close()

    rerun = storyclust("cluster", source, "--output", out, "--data-dir", data_dir, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr.decode()
    final = read_lines(out)
    check_lines(final, [r["id"] for r in rows])  # the reported articles too, once each: none lost
    assert not out.with_name(out.name + ".partial").exists()
    store = Store(data_dir)
    try:
        assert store.count() == len({r["id"] for r in rows})
        assert {a[0]: a[1] for a in store.assignments()} == {line["id"]: line["cluster_id"] for line in final}
    finally:
        store.close()


# --- cluster: the repair at the end ----------------------------------------------------------------
def test_cluster_answers_after_the_repair_and_online_as_the_api(tmp_path, monkeypatch, encoder):
    """`cluster` ends with the nightly job over the run's articles and answers the stories it
    leaves; `--online` answers each article as decided on arrival, as the API does. Clust-McMs
    English (its bucket of unrelated articles as singletons): reports of one event that arrived
    apart stay apart online, and the repair joins some of them. In process, on the session's
    model (the subprocess tests above cover the command itself)."""
    from storyclust import cli
    from storyclust.engine import Engine

    rows = load_dataset("clustmcms-dev", lang="en")
    gold = {r["id"]: f"noise:{r['id']}" if r["event_id"] == "dev:166" else r["event_id"] for r in rows}
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ids = [r["id"] for r in rows]
    monkeypatch.setattr(cli, "_engine", lambda settings: Engine(settings, encoder=encoder))
    answers = {}
    for mode in ("online", "repaired"):
        out, data_dir = tmp_path / f"{mode}.jsonl", tmp_path / mode
        assert cli.main(["cluster", str(source), "--output", str(out), "--data-dir", str(data_dir)]
                        + (["--online"] if mode == "online" else [])) == 0
        answers[mode] = read_lines(out)
        check_lines(answers[mode], ids)
        assert not out.with_name(out.name + ".partial").exists()
        store = Store(data_dir)
        try:  # the answers are what is stored
            assert {a[0]: a[1] for a in store.assignments()} == {line["id"]: line["cluster_id"] for line in answers[mode]}
        finally:
            store.close()

    def b3(lines: list[dict]) -> float:
        return score([gold[line["id"]] for line in lines], [line["cluster_id"] for line in lines])["b3_f1"]

    # An --output that cannot be rewritten (a pipe) gets the repaired lines once, at the end.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.extend(fifo.read_text(encoding="utf-8").splitlines()))
    reader.start()
    status: list[int] = []
    worker = threading.Thread(target=lambda: status.append(
        cli.main(["cluster", str(source), "--output", str(fifo), "--data-dir", str(tmp_path / "piped")])))
    worker.start()
    worker.join(timeout=180)
    if worker.is_alive():  # waiting to read back the pipe it wrote: let it go, then fail
        with open(fifo, "w"):
            pass
        worker.join(timeout=60)
        pytest.fail("cluster blocked on a pipe given as --output")
    reader.join(timeout=60)
    assert status == [0]
    assert [json.loads(line)["cluster_id"] for line in received] == [line["cluster_id"] for line in answers["repaired"]]

    online, repaired = answers["online"], answers["repaired"]
    assert b3(repaired) > b3(online)
    joined = [a for a, b in zip(online, repaired) if a["relation"] == "new_story" and b["relation"] == "same_story"]
    assert len(joined) >= 3
    for line in repaired:  # every story still opens with one new_story
        assert sum(other["relation"] == "new_story" for other in repaired if other["cluster_id"] == line["cluster_id"]) == 1


# --- eval -----------------------------------------------------------------------------------
@pytest.fixture
def gold_path() -> Path:
    return DATA / "ecbplus-dev" / "articles.jsonl"


def evaluate(gold: Path, pred_rows: list[dict], tmp_path: Path) -> dict:
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(r) + "\n" for r in pred_rows), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "storyclust.cli", "eval", str(gold), str(pred)],
                         cwd=tmp_path, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    return json.loads(run.stdout)


def test_eval_perfect_and_singletons(gold_path, tmp_path):
    gold = load_dataset("ecbplus-dev")
    perfect = evaluate(gold_path, [{"id": r["id"], "cluster_id": "c-" + r["event_id"]} for r in gold], tmp_path)
    for key in ("b3_precision", "b3_recall", "b3_f1", "pair_precision", "pair_recall", "pair_f1", "ari"):
        assert perfect[key] == 1.0, (key, perfect)
    assert perfect["articles"] == len(gold) and perfect["missing_predictions"] == 0
    singletons = evaluate(gold_path, [{"id": r["id"], "cluster_id": r["id"]} for r in gold], tmp_path)
    assert singletons["b3_precision"] == 1.0 and singletons["b3_recall"] < 0.2
    assert singletons["b3_f1"] < perfect["b3_f1"] and singletons["pair_recall"] == 0.0
    assert singletons["ari"] == pytest.approx(0.0, abs=1e-6)
    # A `cluster` output file for half of the articles, all in one story: extra keys are fine,
    # missing predictions are reported, and one big cluster has full recall and poor precision.
    half = [{"id": r["id"], "cluster_id": "s-all", "relation": "new_story", "duplicate_of": None, "score": 0.1}
            for r in gold[::2]]
    one = evaluate(gold_path, half, tmp_path)
    assert one["articles"] == len(half) and one["missing_predictions"] == len(gold) - len(half)
    assert one["pred_clusters"] == 1 and one["b3_recall"] == 1.0 and one["b3_precision"] < 0.1
    assert one["ari"] == pytest.approx(0.0, abs=1e-6)


def test_eval_lists_the_wrong_merges_and_splits_that_cost_most(gold_path, tmp_path):
    """`eval --errors N`: ECB+'s two Qeshm quakes put in one cluster and another event cut in
    two come back as the worst wrong merge and split, titled from the gold file, each with the
    B-cubed precision or recall it costs; the costs of all merges add up to what precision
    lost. A perfect prediction has none."""
    gold = load_dataset("ecbplus-dev")
    quakes = {r["event_id"] for r in gold if "Qeshm" in r["text"]}
    assert len(quakes) == 2
    cut = next(e for e, _ in Counter(r["event_id"] for r in gold).most_common() if e not in quakes)
    cut_ids = [r["id"] for r in gold if r["event_id"] == cut]
    rows = [{"id": r["id"], "cluster_id": "quakes" if r["event_id"] in quakes else
             (f"{cut}-b" if r["id"] in cut_ids[len(cut_ids) // 2:] else r["event_id"])} for r in gold]
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "storyclust.cli", "eval", str(gold_path), str(pred), "--errors", "3"],
                         cwd=tmp_path, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    result = json.loads(run.stdout)
    [merge], [split] = result["wrong_merges"], result["splits"]
    assert merge["cluster_id"] == "quakes" and set(merge["events"]) == quakes
    assert merge["size"] == sum(map(len, merge["events"].values()))
    assert any("Quake hits island off south Iran" in shown for shown in chain(*merge["events"].values()))
    assert merge["b3_precision_lost"] == pytest.approx(1 - result["b3_precision"], abs=1e-3)
    assert split["event_id"] == cut and set(split["clusters"]) == {cut, f"{cut}-b"} and split["size"] == len(cut_ids)
    assert split["b3_recall_lost"] == pytest.approx(1 - result["b3_recall"], abs=1e-3)
    perfect = tmp_path / "perfect.jsonl"
    perfect.write_text("".join(json.dumps({"id": r["id"], "cluster_id": r["event_id"]}) + "\n" for r in gold))
    run = subprocess.run([sys.executable, "-m", "storyclust.cli", "eval", str(gold_path), str(perfect), "--errors", "3"],
                         cwd=tmp_path, capture_output=True, timeout=120)
    assert json.loads(run.stdout)["wrong_merges"] == [] and json.loads(run.stdout)["splits"] == []
    run = subprocess.run([sys.executable, "-m", "storyclust.cli", "eval", str(gold_path), str(perfect), "--errors", "-1"],
                         cwd=tmp_path, capture_output=True, timeout=120)
    assert run.returncode == 2 and "--errors: must be 0 or more, not -1" in run.stderr.decode()


def test_a_reader_that_goes_away_ends_the_command_quietly(gold_path, tmp_path):
    """`storyclust ... | head -1`: when standard output's reader has gone, the command stops
    with the shell's SIGPIPE status (141) and no traceback."""
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps({"id": r["id"], "cluster_id": r["id"]}) + "\n"
                            for r in load_dataset("ecbplus-dev")), encoding="utf-8")
    child = subprocess.Popen([sys.executable, "-m", "storyclust.cli", "eval", str(gold_path), str(pred)],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # gone before the command writes its first line
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=120) == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_correct_splits_lists_and_withdraws_as_the_api_does(tmp_path, monkeypatch, encoder, capsys):
    """`storyclust correct` on ECB+'s Teixeira topic, whose two offers the job joins: the split
    answers the correction's JSON line, the job keeps it, and a bad id exits 2 naming the field."""
    from storyclust import cli
    from storyclust.article import parse_article
    from storyclust.engine import Engine
    from storyclust.recluster import run_recluster

    monkeypatch.setattr(cli, "_engine", lambda settings: Engine(settings, encoder=encoder))
    rows = [r for r in load_dataset("ecbplus-dev") if r["event_id"].split("_")[0] == "10"]
    gold = {r["id"]: r["event_id"] for r in rows}
    data_dir = tmp_path / "data"
    engine = cli._engine(cli.get_settings(data_dir=data_dir))
    engine.ingest([parse_article(r) for r in rows])
    run_recluster(engine)
    story = engine.store.get("10_1ecb").cluster_id
    angels = [a.id for a in engine.store.cluster_members(story) if gold[a.id] == "10_ecb" and a.duplicate_of is None]
    assert any(gold[a.id] == "10_ecbplus" for a in engine.store.cluster_members(story))  # the premise
    engine.store.close()

    capsys.readouterr()
    assert cli.main(["correct", "split", *angels, "--cluster-id", story, "--note", "two offers",
                     "--data-dir", str(data_dir)]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["article_ids"] == angels and made["action"] == "split" and made["created_at"].endswith("+00:00")
    assert cli.main(["recluster", "--data-dir", str(data_dir)]) == 0
    store = Store(data_dir)
    stories = {a: c for a, c, *_ in store.assignments()}
    store.close()
    assert not {stories[i] for i in gold if gold[i] == "10_ecb"} & {stories[i] for i in gold if gold[i] == "10_ecbplus"}

    capsys.readouterr()
    assert cli.main(["correct", "list", "--data-dir", str(data_dir)]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [made]
    assert cli.main(["correct", "split", "no-such", "--data-dir", str(data_dir)]) == 2
    assert "storyclust correct: article_ids: no article 'no-such'" in capsys.readouterr().err
    assert cli.main(["correct", "withdraw", str(2**70), "--data-dir", str(data_dir)]) == 2
    assert cli.main(["correct", "withdraw", str(made["correction_id"]), "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    assert cli.main(["correct", "list", "--data-dir", str(data_dir)]) == 0 and capsys.readouterr().out == ""
