"""Clustering quality against gold events: B-cubed, pairwise and adjusted Rand.

B-cubed (Bagga & Baldwin 1998) averages, per article, how much of its predicted cluster shares
its gold event (precision) and how much of its gold event it was put with (recall); it weighs
every article equally, so one huge wrong merge cannot hide behind many right singletons.
Pairwise scores and ARI come from scikit-learn.

:func:`errors` lists what the figures hide: the predicted clusters that mix events (wrong
merges) and the events spread over clusters (splits), each ranked by the B-cubed precision or
recall it costs, so that the few errors worth reading come first.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.cluster import pair_confusion_matrix


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def bcubed(gold: Sequence[str], pred: Sequence[str]) -> tuple[float, float, float]:
    pair_count = Counter(zip(gold, pred))
    gold_size, pred_size = Counter(gold), Counter(pred)
    n = len(gold)
    precision = sum(c * c / pred_size[p] for (g, p), c in pair_count.items()) / n
    recall = sum(c * c / gold_size[g] for (g, p), c in pair_count.items()) / n
    return precision, recall, _f1(precision, recall)


def pairwise(gold: Sequence[str], pred: Sequence[str]) -> tuple[float, float, float]:
    (_, fp), (fn, tp) = pair_confusion_matrix(gold, pred) // 2
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return float(precision), float(recall), _f1(float(precision), float(recall))


def score(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    """Every metric for two aligned label lists."""
    if not gold:
        raise ValueError("nothing to score: no article is in both gold and predictions")
    b3p, b3r, b3f = bcubed(gold, pred)
    pp, pr, pf = pairwise(gold, pred)
    return {
        "articles": len(gold), "gold_clusters": len(set(gold)), "pred_clusters": len(set(pred)),
        "b3_precision": b3p, "b3_recall": b3r, "b3_f1": b3f,
        "pair_precision": pp, "pair_recall": pr, "pair_f1": pf,
        "ari": float(adjusted_rand_score(gold, pred)),
    }


def errors(gold: dict[str, str], pred: dict[str, str], limit: int,
           titles: dict[str, str] | None = None) -> dict[str, list[dict]]:
    """The ``limit`` worst wrong merges and splits over the ids in both. A wrong merge is a
    predicted cluster holding articles of more than one gold event, ranked by the B-cubed
    precision its articles lose (the share of their cluster that is another event's, over all
    articles); a split is a gold event spread over more than one cluster, ranked by the recall
    its articles lose. Articles are shown as their ids, or "id: title" where ``titles`` has one."""
    common = [i for i in gold if i in pred]
    n = len(common)
    by_cluster: dict[str, dict[str, list[str]]] = {}
    by_event: dict[str, dict[str, list[str]]] = {}
    for i in common:
        by_cluster.setdefault(pred[i], {}).setdefault(gold[i], []).append(i)
        by_event.setdefault(gold[i], {}).setdefault(pred[i], []).append(i)

    def shown(ids: list[str]) -> list[str]:
        return [f"{i}: {titles[i][:100]}" if titles and titles.get(i) else i for i in ids]

    def ranked(groups: dict[str, dict[str, list[str]]], key: str, parts: str, cost: str) -> list[dict]:
        out = []
        for name, members in groups.items():
            if len(members) < 2:
                continue
            size = sum(map(len, members.values()))
            lost = sum(len(m) * (1 - len(m) / size) for m in members.values()) / n
            out.append({key: name, "size": size, cost: round(lost, 4),
                        parts: {part: shown(ids) for part, ids in sorted(members.items(), key=lambda kv: -len(kv[1]))}})
        return sorted(out, key=lambda e: -e[cost])[:limit]

    return {"wrong_merges": ranked(by_cluster, "cluster_id", "events", "b3_precision_lost"),
            "splits": ranked(by_event, "event_id", "clusters", "b3_recall_lost")}


def read_labels(path: Path, field: str, required: bool = True) -> dict[str, str]:
    """``field`` of each line by id; a line without it is an error, or skipped if not ``required``."""
    labels: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if field not in record or "id" not in record:
                if not required:
                    continue
                raise ValueError(f"{path}:{number}: needs 'id' and '{field}'")
            labels[str(record["id"])] = str(record[field])
    return labels


def evaluate_files(gold_path: Path, pred_path: Path, error_limit: int = 0) -> dict:
    """Score ``cluster_id`` in PRED against ``event_id`` in GOLD over the ids both contain; with
    ``error_limit``, also the worst wrong merges and splits (:func:`errors`), titled from GOLD."""
    gold = read_labels(gold_path, "event_id")
    pred = read_labels(pred_path, "cluster_id")
    common = [i for i in gold if i in pred]
    result: dict = score([gold[i] for i in common], [pred[i] for i in common])
    result["missing_predictions"] = len(gold) - len(common)
    if error_limit:
        result.update(errors(gold, pred, error_limit, read_labels(gold_path, "title", required=False)))
    return result

