"""``storyclust`` command line: a thin layer over the engine (see CONTRACT.md).

    storyclust cluster INPUT.jsonl [--output OUT.jsonl] [--data-dir DIR] [--online]
    storyclust dedup FEED.jsonl|- [--output OUT] [--level near_duplicate|story] [--store] [--items I.jsonl] [--data-dir DIR]
    storyclust recluster [--since DATE] [--until DATE] [--data-dir DIR] [--output OUT.jsonl] [--report R.json]
    storyclust eval GOLD.jsonl PRED.jsonl
    storyclust serve [--host H] [--port P] [--data-dir DIR]
    storyclust seeds [--data-dir DIR]          cluster the demo corpus and score it
    storyclust backup DEST [--data-dir DIR]    a consistent copy of the store, while it is in use
    storyclust expire --before DATE [--dry-run] [--data-dir DIR]   remove what is older (retention)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from .article import Article, ArticleError, parse_article
from .config import Settings, get_settings

if TYPE_CHECKING:  # the engine's module loads torch: imported where it runs (_engine)
    from .engine import Engine

BROKEN_PIPE = 141  # the exit status of a process ended by SIGPIPE, as a shell reports it
CHUNK = 128  # articles encoded per batch: large enough for efficient batching, small enough to commit often


# `cluster` runs the model in worker threads beside the engine's Python thread. Every model
# operation comes back to Python and must take the GIL again; at CPython's default switch
# interval (5 ms) it waits that long for the engine's thread to give it up, so the model slows
# beside a busy engine. bench/speed.py on all of AllSides, pairwise median: 1.212x the naive
# script at 5 ms, 1.111x at 0.5 ms (decisions do not depend on it).
GIL_SWITCH_INTERVAL = 0.0005


def _engine(settings: Settings) -> Engine:
    from .engine import Engine  # deferred: loading torch costs seconds; `eval` needs none of it

    return Engine(settings)


class InputLine(NamedTuple):
    number: int
    article: Article | None
    error: str | None
    data: Any = None  # the line's JSON as read: unknown fields too (`dedup` writes it back)


def read_articles(handle: IO[bytes], settings: Settings) -> Iterator[InputLine]:
    """(line number, article or None, error or None, JSON) for each non-blank line."""
    for number, raw in enumerate(handle, 1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")  # a BOM may open the file
        except UnicodeDecodeError as error:
            yield InputLine(number, None, f"not valid UTF-8 ({error.reason} at byte {error.start})")
            continue
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            yield InputLine(number, None, f"not valid JSON ({error.msg} at column {error.colno})")
            continue
        try:
            yield InputLine(number, parse_article(data, settings.max_article_bytes), None, data)
        except ArticleError as error:
            yield InputLine(number, None, str(error), data)


def cmd_cluster(args: argparse.Namespace) -> int:
    from collections import deque

    from tqdm import tqdm

    from .embedding import PendingVectors

    settings = get_settings(data_dir=args.data_dir)
    if settings.encode_workers is None:  # a batch job: throughput over one article's latency
        settings = settings.model_copy(update={"encode_workers": os.cpu_count() or 1})
    engine = _engine(settings)
    _note_stored(engine)
    previous_interval = sys.getswitchinterval()  # process-wide: restored when the job ends
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    out = _Answers(Path(args.output) if args.output else None, final=args.online)
    failed = 0
    ids: list[str] = []
    path = Path(args.input)
    # The model encodes the next chunks in its worker threads while this thread decides and
    # stores an earlier one: the model runs in native code without the GIL, so the engine's
    # single-threaded work overlaps the model's instead of adding to it. One chunk more than
    # there are workers is queued, so no worker waits for this thread. Input order and answers
    # stay the same.
    ahead = engine.encoder.workers + 1  # the encoder has at least one worker
    pending: deque[tuple[list[Article], PendingVectors]] = deque()
    try:
        with open(path, "rb") as handle, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                                desc="clustering", file=sys.stderr,
                                                disable=None) as progress:
            chunk: list[Article] = []

            def decide_oldest() -> None:
                articles, vectors = pending.popleft()
                for decision in engine.ingest(articles, embeddings=vectors.result()):
                    out.write(json.dumps(decision.line(), ensure_ascii=False) + "\n")
                    ids.append(decision.id)
                out.flush()

            def flush() -> None:
                nonlocal chunk
                pending.append((chunk, engine.embed_later(chunk)))
                chunk = []
                while len(pending) > ahead:
                    decide_oldest()

            position = 0
            for number, article, error, _ in read_articles(handle, settings):
                if error:
                    failed += 1
                    print(f"{path}:{number}: skipped: {error}", file=sys.stderr)
                else:
                    chunk.append(article)
                    if len(chunk) >= CHUNK:
                        flush()
                progress.update(handle.tell() - position)
                position = handle.tell()
            if chunk:
                flush()
            while pending:
                decide_oldest()
    finally:
        for _, vectors in pending:  # stopped early: do not encode what will not be decided
            vectors.cancel()
        sys.setswitchinterval(previous_interval)
        engine.save_indexes()
        out.end_online_pass()
    if not args.online:
        if ids:  # the job may take minutes on a large store: say what is happening
            print(f"repairing the stories of the run's {len(set(ids))} articles (--online skips this)", file=sys.stderr)
        out.rewrite(_repair(engine, ids))
    if failed:
        print(f"{failed} malformed line(s) skipped", file=sys.stderr)
    return 1 if failed else 0


def _note_stored(engine) -> None:
    """Say on standard error when the data directory already holds articles: a run's articles
    are then decided against them too, and the rarity of names is counted over all of them,
    so a set clustered behind other news can end differently from the same set alone."""
    stored = engine.store.count()
    if stored:
        print(f"note: {engine.settings.data_dir} already holds {stored} article(s); this run's articles are "
              "decided against them too (an empty --data-dir keeps a run on its own)", file=sys.stderr)


def _repair(engine, ids: list[str]) -> dict[str, str]:
    """The nightly job over this run's articles and the stored stories they meet
    (``recluster.repair_articles``): their output lines as it left them, by article id. A job
    that cannot run (another committed meanwhile) leaves the online answers, which stay valid:
    it is reported, not fatal."""
    from .recluster import repair_articles

    wanted = set(ids)
    try:
        report = repair_articles(engine, ids)
    except RuntimeError as error:
        print(f"storyclust cluster: repair skipped, the online answers stand: {error}", file=sys.stderr)
        return {}
    if report is None:
        return {}
    print(f"repair: {json.dumps(report.summary()['counts'])} in {sum(report.timings.values()):.1f} s", file=sys.stderr)
    return {line["id"]: json.dumps(line, ensure_ascii=False) + "\n" for line in report.lines if line["id"] in wanted}


class _Answers:
    """Where `cluster`'s lines go. The online lines are written as each article is decided: to an
    --output file itself, so that a killed run leaves every line it committed, and the repair
    then replaces the file whole; to standard output or a pipe (which cannot be read back) only
    when they are ``final`` (--online), else spooled until the repair has rewritten them."""

    def __init__(self, output: Path | None, final: bool) -> None:
        self.output = output
        self.rewritable = output is not None and (not output.exists() or output.is_file())
        self.streams_to_output = output is not None and (final or self.rewritable)
        if self.streams_to_output:
            self.stream: IO[str] = open(output, "w", encoding="utf-8")
        elif final:
            self.stream = sys.stdout
        else:
            self.stream = tempfile.TemporaryFile("w+", encoding="utf-8")

    def write(self, line: str) -> None:
        self.stream.write(line)

    def flush(self) -> None:
        self.stream.flush()

    def end_online_pass(self) -> None:
        if self.streams_to_output:
            self.stream.close()

    def rewrite(self, repaired: dict[str, str]) -> None:
        """Every online line replaced by its repaired one (by article id) where there is one."""
        def lines(online: IO[str]) -> Iterator[str]:
            return (repaired.get(json.loads(line)["id"], line) for line in online)

        if self.rewritable:
            with open(self.output, encoding="utf-8") as online:
                _write_whole(self.output, lines(online))
            return
        self.stream.seek(0)
        try:
            _write_whole(self.output, lines(self.stream))
        finally:
            self.stream.close()


def cmd_dedup(args: argparse.Namespace) -> int:
    """Collapse a feed file: its kept lines, as they were read, to --output (or standard output)."""
    from .dedup import collapse_feed

    settings = get_settings(data_dir=args.data_dir)
    _check_outputs(args.output, args.items)
    path = Path(args.input) if args.input != "-" else Path("<stdin>")
    good: list[InputLine] = []
    failed = 0
    with open(path, "rb") if args.input != "-" else contextlib.nullcontext(sys.stdin.buffer) as handle:
        for line in read_articles(handle, settings):
            if line.error:
                failed += 1
                print(f"{path}:{line.number}: skipped: {line.error}", file=sys.stderr)
            else:
                good.append(line)
    collapsed = []
    if good:
        engine = _engine(settings)
        collapsed = collapse_feed(engine, [line.article for line in good], args.level, args.store)
        if args.store:
            engine.save_indexes()
    kept = [json.dumps(line.data, ensure_ascii=False) + "\n" for line, c in zip(good, collapsed) if c.kept]
    _write_whole(args.output, kept)
    if args.items:
        _write_whole(args.items, [json.dumps({**c.decision.line(), "kept": c.kept, "stands_for": c.stands_for,
                                              "stands_for_stored": c.stands_for_stored}, ensure_ascii=False) + "\n"
                                  for c in collapsed])
    print(f"dedup: kept {len(kept)} of {len(good)} articles (level {args.level}, "
          f"{'stored' if args.store else 'nothing stored'})", file=sys.stderr)
    if failed:
        print(f"{failed} malformed line(s) skipped", file=sys.stderr)
    return 1 if failed else 0


def _check_outputs(*outputs: str | None) -> None:
    """Refuse outputs that cannot be written before any work is done (exit status 2)."""
    for output in filter(None, outputs):
        if not Path(output).parent.is_dir():
            raise FileNotFoundError(f"{output}: its directory does not exist")


def _write_whole(output: str | Path | None, lines: Iterable[str]) -> None:
    """``lines`` to standard output, or to the file ``output`` whole: written beside
    (``<name>.partial``, fsynced), then renamed, so that a reader (or a kill) never sees half of
    it; a pipe or device is written to as it is."""
    target = Path(output) if output else None
    if target is None or (target.exists() and not target.is_file()):
        with open(target, "w", encoding="utf-8") if target else contextlib.nullcontext(sys.stdout) as out:
            out.writelines(lines)
            out.flush()
        return
    partial = target.with_name(target.name + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, target)


def _count(value: str) -> int:
    """A whole number of zero or more, for argparse."""
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return number


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_files

    result = evaluate_files(Path(args.gold), Path(args.pred), args.errors)
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}, indent=2))
    return 0


def cmd_recluster(args: argparse.Namespace) -> int:
    from .recluster import run_recluster

    settings = get_settings(data_dir=args.data_dir)
    _check_outputs(args.output, args.report)  # the job's changes are committed before they are written
    engine = _engine(settings)
    report = run_recluster(engine, since=args.since, until=args.until)
    _write_whole(args.output, (json.dumps(line, ensure_ascii=False) + "\n" for line in report.lines))
    if args.report:
        Path(args.report).write_text(json.dumps(report.summary(), indent=2))
    print(json.dumps(report.summary()["counts"]), file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .api.app import create_app

    settings = get_settings(data_dir=args.data_dir)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


def cmd_seeds(args: argparse.Namespace) -> int:
    """Cluster the demo corpus as `cluster` does (online, then the repair) and show how it
    compares with its gold events."""
    from .evaluation import score
    from .seeds import load_gold, load_seeds

    engine = _engine(get_settings(data_dir=args.data_dir))
    _note_stored(engine)
    decisions = engine.ingest([parse_article(s) for s in load_seeds()])
    repaired = _repair(engine, [d.id for d in decisions])
    lines = [json.loads(repaired[d.id]) if d.id in repaired else d.line() for d in decisions]
    for line in lines:
        print(json.dumps(line))
    gold = load_gold()
    result = score([gold[line["id"]] for line in lines], [line["cluster_id"] for line in lines])
    print(f"seeds: B3 F1 {result['b3_f1']:.3f}, pairwise F1 {result['pair_f1']:.3f}", file=sys.stderr)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from .backup import backup

    print(json.dumps(backup(get_settings(data_dir=args.data_dir).data_dir, Path(args.destination))))
    return 0


def cmd_expire(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .retention import count_expired, expire, parse_cutoff

    cutoff = parse_cutoff(args.before)  # before the model loads
    engine = _engine(get_settings(data_dir=args.data_dir))
    total = None if args.dry_run else count_expired(engine, cutoff)[0]  # a dry run counts once, in expire
    with tqdm(total=total, unit="article", desc="expire", file=sys.stderr, disable=args.dry_run) as bar:
        expiry = expire(engine, args.before, dry_run=args.dry_run, progress=bar.update)
    if expiry.articles and not expiry.dry_run:
        engine.save_indexes()  # the next start loads them instead of reconciling them with the store
    print(json.dumps(expiry.summary()))
    return 0


def cmd_correct(args: argparse.Namespace) -> int:
    """An editor's correction without the API: what `POST /corrections` and `DELETE` do, printed
    as the API answers it (the correction's JSON), or the list of those in force."""
    from . import corrections

    engine = _engine(get_settings(data_dir=args.data_dir))
    try:
        if args.action == "split":
            made = corrections.split(engine, args.ids, args.cluster_id, args.note)
        elif args.action == "move":
            made = corrections.move(engine, args.ids, args.to, args.note)
        elif args.action == "withdraw":
            if not corrections.withdraw(engine, args.correction_id):
                raise ValueError(f"correction_id: no correction {args.correction_id}")
            return 0
        else:
            for listed in corrections.recent(engine.store, args.limit):
                print(_correction_line(listed))
            return 0
    finally:
        engine.store.close()
    print(_correction_line(made))
    return 0


def _correction_line(correction) -> str:
    """A correction as one JSON line, its time in ISO 8601 as the API gives it."""
    from dataclasses import asdict

    created = dt.datetime.fromtimestamp(correction.created_at, dt.timezone.utc).isoformat()
    return json.dumps({**asdict(correction), "created_at": created}, ensure_ascii=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storyclust", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("cluster", help="ingest articles online, in file order, then repair their stories")
    p.add_argument("input")
    p.add_argument("--output")
    p.add_argument("--online", action="store_true",
                   help="answer each article as decided on arrival, as the API does: no repair at the end "
                        "(the nightly job over the run's articles, which fixes stories that began in pieces)")
    p.add_argument("--data-dir", type=Path)
    p.set_defaults(func=cmd_cluster)

    p = sub.add_parser("dedup", help="collapse a feed before publication: its lines, less the copies "
                       "(or, --level story, less every later report of a story) of what came before or is stored")
    p.add_argument("input", help="a JSONL feed, or - for standard input")
    p.add_argument("--output", help="the kept lines, as read (default: standard output)")
    p.add_argument("--level", choices=("near_duplicate", "story"), default="near_duplicate",
                   help="collapse copies (exact and near duplicates) or whole stories")
    p.add_argument("--store", action="store_true",
                   help="ingest the feed (default: only compare it with itself and what is stored)")
    p.add_argument("--items", help="also write one line per feed article: its decision, kept, stands_for")
    p.add_argument("--data-dir", type=Path)
    p.set_defaults(func=cmd_dedup)

    p = sub.add_parser("recluster", help="the nightly job: re-cluster what is stored, keeping story ids stable")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--output")
    p.add_argument("--report")
    p.set_defaults(func=cmd_recluster)

    p = sub.add_parser("eval", help="score predictions against gold events")
    p.add_argument("gold")
    p.add_argument("pred")
    p.add_argument("--errors", type=_count, default=0, metavar="N",
                   help="also list the N worst wrong merges and splits, by the B-cubed precision or recall each costs")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="run the REST API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--data-dir", type=Path)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("seeds", help="cluster the demo corpus (seeds/) and score it")
    p.add_argument("--data-dir", type=Path)
    p.set_defaults(func=cmd_seeds)

    p = sub.add_parser("backup", help="copy the store consistently, also while it is in use; "
                       "the copy is a data directory (its indexes are rebuilt when opened)")
    p.add_argument("destination", help="a new or empty directory")
    p.add_argument("--data-dir", type=Path)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("expire", help="retention: remove the articles published (undated: ingested) before a "
                       "date, as DELETE does one by one; stories keep their ids and other members. On a data "
                       "directory a running `serve` holds, use POST /admin/expire instead")
    p.add_argument("--before", required=True, help="ISO 8601 date or datetime; a bare date is the start of that day (UTC)")
    p.add_argument("--dry-run", action="store_true", help="count what would go; remove nothing")
    p.add_argument("--data-dir", type=Path)
    p.set_defaults(func=cmd_expire)

    p = sub.add_parser("correct", help="an editor's correction, kept by every later re-clustering: split "
                       "articles out of their story, move them into another, list or withdraw corrections")
    actions = p.add_subparsers(dest="action", required=True)
    split = actions.add_parser("split", help="take these originals out of their story into a new one, kept "
                               "together and apart from the rest of it")
    split.add_argument("ids", nargs="+", metavar="ID")
    split.add_argument("--cluster-id", help="the story they are in, as seen: refused if they are no longer there")
    move = actions.add_parser("move", help="move these originals into story --to, kept with its members and "
                              "apart from the stories they leave")
    move.add_argument("ids", nargs="+", metavar="ID")
    move.add_argument("--to", required=True, metavar="CLUSTER_ID")
    for action in (split, move):
        action.add_argument("--note", help="why, for the record")
    listing = actions.add_parser("list", help="the corrections in force, latest first, one JSON line each")
    listing.add_argument("--limit", type=_count, default=50)
    withdraw = actions.add_parser("withdraw", help="forget a correction (nothing moves back)")
    withdraw.add_argument("correction_id", type=_count)
    for action in (split, move, listing, withdraw):
        action.add_argument("--data-dir", type=Path)
    p.set_defaults(func=cmd_correct)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as `cat` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python flushes stdout at exit
        return BROKEN_PIPE
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"storyclust {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
