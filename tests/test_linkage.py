"""Average linkage with its two safeguards (:mod:`storyclust.linkage`), on small graphs whose right
answer is known: it does not chain, the dense and the sparse implementations agree, components
are clustered as each would be alone, and the loose-merge and lone-article checks undo exactly
the merges they are meant to."""

from __future__ import annotations

import numpy as np

from storyclust.linkage import average_linkage


def test_average_linkage_does_not_chain():
    """a-b and b-c are strong, a-c is not an edge: a chain that single linkage would join."""
    a, b, s = np.array([0, 1]), np.array([1, 2]), np.array([0.9, 0.8])
    labels = average_linkage(3, a, b, s, threshold=0.5)
    assert labels[0] == labels[1] != labels[2]
    assert len(set(average_linkage(3, np.array([0, 1, 0]), np.array([1, 2, 2]), np.array([0.9, 0.8, 0.6]), 0.5))) == 1


def test_dense_and_sparse_linkage_agree():
    """Small components use SciPy on a dense matrix, giant ones a sparse heap: same result, with
    and without undoing loose merges and lone joins. Groups of four score 0.75-1 inside; random pairs 0-1."""
    rng = np.random.default_rng(3)
    group = np.arange(120) // 4
    i, j = np.triu_indices(120, 1)
    a = np.concatenate([rng.integers(0, 120, 1500), i[group[i] == group[j]]])
    b = np.concatenate([rng.integers(0, 120, 1500), j[group[i] == group[j]]])
    keep = a < b
    key, first = np.unique(a[keep] * 120 + b[keep], return_index=True)
    a, b = a[keep][first], b[keep][first]
    s = np.where(group[a] == group[b], rng.uniform(0.75, 1, len(a)), rng.uniform(0, 1, len(a)))
    stories = []
    for split_ratio, lone_majority in ((0.0, False), (0.9, False), (0.9, True)):
        dense = average_linkage(120, a, b, s, 0.3, dense_limit=1000, split_ratio=split_ratio, lone_majority=lone_majority)
        sparse_ = average_linkage(120, a, b, s, 0.3, dense_limit=0, split_ratio=split_ratio, lone_majority=lone_majority)
        assert np.array_equal(dense, sparse_)
        stories.append(len(set(dense.tolist())))
    assert 1 < stories[0] < stories[1] < stories[2]


def test_components_are_clustered_as_each_would_be_alone():
    """The lone-article and loose-merge checks walk all components' merge trees as one forest
    (``linkage._forest``): three graphs whose nodes are interleaved in one numbering end as
    each does alone, with the tallies summed, on the dense and the sparse path."""
    rng = np.random.default_rng(7)
    graphs = []
    for n in (40, 9, 60):  # groups of three scoring 0.2-1 inside; 30% of the pairs across, 0-0.8
        group = np.arange(n) // 3
        i, j = np.triu_indices(n, 1)
        pick = (group[i] == group[j]) | (rng.random(len(i)) < 0.3)
        s = np.where(group[i] == group[j], rng.uniform(0.2, 1, len(i)), rng.uniform(0, 0.8, len(i)))
        graphs.append((n, i[pick], j[pick], s[pick]))
    total = sum(n for n, *_ in graphs)
    node_of = np.split(rng.permutation(total), np.cumsum([n for n, *_ in graphs])[:-1])  # interleaved
    a = np.concatenate([node_of[g][i] for g, (_, i, _, _) in enumerate(graphs)])
    b = np.concatenate([node_of[g][j] for g, (_, _, j, _) in enumerate(graphs)])
    s = np.concatenate([x for *_, x in graphs])
    for dense_limit in (1000, 0):
        together: dict[str, int] = {}
        labels = average_linkage(total, a, b, s, 0.3, dense_limit=dense_limit, split_ratio=0.9,
                                 lone_majority=True, tally=together)
        summed = {"undone_merges": 0, "lone_set_apart": 0}
        for g, (n, i, j, x) in enumerate(graphs):
            alone: dict[str, int] = {}
            own = average_linkage(n, i, j, x, 0.3, dense_limit=dense_limit, split_ratio=0.9,
                                  lone_majority=True, tally=alone)
            summed = {k: summed[k] + alone[k] for k in summed}
            mine = labels[node_of[g]]
            assert len(set(mine.tolist())) == len(set(own.tolist()))  # the same partition
            assert len(set(zip(mine.tolist(), own.tolist()))) == len(set(own.tolist()))
        assert together == summed and summed["undone_merges"] + summed["lone_set_apart"] > 0


def test_split_undoes_only_merges_of_groups_tighter_inside_than_across():
    """Two triangles of 0.9 joined by cross scores averaging 0.33: average linkage at 0.3 merges
    them; at split_ratio 0.44 the merge is undone (0.33 < 0.44 x 0.9). Looser triangles (0.55
    inside, 0.33 across: ratio 0.61) and a single article joining a group stay merged."""
    pairs = [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5)]
    across = [(x, y, 0.5) for x, y in ((0, 3), (1, 4), (2, 5), (0, 4), (1, 5), (2, 3))]  # 3.0 / 9 pairs
    tight, loose = [(x, y, 0.9) for x, y in pairs], [(x, y, 0.55) for x, y in pairs]
    lone = [(0, 1, 0.9), (0, 2, 0.9), (1, 2, 0.9), (0, 3, 0.5), (1, 3, 0.5)]  # 3 joins at 0.33
    for edges, n, stories in ((tight + across, 6, 2), (loose + across, 6, 1), (lone, 4, 1)):
        a, b, s = (np.array(column) for column in zip(*edges))
        assert len(set(average_linkage(n, a, b, s, 0.3).tolist())) == 1
        for dense_limit in (1000, 0):
            tally: dict[str, int] = {}
            labels = average_linkage(n, a, b, s, 0.3, dense_limit=dense_limit, split_ratio=0.44, tally=tally)
            assert len(set(labels.tolist())) == stories and tally["undone_merges"] == stories - 1


def test_an_undone_merge_under_one_that_holds_still_splits():
    """Two tight triangles (0.9 inside, 0.36 across: undone, 0.36 < 0.44 x 0.9), then a lone
    article joining their union at 0.35, a merge that holds (one side is a single article). The
    triangles stay apart and the lone article with neither, and the tally counts the undone
    merge: keeping everything under a merge that holds together scored worse on the dev sets'
    job graphs (``_split_groups``)."""
    triangles = [(x, y, 0.9) for x, y in ((0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5))]
    across = [(x, y, 0.36) for x in range(3) for y in range(3, 6)]
    joiner = [(x, 6, 0.35) for x in range(6)]
    a, b, s = (np.array(column) for column in zip(*(triangles + across + joiner)))
    assert len(set(average_linkage(7, a, b, s, 0.3).tolist())) == 1
    for dense_limit in (1000, 0):
        tally: dict[str, int] = {}
        labels = average_linkage(7, a, b, s, 0.3, dense_limit=dense_limit, split_ratio=0.44, tally=tally)
        assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2] and tally["undone_merges"] == 1


def test_a_lone_article_joins_only_a_group_it_mostly_links_with():
    """The seeds' job graph in miniature: 1-2 is one meeting (0.69); 0 scores 0.62 with 1 and
    0.10 with 2, so plain average linkage at 0.15 carries it in (0.36 on average). With
    ``lone_majority`` it links with one of two members, not most: 0.10 is below the threshold
    and below its 0.3 with article 3, outside the story. So it stays apart. Article 3 then joins
    1-2 (0.3 with each of them and with 0): a join that holds, so the group goes on up the tree
    without 0. Without article 3, 0's 0.10 with 2 is above anything it scores outside the story
    (nothing), and it joins."""
    edges = [(1, 2, 0.69), (0, 1, 0.62), (0, 2, 0.10), (0, 3, 0.3), (1, 3, 0.3), (2, 3, 0.3)]
    a, b, s = (np.array(column) for column in zip(*edges))
    assert len(set(average_linkage(4, a, b, s, 0.15, split_ratio=0.44).tolist())) == 1
    for dense_limit in (1000, 0):
        tally: dict[str, int] = {}
        labels = average_linkage(4, a, b, s, 0.15, dense_limit=dense_limit, split_ratio=0.44,
                                 lone_majority=True, tally=tally)
        assert labels.tolist() == [0, 1, 1, 1] and tally == {"undone_merges": 0, "lone_set_apart": 1}
    a, b, s = (np.array(column) for column in zip(*edges[:3]))
    assert len(set(average_linkage(3, a, b, s, 0.15, lone_majority=True).tolist())) == 1
    # the same with 0's score outside the story in another component (3-4, below the threshold)
    beyond = edges[:3] + [(0, 3, 0.12), (3, 4, 0.9)]
    a, b, s = (np.array(column) for column in zip(*beyond))
    assert average_linkage(5, a, b, s, 0.15, lone_majority=True).tolist() == [0, 1, 1, 2, 2]
    # linked with two of three members: it joins
    triangle = [(1, 2, 0.9), (1, 3, 0.9), (2, 3, 0.9), (0, 1, 0.6), (0, 2, 0.6), (0, 3, 0.05)]
    a, b, s = (np.array(column) for column in zip(*triangle))
    assert len(set(average_linkage(4, a, b, s, 0.15, lone_majority=True).tolist())) == 1
